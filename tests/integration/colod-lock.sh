#!/bin/bash
# Two colods must never share a state directory (or a run directory):
# the second refuses with a clear message and the first is unharmed.
. "$(dirname "$0")/lib.sh"

start_colod l || fail "first colod did not start"
pid=$(colod_pid l)

step "same state and run directories"
expect_rc 1 "$COLOD" --state-dir "$TMP/l/state" --run-dir "$TMP/l/run"
contains "$ERR" "state directory $TMP/l/state is in use by another colod (pid $pid)"

step "same state directory, other run directory"
expect_rc 1 "$COLOD" --state-dir "$TMP/l/state" --run-dir "$TMP/other-run"
contains "$ERR" "in use by another colod (pid $pid)"

step "same run directory, other state directory"
expect_rc 1 "$COLOD" --state-dir "$TMP/other-state" --run-dir "$TMP/l/run"
contains "$ERR" "run directory $TMP/l/run is in use by another colod (pid $pid)"

step "the same in the foreground"
expect_rc 1 "$COLOD" --foreground --state-dir "$TMP/l/state" --run-dir "$TMP/x"
contains "$ERR" "in use by another colod"

step "the first colod still owns its sockets and answers"
[ -S "$TMP/l/run/colod.ctl" ] || fail "control socket was removed"
[ -S "$TMP/l/run/colod.events" ] || fail "event socket was removed"
[ "$(colod_pid l)" = "$pid" ] || fail "pid file overwritten"
expect_rc 0 xl l info
contains "$OUT" "state_dir              : $TMP/l/state"

step "after the first stops, a new one starts"
kill -TERM "$pid"
wait_for 10 dead $pid || fail "no exit on SIGTERM"
start_colod l || fail "restart refused after a clean stop"
step "and after a SIGKILL too (the kernel drops the lock)"
kill -9 "$(colod_pid l)"
sleep 0.2
start_colod l || fail "restart refused after SIGKILL"
expect_rc 0 xl l info
echo ok
