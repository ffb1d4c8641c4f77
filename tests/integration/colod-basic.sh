#!/bin/bash
# colod + colo-xl end to end: info, list, colo status, events caused by
# commands, failover bookkeeping, exit codes and prefix matching.
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3

step "start colod"
start_colod a || fail "colod did not start"
pid=$(colod_pid a)
! dead "$pid" || fail "colod pid $pid not running"

step "info"
expect_rc 0 xl a info
contains "$OUT" "state_dir              : $TMP/a/state"
contains "$OUT" "domains                : 0"
contains "$OUT" "db_schema              : 3"
expect_rc 0 xl a --json info
contains "$OUT" "\"run-dir\": \"$TMP/a/run\""

step "-v shows the request and the reply"
expect_rc 0 xl a -v info
echo "$ERR" | grep -Eq '^-> \{.*"execute":"[a-z-]+"' ||
	fail "-v printed no request: $ERR"
echo "$ERR" | grep -q '^<- {.*"return"' || fail "-v printed no reply: $ERR"
contains "$OUT" "domains                : 0"
expect_rc 0 xl a info
[ -z "$ERR" ] || fail "without -v, info wrote to stderr: $ERR"

step "list with no domains"
expect_rc 0 xl a list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "list should print only a header: $OUT"
contains "$OUT" "Name"
contains "$OUT" "Time(s)"
contains "$OUT" "COLO"

step "colo status of a missing domain"
expect_rc 1 xl a colo status nosuch
contains "$ERR" "domain 'nosuch' not found (DomainNotFound)"
expect_rc 1 xl a --json colo status nosuch
contains "$OUT" '"class": "DomainNotFound"'

step "domains known to colod"
seed_domain a web 1 primary
seed_domain a plain 2 unknown
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web +1 +256 +1 +r----- +0\.0  primary$' ||
	fail "web row wrong: $OUT"
echo "$OUT" | grep -Eq '^plain +2 +256 +1 +r----- +0\.0  -$' ||
	fail "plain row wrong: $OUT"
expect_rc 0 xl a list plain
[ "$(echo "$OUT" | wc -l)" -eq 2 ] || fail "list plain: $OUT"
expect_rc 1 xl a list nosuch
expect_rc 0 xl a colo status web
contains "$OUT" "mode                   : primary"
contains "$OUT" "failover               : none"

step "failover on a domain not in COLO mode"
expect_rc 1 xl a failover plain
contains "$ERR" "domain 'plain' is not in COLO mode (InvalidState)"

step "events caused by a command"
xl a events -n 4 -w 10000 >"$TMP/events" 2>"$TMP/events.err" &
ev=$!
CHILD_PIDS+=("$ev")
wait_for 10 grep -q "following events" "$TMP/events.err" ||
	fail "events did not subscribe: $(cat "$TMP/events.err")"
expect_rc 0 xl a failover web
contains "$OUT" "web: failover completed"
wait "$ev" || fail "events exited $?: $(cat "$TMP/events.err")"
grep -c '"event":"FAILOVER_STATUS"' "$TMP/events" | grep -qx 3 ||
	fail "want 3 FAILOVER_STATUS: $(cat "$TMP/events")"
grep -q '"event":"COLO_EXIT","data":{"domain":"web","mode":"primary","reason":"request"}' \
	"$TMP/events" || fail "no COLO_EXIT: $(cat "$TMP/events")"
# The order is the order of the transitions.
grep -o '"status":"[a-z]*"' "$TMP/events" | tr '\n' ' ' |
	grep -q '"status":"require" "status":"active" "status":"completed"' ||
	fail "transitions out of order: $(cat "$TMP/events")"
grep -q '"timestamp":{"seconds":[0-9]*,"microseconds":[0-9]*}' "$TMP/events" ||
	fail "events lack timestamps"

step "status after failover (and unambiguous prefixes)"
expect_rc 2 xl a co st web
contains "$ERR" "'co' is ambiguous; it could be: colo console"
expect_rc 2 xl a col stat web
contains "$ERR" "'stat' is ambiguous; it could be: status stats"
expect_rc 0 xl a col statu web
contains "$OUT" "mode                   : unknown"
contains "$OUT" "last-mode              : primary"
contains "$OUT" "reason                 : request"
contains "$OUT" "failover               : completed"
expect_rc 1 xl a failover web
contains "$ERR" "InvalidState"

step "filtered events and params"
xl a events -n 1 -w 10000 PARAMETERS_CHANGED >"$TMP/ev2" 2>"$TMP/ev2.err" &
ev=$!
CHILD_PIDS+=("$ev")
wait_for 10 grep -q "following events" "$TMP/ev2.err" || fail "no subscription"
expect_rc 0 xl a params checkpoint-interval=300 auto-failover=no
contains "$OUT" "checkpoint-interval    : 300"
contains "$OUT" "auto-failover          : no"
wait "$ev" || fail "PARAMETERS_CHANGED not seen"
contains "$(cat "$TMP/ev2")" '"checkpoint-interval":300'
[ "$(db a "SELECT value FROM parameters WHERE key='checkpoint-interval'")" = 300 ] ||
	fail "parameter not stored"
expect_rc 2 xl a events NOT_AN_EVENT

step "dry run sends nothing"
expect_rc 0 xl a -N params checkpoint-interval=999
contains "$OUT" '"execute":"set-parameters"'
contains "$OUT" '"checkpoint-interval":999'
expect_rc 0 xl a params
contains "$OUT" "checkpoint-interval    : 300"
expect_rc 2 xl a -N info

step "usage errors exit 2"
expect_rc 2 xl a nosuchcommand
expect_rc 2 xl a colo
expect_rc 2 xl a colo status
expect_rc 2 xl a colo status a b
expect_rc 2 xl a list --bogus
expect_rc 2 xl a params notanassignment
expect_rc 2 xl a params nosuchkey=1
expect_rc 2 "$XL"
expect_rc 0 xl a help
contains "$OUT" "colo status"
expect_rc 0 xl a failover --help
contains "$OUT" "Usage: colo-xl failover DOM"
expect_rc 0 xl a help colo status
contains "$OUT" "Usage: colo-xl colo status DOM"

step "no colod"
expect_rc 1 env COLO_RUN_DIR="$TMP/none" "$XL" info
contains "$ERR" "is colod running?"

step "clean stop"
kill -TERM "$pid"
wait_for 10 dead $pid || fail "colod did not exit on SIGTERM"
[ ! -e "$TMP/a/run/colod.ctl" ] || fail "control socket left behind"
echo "ok"
