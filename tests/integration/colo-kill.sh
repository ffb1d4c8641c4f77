#!/bin/bash
# SIGKILL during COLO, 23 trials on the two-host topology, each with a
# freshly protected guest in dirty mode (checkpoints every 200 ms):
#  - 14 trials kill the primary helper at each phase of the checkpoint
#    transaction (request, paused, snapshot, send, sent, received,
#    loaded), twice each, through the helper's COLO_TEST_KILL_FILE knob;
#  - 6 trials kill it from outside at a random moment;
#  - 3 trials kill the secondary helper at a random moment.
# A dead primary: B takes over within heartbeat-interval x misses +
# 500 ms of the death, emits COLO_EXIT mode=secondary, and its guest
# runs on with its self-check clean.  A dead secondary: A carries on
# alone, emits COLO_EXIT mode=primary, and its guest never stopped for
# longer than the heartbeat timeout (the guest's own max-gap-us).
COLO_PAIR_MANUAL=1
. "$(dirname "$0")/colo-pair.sh"
LIMIT_MS=$((100 * 3 + 500))	# the default heartbeat, plus 500 ms
HB_TIMEOUT_US=$((100 * 3 * 1000))
times=()

helper_pid() { db "$1" "SELECT helper_pid FROM domains WHERE name='web'"; }
failover_of() { COLO_RUN_DIR=$TMP/$1/run $XL colo status web | sed -n 's/^failover *: //p'; }
exits() { db "$1" "SELECT count(*) FROM event_log WHERE event LIKE
	'%\"COLO_EXIT\",\"data\":{\"domain\":\"web\",\"mode\":\"$2\"%'"; }
now_ns() { date +%s%N; }

# wait_dead PID: returns the time of death (ns) once PID is gone.
wait_dead() {
	local i
	for ((i = 0; i < 2000; i++)); do
		dead "$1" && { now_ns; return 0; }
		sleep 0.005
	done
	fail "pid $1 never died"
}

# wait_completed NODE: the time (ns) NODE's failover status reads completed.
wait_completed() {
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(failover_of "$1")" = completed ] && { now_ns; return 0; }
		sleep 0.01
	done
	fail "$1 never completed failover: $(xl "$1" colo status web)"
}

# guest_runs_clean CONSOLE FROM_LINE: two new progress lines after
# FROM_LINE and no failed self-check since it.
guest_runs_clean() {
	local con=$1 from=$2
	wait_for 20 bash -c "[ \$(tail -n +$from $con | grep -c 'DIRTY written') -ge 2 ]" ||
		fail "the guest stopped: $(tail -n 3 "$con")"
	! tail -n +"$from" "$con" | grep -q "GUEST-CHECK FAIL" ||
		fail "$(tail -n +"$from" "$con" | grep GUEST-CHECK | head -3)"
}

teardown() {
	xl b destroy web >/dev/null 2>&1
	wait_for 10 bash -c "! COLO_RUN_DIR=$TMP/a/run $XL list web >/dev/null 2>&1 ||
		COLO_RUN_DIR=$TMP/a/run $XL destroy web >/dev/null 2>&1"
	xl a destroy web >/dev/null 2>&1
	rm -f "$COLO_TEST_KILL_FILE"
}

# kill_primary HOW: HOW is "PHASE SEQ" for the knob, or "random".
kill_primary() {
	local how=$1 pid t0 t1 ms nb e0
	if [ "$how" != random ]; then
		echo "$how" >"$COLO_TEST_KILL_FILE"
	fi
	nb=$(($(cat "$CB" 2>/dev/null | wc -l) + 1))
	e0=$(exits b secondary)
	colo_up
	pid=$(helper_pid a)
	if [ "$how" = random ]; then
		sleep "0.$((RANDOM % 600 + 300))"
		kill -9 "$pid"
	fi
	t0=$(wait_dead "$pid")
	t1=$(wait_completed b)
	ms=$(((t1 - t0) / 1000000))
	times+=("$ms")
	[ "$ms" -le "$LIMIT_MS" ] || fail "$how: takeover took $ms ms (limit $LIMIT_MS)"
	[ "$(exits b secondary)" -gt "$e0" ] || fail "$how: no COLO_EXIT mode=secondary on B"
	[ "$how" = random ] || grep -q "test: SIGKILL at ${how% *} of checkpoint ${how#* }$" "$TMP/a/state/log/web.log" ||
		fail "$how: the helper did not die where it was told"
	guest_runs_clean "$CB" "$nb"
	printf '   %-12s takeover %4d ms after the death\n' "$how" "$ms"
	teardown
}

kill_secondary() {
	local pid na e0 gaps max
	e0=$(exits a primary)
	colo_up
	pid=$(helper_pid b)
	sleep "0.$((RANDOM % 600 + 300))"
	# The first progress line after this covers the kill: it reports
	# the longest stop since the line before.
	na=$(($(wc -l <"$CA") + 1))
	kill -9 "$pid"
	wait_dead "$pid" >/dev/null
	wait_completed a >/dev/null
	[ "$(exits a primary)" -gt "$e0" ] || fail "no COLO_EXIT mode=primary on A"
	expect_rc 0 xl a colo status web
	contains "$OUT" "last-mode              : primary"
	guest_runs_clean "$CA" "$na"
	gaps=$(tail -n +"$na" "$CA" | sed -n 's/.*max-gap-us \([0-9]*\).*/\1/p')
	max=$(echo "$gaps" | sort -n | tail -1)
	[ "${max:-0}" -gt 0 ] && [ "$max" -lt "$HB_TIMEOUT_US" ] ||
		fail "the primary's guest stopped for ${max:-?} us (limit $HB_TIMEOUT_US)"
	printf '   secondary killed: the primary went on; longest stop %d us\n' "$max"
	teardown
}

step "SIGKILL the primary helper at every phase of the transaction, twice"
for phase in request paused snapshot send sent received loaded; do
	for seq in 4 6; do
		kill_primary "$phase $seq"
	done
done

step "SIGKILL the primary helper at random moments"
for i in 1 2 3 4 5 6; do
	kill_primary random
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "   takeover ms over ${#times[@]} trials: min $(echo "$sorted" | head -1)," \
	"median $(echo "$sorted" | sed -n "$(( (${#times[@]} + 1) / 2 ))p"), max $(echo "$sorted" | tail -1)"

step "SIGKILL the secondary helper: the primary carries on"
for i in 1 2 3; do
	kill_secondary
done
step "failover on the primary: B stands by, paused, until its peer is lost"
colo_up
nb=$(($(wc -l <"$CB") + 1))
expect_rc 0 xl a failover web
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/b/run $XL colo status web | grep -q '^standby'" ||
	fail "B does not stand by: $(xl b colo status web)"
expect_rc 0 xl b colo status web
contains "$OUT" "mode                   : secondary"
contains "$OUT" "reason                 : error"
contains "$OUT" "failover               : none"
contains "$OUT" "the primary stopped COLO and carries on alone"
[ "$(exits b secondary)" -ge 1 ] || fail "no COLO_EXIT on B"
wait_for 5 bash -c "COLO_RUN_DIR=$TMP/b/run $XL list web | grep -q -- '--p---'" ||
	fail "B's VM is not paused: $(xl b list)"
# A's colod heartbeats on: no takeover, however long we wait.
sleep 1.5
[ "$(failover_of b)" = none ] || fail "B took over while A lives"
ip netns pids "$A" | xargs -r kill -9
wait_completed b >/dev/null
expect_rc 0 xl b list web
echo "$OUT" | grep -Eq '^web .* r----- ' || fail "B is not running: $OUT"
guest_runs_clean "$CB" "$nb"
echo "   B stood by while A lived, and took over once A was gone"
echo ok
