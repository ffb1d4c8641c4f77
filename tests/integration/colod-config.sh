#!/bin/bash
# colod.conf and options: values are applied with the documented
# precedence, and every bad file is refused with file:line.
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3
C=$TMP/colod.conf

bad_conf() {
	printf '%b' "$1" >"$C"
	expect_rc 2 "$COLOD" --config "$C" --state-dir "$TMP/b/state" --run-dir "$TMP/b/run"
	contains "$ERR" "$2"
	[ ! -e "$TMP/b/run/colod.ctl" ] || fail "colod started with a bad config"
}

step "bad files"
bad_conf '# c\nstate_dir = /x\nbogus_key = 1\n' "$C:3: unknown key 'bogus_key'"
bad_conf 'checkpoint_interval = 5\n' "$C:1: checkpoint_interval must be an integer from 10 to 3600000, not '5'"
bad_conf '\n\nauto_failover = perhaps\n' "$C:3: auto_failover must be yes or no"
bad_conf 'log_level = loud\n' "$C:1: log_level must be"
bad_conf 'log_target = file:relative\n' "$C:1: log_target must be"
bad_conf 'run_dir = relative/dir\n' "$C:1: directory must be an absolute path"
bad_conf 'heartbeat_misses\n' "$C:1: expected 'key = value'"
bad_conf 'max_downtime = "300\n' "$C:1: badly quoted value"
expect_rc 2 "$COLOD" --config "$TMP/missing.conf"
contains "$ERR" "$TMP/missing.conf: No such file or directory"
expect_rc 2 "$COLOD" --bogus-option
expect_rc 2 "$COLOD" --log-level loud
expect_rc 0 "$COLOD" --help
contains "$OUT" "--state-dir"

step "a good file, overridden by the command line"
mkdir -p "$TMP/g"
cat >"$C" <<CONF
# colod.conf for the test
state_dir = $TMP/g/state-from-conf
run_dir = "$TMP/g/run"
log_level = debug
log_target = file:$TMP/g/colod.log
checkpoint_interval = 700
heartbeat_misses = 5
auto_failover = no
CONF
"$COLOD" --config "$C" --state-dir "$TMP/g/state" || fail "colod with good conf"
expect_rc 0 xl g info
contains "$OUT" "state_dir              : $TMP/g/state"
expect_rc 0 xl g params
contains "$OUT" "checkpoint-interval    : 700"
contains "$OUT" "heartbeat-misses       : 5"
contains "$OUT" "auto-failover          : no"
grep -q "ready" "$TMP/g/colod.log" || fail "log_target ignored"
[ ! -e "$TMP/g/state-from-conf" ] || fail "the command line did not override state_dir"

step "a live change outlives the file's value"
expect_rc 0 xl g params checkpoint-interval=900
kill -TERM "$(colod_pid g)"
sleep 0.5
"$COLOD" --config "$C" --state-dir "$TMP/g/state" || fail "restart"
expect_rc 0 xl g params
contains "$OUT" "checkpoint-interval    : 900"
contains "$OUT" "heartbeat-misses       : 5"

step "a relative state directory"
mkdir -p "$TMP/rel"
(cd "$TMP/rel" && "$COLOD" --state-dir st --run-dir rn) || fail "relative dirs"
expect_rc 0 env COLO_RUN_DIR="$TMP/rel/rn" "$XL" info
contains "$OUT" "state_dir              : $TMP/rel/st"
kill -TERM "$(cat "$TMP/rel/rn/colod.pid")"

step "a database from a newer colod is refused"
mkdir -p "$TMP/n/state"
sqlite3 "$TMP/n/state/colod.db" "PRAGMA user_version = 42"
expect_rc 1 "$COLOD" --foreground --state-dir "$TMP/n/state" --run-dir "$TMP/n/run"
contains "$ERR" "schema version 42 is newer than this colod understands"
[ "$(sqlite3 "$TMP/n/state/colod.db" 'PRAGMA user_version')" = 42 ] ||
	fail "the newer database was modified"

step "a file that is not a database is refused"
mkdir -p "$TMP/j/state"
head -c 8192 /dev/urandom >"$TMP/j/state/colod.db"
expect_rc 1 "$COLOD" --foreground --state-dir "$TMP/j/state" --run-dir "$TMP/j/run"
contains "$ERR" "colod.db"
echo ok
