#!/bin/bash
# The demo guest's reply to a write waits for its log flush (an NBD proxy
# holds the flush back), and its TCP with real clients: a reply lost on
# the wire is retransmitted, a 30000-byte value goes both ways intact,
# also to a client whose MSS is 536, a closed port refuses, and INCRs
# over a lossy link (where netem exists) all count once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/demo-lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd redis-cli
need_cmd qemu-nbd
need_cmd python3
need_cmd tc
trap 'ns_cleanup; cleanup' EXIT
HOLD=$TMP/hold
PLOG=$TMP/nbd-hold.log

demo_setup
# The disk goes through the proxy: while $HOLD exists, flushes wait.
DISK_SOCK=$TMP/hold.sock
python3 "$TOP_SRCDIR/tests/tools/nbd-hold.py" "$DISK_SOCK" "$TMP/nbd.sock" \
	"$HOLD" >"$PLOG" 2>&1 &
CHILD_PIDS+=($!)
wait_for 10 test -S "$DISK_SOCK" || fail "nbd-hold.py: $(cat "$PLOG")"
domain web kv >"$TMP/web.xml"
# rcli_t SECONDS ARGS...: redis-cli, killed after SECONDS (exit 124).
rcli_t() { local t=$1; shift; in_client timeout "$t" redis-cli -h "$GUEST" "$@"; }
forwarded() { grep -c ' forwarded$' "$PLOG"; }
# held: the proxy's last word is a flush it holds.
held() { tail -n 1 "$PLOG" | grep -q ' held$'; }

step "create through colo-xl, its disk behind the NBD proxy"
create_web
[ "$(rcli ping)" = PONG ] || fail "PING"
f0=$(forwarded)
[ "$(rcli set before-hold 1)" = OK ] || fail "SET"
[ "$(forwarded)" -gt "$f0" ] || fail "a SET sent no flush: $(tail -n 3 "$PLOG")"

step "the reply to a SET waits for the log's flush"
touch "$HOLD"
out=$(rcli_t 3 set held-key held-value)
rc=$?
[ "$rc" -eq 124 ] && [ -z "$out" ] ||
	fail "SET answered '$out' (exit $rc) while its flush was held"
held || fail "no flush is held: $(tail -n 3 "$PLOG")"
f0=$(forwarded)
rm "$HOLD"
wait_for 5 bash -c "[ \$(grep -c ' forwarded\$' '$PLOG') -gt $f0 ]" ||
	fail "the held flush was not released: $(tail -n 3 "$PLOG")"
[ "$(rcli_t 3 set after-hold v2)" = OK ] ||
	fail "no prompt reply once the flush went through"
[ "$(rcli get held-key)" = held-value ] && [ "$(rcli get after-hold)" = v2 ] ||
	fail "GET after the hold: '$(rcli get held-key)', '$(rcli get after-hold)'"

step "a reply lost on the wire is retransmitted"
# The flush is held until hostA's bridge is down, so the guest's reply
# leaves into the outage, and only its retransmission can reach the client.
r0=$(info tcp_retransmits)
touch "$HOLD"
rcli_t 15 incr lost-reply >"$TMP/lost" 2>&1 &
cli=$!
wait_for 5 held || fail "the INCR's flush did not come: $(tail -n 3 "$PLOG")"
ip -n "$HOST" link set br0 down
rm "$HOLD"
sleep 1
ip -n "$HOST" link set br0 up
wait "$cli" || fail "INCR across the outage: $(cat "$TMP/lost")"
[ "$(cat "$TMP/lost")" = 1 ] || fail "INCR answered '$(cat "$TMP/lost")', want 1"
r1=$(info tcp_retransmits)
[[ $r0 =~ ^[0-9]+$ ]] && [ "$r1" -gt "$r0" ] ||
	fail "tcp_retransmits '$r0' then '$r1': the reply was not retransmitted"
[ "$(rcli get lost-reply)" = 1 ] || fail "lost-reply is $(rcli get lost-reply), want 1"

# big_value NAME: SET of 30000 random bytes, then GET, compared byte for
# byte (redis-cli ends what it prints with a newline).
big_value() {
	head -c 30000 /dev/urandom >"$TMP/$1"
	[ "$(rcli_t 10 -x set "$1" <"$TMP/$1")" = OK ] ||
		fail "SET of 30000 bytes to $1"
	rcli_t 10 get "$1" >"$TMP/$1.got" ||
		fail "GET of 30000 bytes from $1"
	printf '\n' >>"$TMP/$1"
	cmp "$TMP/$1" "$TMP/$1.got" >&2 || fail "$1 came back different"
}

step "a 30000-byte value, byte for byte"
big_value big

step "a client with an MTU of 576: the guest keeps to its MSS of 536"
in_client ip link set eth0 mtu 576
big_value big-mss
in_client ip link set eth0 mtu 1500

step "a closed port refuses at once"
out=$(rcli_t 2 -p 6380 ping 2>&1)
contains "$out" "Connection refused"
[ "$(rcli ping)" = PONG ] || fail "not serving after the refusal"

step "300 INCRs over a link losing 5% each way"
if ! in_client tc qdisc add dev eth0 root netem loss 5% 2>"$TMP/tc"; then
	echo "   skipped: tc netem does not work here: $(cat "$TMP/tc")"
else
	ip netns exec "$NS_LAN" tc qdisc add dev "vcl$NS_SUFFIX" root netem loss 5% ||
		fail "netem on the LAN side"
	r0=$(info tcp_retransmits)
	rcli_t 60 -r 300 incr lossy | tr -d '\r' >"$TMP/incr"
	in_client tc qdisc del dev eth0 root
	ip netns exec "$NS_LAN" tc qdisc del dev "vcl$NS_SUFFIX" root
	seq 300 | cmp - "$TMP/incr" >&2 || fail "INCR replies across loss are wrong"
	[ "$(rcli get lossy)" = 300 ] || fail "lossy is $(rcli get lossy), want 300"
	r1=$(info tcp_retransmits)
	[ "$r1" -gt "$r0" ] || fail "tcp_retransmits did not rise under loss: $r0, $r1"
	echo "   tcp_retransmits $r0 -> $r1"
fi
expect_rc 0 xl a destroy web
echo ok
