#!/bin/bash
# SIGHUP reopens the log (logrotate), SIGTERM and SIGINT stop colod
# cleanly: exit 0, sockets removed, locks released.
. "$(dirname "$0")/lib.sh"

start_colod s || fail "colod did not start"
pid=$(colod_pid s)
LOG=$TMP/s/colod.log

step "SIGHUP reopens the log file"
mv "$LOG" "$LOG.1"
kill -HUP "$pid"
wait_for 5 test -f "$LOG" || fail "log not reopened after SIGHUP"
xl s params max-downtime=123 >/dev/null || fail "params"
wait_for 5 grep -q "PARAMETERS_CHANGED" "$LOG" || fail "new log gets no messages"
grep -q "SIGHUP" "$LOG.1" || fail "old log lacks the SIGHUP line"
! dead "$pid" || fail "colod died on SIGHUP"

step "SIGTERM in the foreground exits 0"
kill -TERM "$pid"
wait_for 10 dead $pid || fail "no exit on SIGTERM"
"$COLOD" --foreground --state-dir "$TMP/s/state" --run-dir "$TMP/s/run" \
	--log "file:$LOG" &
fg=$!
CHILD_PIDS+=("$fg")
wait_for 10 xl s info || fail "foreground colod not answering"
kill -TERM "$fg"
wait "$fg"
rc=$?
[ "$rc" -eq 0 ] || fail "foreground colod exited $rc on SIGTERM"
[ ! -e "$TMP/s/run/colod.ctl" ] || fail "socket left behind"

step "SIGINT too"
"$COLOD" --foreground --state-dir "$TMP/s/state" --run-dir "$TMP/s/run" \
	--log "file:$LOG" &
fg=$!
CHILD_PIDS+=("$fg")
wait_for 10 xl s info || fail "foreground colod not answering"
kill -INT "$fg"
wait "$fg" || fail "exit $? on SIGINT"

step "state survived the restarts"
start_colod s || fail "restart"
expect_rc 0 xl s params
contains "$OUT" "max-downtime           : 123"
echo ok
