#!/bin/bash
# The peer link secured with CURVE keys from colo-xl keygen (colod.conf(5)):
# colod refuses unsafe key settings, two colods with each other's keys
# put a guest into COLO over the secured link and keep heartbeats up, a
# client without keys gets nothing, and a colod whose key the peer does
# not know is refused and logged.
KD=$(mktemp -d /tmp/colo-curve.XXXXXX)
: "${TOP_BUILDDIR:?run through tests/run-tests.sh or set TOP_BUILDDIR}"
# keypair HOST: colo-xl keygen's two lines, split into sec.HOST and pub.HOST.
keypair() {
	"$TOP_BUILDDIR/colo-xl" keygen >"$KD/keygen.$1" || exit 1
	sed -n 's/^curve_secret_key = //p' "$KD/keygen.$1" >"$KD/sec.$1"
	sed -n 's/^curve_peer_public_key = //p' "$KD/keygen.$1" >"$KD/pub.$1"
}
keypair a
keypair b
keypair c
for h in a b c; do
	peer=$([ $h = b ] && echo a || echo b)
	printf 'curve_secret_key = %s\ncurve_peer_public_key = %s\n' \
		"$(cat "$KD/sec.$h")" "$(cat "$KD/pub.$peer")" >"$KD/$h.conf"
	chmod 600 "$KD/$h.conf"
done
COLO_PAIR_MANUAL=1 COLO_PAIR_CONF=$KD
. "$(dirname "$0")/colo-pair.sh"
trap 'ns_cleanup; cleanup; rm -rf "$KD"' EXIT

step "keygen: Z85 keys, fresh each time, also as JSON"
[ "$(wc -c <"$KD/sec.a")" -eq 41 ] && [ "$(wc -c <"$KD/pub.a")" -eq 41 ] ||
	fail "$(cat "$KD/keygen.a")"
[ "$(cat "$KD/sec.a")" != "$(cat "$KD/sec.b")" ] || fail "the same key twice"
expect_rc 0 "$XL" -j keygen
contains "$OUT" '"public-key"'

step "colod refuses unsafe or half CURVE settings"
bad() {	# NAME CONTENT MODE EXPECTED
	printf '%s\n' "$2" >"$KD/$1"
	chmod "$3" "$KD/$1"
	expect_rc 2 "$COLOD" --config "$KD/$1" --state-dir "$TMP/bad/state" \
		--run-dir "$TMP/bad/run" --log stderr
	contains "$ERR" "$4"
}
bad lax.conf "$(cat "$KD/a.conf")" 644 "may read it (mode 0644); chmod 600 it"
bad half.conf "curve_secret_key = $(cat "$KD/sec.a")" 600 \
	"half.conf:1: curve_secret_key and curve_peer_public_key must be set together"
bad short.conf "curve_secret_key = $(cat "$KD/sec.a")
curve_peer_public_key = tooshort" 600 \
	"short.conf:2: the peer's public key is not a Z85 CURVE key"
[ ! -e "$TMP/bad/run/colod.pid" ] || fail "a colod started"

step "COLO over the secured link"
colo_up
wait_for 10 bash -c "[ \$(COLO_RUN_DIR=$TMP/a/run $XL colo status web |
	sed -n 's/^checkpoints *: //p') -ge 5 ]" || fail "no checkpoints: $(xl a colo status web)"
sleep 2	# heartbeats must keep flowing both ways: no failover
xl a colo status web | grep -q 'failover *: none' || fail "A: $(xl a colo status web)"
xl b colo status web | grep -q 'failover *: none' || fail "B: $(xl b colo status web)"

step "a client without keys gets no answer"
expect_rc 3 ip netns exec "$A" "$CTL_RAW" -t 1500 tcp://198.51.100.2:7788 \
	'{"execute":"query-status","id":1}'

step "a colod with a key that B does not know is refused"
mkdir -p "$TMP/c"
ip netns exec "$A" "$COLOD" --state-dir "$TMP/c/state" --run-dir "$TMP/c/run" \
	--log "file:$TMP/c/colod.log" --peer-listen 198.51.100.1:7789 \
	--config "$KD/c.conf" || fail "colod c"
sed 's/<name>web</<name>intruder</' "$TMP/web.xml" >"$TMP/intruder.xml"
expect_rc 0 xl c create "$TMP/intruder.xml"
expect_rc 1 xl c migrate intruder 198.51.100.2
contains "$ERR" "no reply to x-peer-hello from tcp://198.51.100.2:7788 within 5000 ms: is the peer colod up, with curve_peer_public_key set to our public key?"
wait_for 5 grep -q "peer link: refused" "$TMP/b/colod.log" || fail "B did not log the refusal"
xl b list | grep -q '^intruder' && fail "the intruder reached B"
xl c destroy intruder >/dev/null

step "the secured pair still fails over: kill A's helper"
kill -9 "$(db a "SELECT helper_pid FROM domains WHERE name='web'")"
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/b/run $XL colo status web | grep -q 'failover *: completed'" ||
	fail "no takeover: $(xl b colo status web)"
! grep -q "GUEST-CHECK FAIL" "$CB" || fail "self-check"
echo ok
