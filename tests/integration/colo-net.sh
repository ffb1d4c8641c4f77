#!/bin/bash
# COLO networking end to end, in the topology of DESIGN §12: the kv demo
# guest on hostA protected by hostB, each host's netproxy on a tap
# bridged to the LAN, the client in its own namespace.  redis-cli and
# redis-benchmark through the comparator; DEBUG NONDET answers that
# differ between the VMs cost a checkpoint each and stay consistent;
# then the primary host dies (every process SIGKILLed, its links down)
# while one redis-cli loops INCR over one connection and another opens a
# connection per request: both carry on against the secondary, and no
# acknowledged increment is lost.
. "$(dirname "$0")/colo-net-pair.sh"

step "redis-cli through the comparator"
[ "$(rcli ping)" = PONG ] || fail "PING"
[ "$(rcli set greeting hello)" = OK ] || fail "SET"
[ "$(rcli get greeting)" = hello ] || fail "GET"
[ "$(rcli get before-colo)" = 1 ] || fail "GET of a key from before COLO"
s=$(np_stats a)
echo "   A: $(stat_of "$s" mode), tcp matched $(stat_of "$s" matched.tcp)," \
	"mismatches $(stat_of "$s" requests.mismatch)"
[ "$(stat_of "$s" mode)" = primary ] || fail "A's netproxy: $s"
[ "$(stat_of "$s" matched.tcp)" -gt 0 ] || fail "nothing compared: $s"
[ "$(stat_of "$(np_stats b)" mode)" = secondary ] || fail "B's netproxy: $(np_stats b)"

expect_rc 0 xl a colo stats -n 2 web
contains "$OUT" "Network: tap tapweb, netproxy primary, peer connected"
contains "$OUT" "checkpoint requests"

step "DEBUG NONDET: a checkpoint each, answers consistent"
# The answer depends on the host: the VMs differ, the comparator asks
# for a checkpoint (mismatch, or timeout if the SVM is slow to answer),
# and the client gets the PVM's answer once the SVM has its state.
s0=$(np_stats a)
k0=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
for i in 1 2 3 4 5; do
	v=$(rcli debug nondet) || fail "DEBUG NONDET $i"
	[ -n "$v" ] || fail "DEBUG NONDET $i: empty answer"
done
s1=$(np_stats a)
sleep 0.5	# a reply goes out at commit, before the checkpoint is counted
k1=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
req=$(( $(stat_of "$s1" requests.mismatch) + $(stat_of "$s1" requests.timeout) -
	$(stat_of "$s0" requests.mismatch) - $(stat_of "$s0" requests.timeout) ))
echo "   5 DEBUG NONDET: $req checkpoint requests" \
	"($(( $(stat_of "$s1" mismatched.tcp) - $(stat_of "$s0" mismatched.tcp) )) mismatches)," \
	"$((k1 - k0)) checkpoints"
[ "$req" -ge 5 ] || fail "DEBUG NONDET did not ask for a checkpoint each time"
[ $((k1 - k0)) -ge 5 ] || fail "fewer checkpoints than DEBUG NONDET requests"
[ "$(rcli get greeting)" = hello ] || fail "GET after NONDET"

step "redis-benchmark -c 50 -P 16 set,get,incr under COLO"
r0=$(stat_of "$(np_stats a)" requests.mismatch)
in_client redis-benchmark -h "$GUEST" -q -n 20000 -c 50 -P 16 -t set,get,incr \
	>"$TMP/bench" 2>&1 || fail "redis-benchmark: $(tail -5 "$TMP/bench")"
tr '\r' '\n' <"$TMP/bench" | grep -E "requests per second" | sed 's/^/   /'
! grep -qi "error" "$TMP/bench" || fail "benchmark errors: $(grep -i error "$TMP/bench" | head)"
[ "$(tr '\r' '\n' <"$TMP/bench" | grep -c 'requests per second')" -eq 3 ] ||
	fail "not all three tests completed"
s=$(np_stats a)
echo "   mismatch checkpoints during the benchmark: $(( $(stat_of "$s" requests.mismatch) - r0 )); " \
	"timeouts $(stat_of "$s" requests.timeout); held now $(stat_of "$s" held-primary)"

step "UDP echo across 1000 checkpoints: the SVM gets each mirrored frame once"
udp_echo_checkpoints "${COLO_NET_MIN_CKPTS:-1000}" 2000

step "kill the primary host while two clients run"
kill_host_with_clients a failover
# The survivor's own count of UDP frames: the same as the PVM's.
[ "$(info_field udp_echo_frames)" = "$u1" ] ||
	fail "the survivor counted $(info_field udp_echo_frames) UDP frames, the PVM $u1"
echo "   the survivor counted $u1 UDP frames, as the PVM did"
