#!/bin/bash
# SIGKILL colod in the middle of a failover, at every step of it and at
# random moments.  Each time the database on disk must be consistent, and
# a restarted colod must finish the failover exactly once.
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3
LOG=$TMP/c/colod.log

reset_domain() {
	db c "UPDATE domains SET colo_mode = '$1', colo_last_mode = 'unknown',
		colo_exit_reason = 'none', failover_status = 'none',
		failover_reason = 'none', migration_status = 'colo'
		WHERE name = 'vm'; DELETE FROM event_log;"
}

# The raw file, as the crash left it.
check_on_disk() {
	local mode=$1 row st exits steps
	[ "$(db c 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
	row=$(db c "SELECT failover_status, colo_mode, colo_last_mode,
		colo_exit_reason FROM domains WHERE name = 'vm'")
	st=${row%%|*}
	exits=$(db c "SELECT count(*) FROM event_log WHERE name = 'COLO_EXIT'")
	steps=$(db c "SELECT count(*) FROM event_log WHERE name = 'FAILOVER_STATUS'")
	case $st in
	none) want="none|$mode|unknown|none" ; wexits=0 wsteps=0 ;;
	require) want="require|$mode|unknown|none" ; wexits=0 wsteps=1 ;;
	active) want="active|$mode|unknown|none" ; wexits=0 wsteps=2 ;;
	completed) want="completed|unknown|$mode|request" ; wexits=1 wsteps=3 ;;
	*) fail "impossible failover status '$st'" ;;
	esac
	[ "$row" = "$want" ] || fail "inconsistent row after crash: $row (want $want)"
	[ "$exits" = "$wexits" ] || fail "$exits COLO_EXIT events at status $st"
	[ "$steps" = "$wsteps" ] || fail "$steps FAILOVER_STATUS events at status $st"
	SEEN[$st]=1
	CRASH_STATUS=$st
}

# After a restart: finished exactly once, or never started.
check_recovered() {
	local mode=$1 row exits
	start_colod c || fail "colod did not restart"
	if [ "$CRASH_STATUS" = none ]; then
		want="none|$mode|unknown|none"
	else
		want="completed|unknown|$mode|request"
	fi
	row=$(db c "SELECT failover_status, colo_mode, colo_last_mode,
		colo_exit_reason FROM domains WHERE name = 'vm'")
	[ "$row" = "$want" ] || fail "after restart: $row (want $want)"
	expect_rc 0 xl c colo status vm
	contains "$OUT" "failover               : ${want%%|*}"
	exits=$(db c "SELECT count(*) FROM event_log WHERE name = 'COLO_EXIT'")
	[ "$exits" = "$([ "$CRASH_STATUS" = none ] && echo 0 || echo 1)" ] ||
		fail "COLO_EXIT recorded $exits times"
	grep -q "finishing failover interrupted at '$CRASH_STATUS'" "$LOG" ||
		[ "$CRASH_STATUS" = none ] || [ "$CRASH_STATUS" = completed ] ||
		fail "recovery not logged"
	kill -9 "$(colod_pid c)"
	wait_for 5 dead $(colod_pid c)
}

# trial MODE MARKER|SLEEP: failover with delays, SIGKILL at the marker.
trial() {
	local mode=$1 when=$2 pid
	reset_domain "$mode"
	: >"$LOG"
	COLOD_TEST_TRANSITION_DELAY_MS=250 start_colod c || fail "start"
	pid=$(colod_pid c)
	xl c failover vm >/dev/null 2>&1 &
	CHILD_PIDS+=($!)
	case $when in
	sleep:*) sleep "${when#sleep:}" ;;
	*) wait_for 10 grep -q "$when" "$LOG" || fail "marker '$when' not logged" ;;
	esac
	kill -9 "$pid"
	wait_for 5 dead $pid || fail "colod survived SIGKILL"
	check_on_disk "$mode"
	echo "   killed at '$when': on disk '$CRASH_STATUS'"
	check_recovered "$mode"
}

declare -A SEEN
mkdir -p "$TMP/c"
start_colod c || fail "colod did not start"
seed_domain c vm 1 primary
kill -9 "$(colod_pid c)"

step "kill at each step"
trial primary "failover none -> require"
trial primary "failover require -> active"
trial primary "test delay 250 ms before failover completed"
trial primary "failover completed; was"
trial secondary "failover require -> active"
trial secondary "test delay 250 ms before failover completed"

step "kill at random moments"
for i in $(seq 20); do
	ms=$((RANDOM % 1000))
	trial primary "sleep:$(printf '0.%03d' "$ms")"
done

for st in require active completed; do
	[ -n "${SEEN[$st]:-}" ] || fail "no trial stopped colod at '$st'"
done
echo ok
