#!/bin/bash
# COLO networking end to end, in the topology of DESIGN §12: the kv demo
# guest on hostA protected by hostB, each host's netproxy on a tap
# bridged to the LAN, the client in its own namespace.  redis-cli and
# redis-benchmark through the comparator, with the added latency
# reported; DEBUG NONDET answers that differ between the VMs cost a
# mismatch checkpoint each, and INCRs on the same connection stay
# consistent across them;
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
contains "$OUT" "link down,"

step "a secondary ignores its own tap's input, and counts it apart"
# Broadcasts from the client reach both hosts' taps: the primary's goes
# to both VMs, the secondary's own is dropped by design, and counted as
# ignored, not as an overflow.
i0=$(stat_of "$(np_stats b)" ignored) o0=$(stat_of "$(np_stats b)" overflow)
in_client python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
for _ in range(5):
    s.sendto(b"colo", ("192.0.2.255", 9))' || fail "broadcast from the client"
for ((i = 0; i < 50; i++)); do
	i1=$(stat_of "$(np_stats b)" ignored)
	[ $((i1 - i0)) -ge 5 ] && break
	sleep 0.1
done
echo "   B ignored $((i1 - i0)) frames of its own tap; A: overflow $(stat_of "$s" overflow)," \
	"link down $(stat_of "$s" no-link), tap errors $(stat_of "$s" tap-errors)"
[ $((i1 - i0)) -ge 5 ] || fail "B's netproxy counted $((i1 - i0)) ignored frames, want 5"
[ "$(stat_of "$(np_stats b)" overflow)" -eq "$o0" ] ||
	fail "B counted its ignored input as overflow"

step "DEBUG NONDET and INCR over one connection: a mismatch checkpoint each"
# The answer depends on the host: the VMs differ, the comparator asks
# for a checkpoint, and the client gets the PVM's answer once the SVM has
# its state.  The timer is held off so that every checkpoint here is the
# comparator's (a periodic one between the two answers would release the
# PVM's uncompared), and each one is waited for, so that no timeout
# request of a slow SVM stands in for the mismatch.  The INCRs on the
# same connection must count on without a gap across every load.
# resp_relay: one connection; a command per line in, the answer per line
# out (an integer or bulk string as is, anything else after a '?').
resp_relay='import socket, sys
s = socket.create_connection((sys.argv[1], 6379), timeout=10)
r = s.makefile("rb")
for line in sys.stdin:
    a = [w.encode() for w in line.split()]
    s.sendall(b"*%d\r\n" % len(a) +
              b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in a))
    t = r.readline().rstrip(b"\r\n")
    if t.startswith(b"$") and int(t[1:]) >= 0:
        t = r.read(int(t[1:]) + 2)[:-2]
    elif t.startswith(b":"):
        t = t[1:]
    else:
        t = b"?" + t
    print(t.decode(errors="replace"), flush=True)'
ckpts() { xl a colo status web | sed -n 's/^checkpoints *: //p'; }
ckpts_above() { [ "$(ckpts)" -gt "$1" ]; }
ask() {	# COMMAND...: its answer, in $ans, over the relay's connection
	echo "$*" >&"${RESP[1]}"
	read -r -t 10 ans <&"${RESP[0]}" || fail "no answer to $*"
}
expect_rc 0 xl a params checkpoint-interval=60000
coproc RESP { in_client python3 -u -c "$resp_relay" "$GUEST"; }
# bash unsets RESP_PID once the coprocess ends; keep it for the wait.
resp_pid=$RESP_PID
CHILD_PIDS+=("$resp_pid")
s0=$(np_stats a) k0=$(ckpts) prev=
for i in 1 2 3 4 5; do
	s=$(np_stats a) k=$(ckpts)
	m0=$(stat_of "$s" requests.mismatch) t0=$(stat_of "$s" requests.timeout)
	ask DEBUG NONDET
	[[ $ans =~ ^[0-9]+$ ]] || fail "DEBUG NONDET $i: '$ans' is not an integer"
	# Mostly a mismatch; a slow SVM's answer may miss the compare
	# timeout instead, which asks for the checkpoint as well.
	s=$(np_stats a)
	m1=$(stat_of "$s" requests.mismatch) t1=$(stat_of "$s" requests.timeout)
	[ $((m1 - m0 + t1 - t0)) -ge 1 ] ||
		fail "DEBUG NONDET $i asked for no checkpoint: $s"
	wait_for 5 ckpts_above "$k" || fail "no checkpoint after DEBUG NONDET $i"
	ask INCR nondet-incr
	[[ $ans =~ ^[0-9]+$ ]] && [ "$ans" -eq $((${prev:-0} + 1)) ] ||
		fail "INCR after DEBUG NONDET $i: '$ans', wanted $((${prev:-0} + 1))"
	prev=$ans
done
eval "exec ${RESP[1]}>&-"
wait "$resp_pid" || fail "the relay failed"
s1=$(np_stats a) k1=$(ckpts)
echo "   5 DEBUG NONDET: $(( $(stat_of "$s1" requests.mismatch) - $(stat_of "$s0" requests.mismatch) ))" \
	"mismatch checkpoint requests, $(( $(stat_of "$s1" requests.timeout) - $(stat_of "$s0" requests.timeout) ))" \
	"timeout ones, $((k1 - k0)) checkpoints; INCR 1..$prev on the same connection"
expect_rc 0 xl a params checkpoint-interval=500
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
# The added latency: a log2 histogram in the JSON, percentiles in text.
lat=$(stat_of "$s" latency-us | tr -d '[] ' |
	awk -F, '{ for (i = 1; i <= NF; i++) t += $i; print NF, t }')
[ "${lat% *}" -eq 24 ] && [ "${lat#* }" -gt 0 ] ||
	fail "no added-latency histogram (buckets, frames: $lat): $s"
expect_rc 0 xl a colo stats -n 2 web
grep -Eq '^ +added latency +p50 < [0-9]+ us, p99 < [0-9]+ us$' <<<"$OUT" ||
	fail "no added latency in: $OUT"
echo "   $(grep 'added latency' <<<"$OUT" | sed 's/^ *//; s/  */ /g')," \
	"over ${lat#* } released frames"

step "UDP echo across 1000 checkpoints: the SVM gets each mirrored frame once"
udp_echo_checkpoints "${COLO_NET_MIN_CKPTS:-1000}" 2000

step "kill the primary host while two clients run"
# With checkpoints 30 s apart, the clients connect after the last one: the
# SVM answered their SYNs with its own sequence numbers, so the survivor
# carries client 1's connection only if its netproxy shifts them.
expect_rc 0 xl a params checkpoint-interval=30000
sleep 1
ck0=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
kill_host_with_clients a failover
rewritten=$(( $(stat_of "$(np_stats b)" rewritten) - rw_at_kill ))
if [ "$ck_at_kill" = "$ck0" ]; then
	[ "$rewritten" -gt 0 ] ||
		fail "the survivor kept connections opened since the last checkpoint without shifting a frame"
	echo "   no checkpoint since the clients connected; the survivor shifted $rewritten frames after the failover"
else
	echo "   checkpoints $ck0..$ck_at_kill fell after the clients connected;" \
		"the shift was not needed ($rewritten frames shifted after the failover)"
fi
# The survivor's own count of UDP frames: the same as the PVM's.
[ "$(info_field udp_echo_frames)" = "$u1" ] ||
	fail "the survivor counted $(info_field udp_echo_frames) UDP frames, the PVM $u1"
echo "   the survivor counted $u1 UDP frames, as the PVM did"
