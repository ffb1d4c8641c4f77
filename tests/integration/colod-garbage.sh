#!/bin/bash
# Garbage on colod's control socket: each malformed request gets an error
# reply of the right class, colod keeps answering, and the database is
# byte-for-byte what it was (nothing written).
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3

start_colod g || fail "colod did not start"
seed_domain g vm 1 primary
pid=$(colod_pid g)
EP=$(ctl_ep g)
snapshot() { db g .dump | sha256sum; }
before=$(snapshot)

# send CLASS PAYLOAD: the reply must be an error of CLASS.
send() {
	local want=$1 payload=$2 reply
	reply=$("$CTL_RAW" -t 10000 "$EP" "$payload") || fail "no reply to: $payload"
	case $reply in
	*'"error":{"class":"'"$want"'"'*) ;;
	*) fail "wanted $want for '$payload', got: $reply" ;;
	esac
	# colod still answers a real request after each one.
	xl g info >/dev/null || fail "colod stopped answering after: $payload"
}

step "not JSON"
send ParseError 'this is not json'
send ParseError '{"execute": "query-version"'
send ParseError "$(printf '{"execute":"\xff\xfe"}')"
# The parse error quotes the bytes it choked on, which are not UTF-8:
# the reply must still be valid JSON (libFuzzer found colod sending none).
send ParseError "$(printf '{"execute":"bloc\\\xd2\x8dry"}')"
send ParseError '{"execute":"query-version","execute":"query-version"}'
send ParseError "$(head -c 100000 /dev/zero | tr '\0' '[')"
step "binary noise"
head -c 4096 /dev/urandom >"$TMP/noise"
reply=$("$CTL_RAW" "$EP" - <"$TMP/noise") || fail "no reply to noise"
contains "$reply" '"class":"ParseError"'

step "not a request"
send InvalidRequest '[1,2,3]'
send InvalidRequest '{}'
send InvalidRequest '{"execute": 42}'
send InvalidRequest '{"execute": "query-version", "arguments": [1]}'
send InvalidRequest '{"execute": "query-version", "bogus": 1}'

step "unknown command"
send CommandNotFound '{"execute": "no-such-command"}'
send CommandNotFound '{"execute": ""}'

step "wrong argument types"
send InvalidParameter '{"execute":"query-colo-status","arguments":{"domain":5}}'
send InvalidParameter '{"execute":"query-colo-status","arguments":{"domain":null}}'
send InvalidParameter '{"execute":"set-parameters","arguments":{"checkpoint-interval":"fast"}}'
send InvalidParameter '{"execute":"set-parameters","arguments":{"auto-failover":1}}'
send InvalidParameter '{"execute":"set-parameters","arguments":{"heartbeat-misses":1.5}}'
send InvalidParameter '{"execute":"query-version","arguments":{"extra":true}}'
step "values out of range change nothing"
send InvalidParameter '{"execute":"set-parameters","arguments":{"checkpoint-interval":100,"heartbeat-misses":0}}'
send InvalidParameter '{"execute":"set-parameters","arguments":{"checkpoint-interval":-1}}'
send InvalidParameter '{"execute":"set-parameters","arguments":{"max-downtime":9223372036854775807}}'

step "missing required argument"
send MissingParameter '{"execute":"query-colo-status"}'
send MissingParameter '{"execute":"x-colo-lost-heartbeat","arguments":{}}'

step "10 MB message"
reply=$("$CTL_RAW" -t 20000 -s 10485760 "$EP") || fail "no reply to 10 MB"
contains "$reply" '"class":"TooLarge"'
xl g info >/dev/null || fail "colod stopped answering after 10 MB"

step "100 MB message: dropped by the transport, colod lives"
"$CTL_RAW" -t 3000 -s 104857600 "$EP" >/dev/null 2>&1
! dead "$pid" || fail "colod died on 100 MB"
xl g info >/dev/null || fail "colod stopped answering after 100 MB"

step "ids survive into error replies"
reply=$("$CTL_RAW" "$EP" '{"execute":"nope","id":{"x":[1,2]}}')
contains "$reply" '"id":{"x":[1,2]}'

step "database untouched"
after=$(snapshot)
[ "$before" = "$after" ] || fail "the database changed"
[ "$(db g 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
! dead "$pid" || fail "colod died"
expect_rc 0 xl g colo status vm
contains "$OUT" "mode                   : primary"
echo ok
