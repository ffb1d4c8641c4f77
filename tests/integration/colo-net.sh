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
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd redis-cli
need_cmd redis-benchmark
need_cmd sqlite3
trap 'ns_cleanup; cleanup' EXIT
export COLO_NETPROXY_LOG_LEVEL=${COLO_NETPROXY_LOG_LEVEL:-debug}
A=hostA$NS_SUFFIX B=hostB$NS_SUFFIX
GUEST=192.0.2.10
KV=$TOP_BUILDDIR/guest/colo-kv.elf
CA=$TMP/a/state/console/web.log
CB=$TMP/b/state/console/web.log

topo_lan
topo_host "$A" tapweb
topo_host "$B" tapweb
ip link add "ra$NS_SUFFIX" type veth peer name "rb$NS_SUFFIX"
ip link set "ra$NS_SUFFIX" netns "$A"
ip link set "rb$NS_SUFFIX" netns "$B"
ip -n "$A" addr add 198.51.100.1/24 dev "ra$NS_SUFFIX"
ip -n "$B" addr add 198.51.100.2/24 dev "rb$NS_SUFFIX"
ip -n "$A" link set "ra$NS_SUFFIX" up
ip -n "$B" link set "rb$NS_SUFFIX" up
for h in a b; do
	ns=$([ $h = a ] && echo "$A" || echo "$B")
	ip=$([ $h = a ] && echo 198.51.100.1 || echo 198.51.100.2)
	mkdir -p "$TMP/$h"
	ip netns exec "$ns" "$COLOD" --state-dir "$TMP/$h/state" --run-dir "$TMP/$h/run" \
		--log "file:$TMP/$h/colod.log" --peer-listen "$ip:7788" || fail "colod $h"
done
expect_rc 0 xl a params checkpoint-interval=500
cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$KV</kernel>
  <cmdline>ip=$GUEST/24 mode=kv</cmdline></os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:12:34:56'/>
      <target dev='tapweb'/>
    </interface>
  </devices>
</domain>
XML
rcli() { in_client redis-cli -h "$GUEST" "$@"; }
np_stats() {	# HOST: the netproxy's statistics, as JSON
	"$CTL_RAW" "ipc://$TMP/$1/run/dom-web-net0.ctl" \
		'{"execute":"netproxy-query-stats"}'
}
stat_of() {	# JSON NAME: a counter, or NAME within a list (matched.tcp)
	python3 -c 'import json,sys
r=json.loads(sys.argv[1])["return"]; k=sys.argv[2].split(".")
v=r[k[0]]
if len(k)>1: v=[c["count"] for c in v if c["name"]==k[1]][0]
print(v)' "$1" "$2"
}

step "create on A, COLO with B"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 grep -q "KV-READY" "$CA" || fail "guest not ready: $(cat "$CA")"
[ "$(rcli set before-colo 1)" = OK ] || fail "SET before COLO"
expect_rc 0 xl a colo start web 198.51.100.2
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/b/run $XL list | grep -Eq '^web .* r----- .*secondary\$'" ||
	fail "no running secondary on B: $(xl b list)"
wait_for 10 bash -c "'$CTL_RAW' ipc://$TMP/a/run/dom-web-net0.ctl '{\"execute\":\"netproxy-query-stats\"}' | grep -q '\"peer-connected\":true'" ||
	fail "netproxies not linked: $(np_stats a)"
sleep 1

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

step "DEBUG NONDET: a checkpoint each, answers consistent"
m0=$(stat_of "$(np_stats a)" mismatched.tcp)
for i in 1 2 3 4 5; do
	v=$(rcli debug nondet) || fail "DEBUG NONDET $i"
	[ -n "$v" ] || fail "DEBUG NONDET $i: empty answer"
done
m1=$(stat_of "$(np_stats a)" mismatched.tcp)
echo "   5 DEBUG NONDET: $((m1 - m0)) mismatches"
[ $((m1 - m0)) -ge 4 ] || fail "DEBUG NONDET did not mismatch: $m0 -> $m1"
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
info_field() { rcli info | tr -d '\r' | sed -n "s/^$1://p"; }
expect_rc 0 xl a params checkpoint-interval=10
c0=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
u0=$(info_field udp_echo_frames)
s0=$(np_stats a)
# Rounds of 2000 frames at 250/s until 1000 checkpoints have passed.
sent=0 rounds=0
while :; do
	in_client python3 "$TOP_SRCDIR/tests/tools/udp-echo.py" "$GUEST" 7 2000 250 \
		>"$TMP/udp" || fail "udp-echo"
	grep -q "echoed 2000 unique 2000 wrong 0" "$TMP/udp" || fail "echoes: $(cat "$TMP/udp")"
	sent=$((sent + 2000)) rounds=$((rounds + 1))
	c1=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
	[ $((c1 - c0)) -lt "${COLO_NET_MIN_CKPTS:-1000}" ] && [ $rounds -lt 10 ] || break
done
u1=$(info_field udp_echo_frames)
s1=$(np_stats a)
echo "   $sent frames sent, all echoed once; $((c1 - c0)) checkpoints; guest counted $((u1 - u0))"
echo "   udp: matched $(( $(stat_of "$s1" matched.udp) - $(stat_of "$s0" matched.udp) )), " \
	"mismatched $(( $(stat_of "$s1" mismatched.udp) - $(stat_of "$s0" mismatched.udp) )); " \
	"B re-injected $(stat_of "$(np_stats b)" reinjected) frames after loads"
[ $((c1 - c0)) -ge "${COLO_NET_MIN_CKPTS:-1000}" ] || fail "only $((c1 - c0)) checkpoints"
[ $((u1 - u0)) -eq "$sent" ] || fail "the PVM counted $((u1 - u0)) of $sent frames"
# A frame the SVM lost or got twice changes its echo stream: a mismatch.
[ "$(stat_of "$s1" mismatched.udp)" -eq "$(stat_of "$s0" mismatched.udp)" ] ||
	{ grep -h "mismatch: udp" "$TMP"/a/state/log/web-net0.log | head; fail "UDP echoes mismatched: the SVM input differed from the PVM input"; }
[ "$(stat_of "$(np_stats b)" epoch-misses)" -eq 0 ] || fail "B missed snapshot marks"
expect_rc 0 xl a params checkpoint-interval=500
grep -h "mismatch: udp" "$TMP"/a/state/log/web-net0.log | head -5

step "kill the primary host while two clients run"
stamp() { while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done; }
in_client redis-cli -h "$GUEST" -r -1 -i 0.02 incr c1 2>"$TMP/c1.err" | stamp >"$TMP/c1.out" &
CHILD_PIDS+=($!)
(while :; do
	v=$(ip netns exec "$NS_CLIENT" timeout 5 redis-cli -h "$GUEST" incr c2 2>/dev/null) &&
		[ -n "$v" ] && echo "$v"
	sleep 0.02
done) | stamp >"$TMP/c2.out" &
CHILD_PIDS+=($!)
sleep 2
conn_before=$(in_client ss -Htn state established "dst $GUEST:6379" | awk '{print $3}' | sort)
[ -n "$conn_before" ] || fail "client 1 has no connection"
[ -s "$TMP/c1.out" ] && [ -s "$TMP/c2.out" ] || fail "clients got no replies before the kill"
# Links first, so that no FIN or RST escapes: B must notice by itself.
t_kill=$EPOCHREALTIME
va=vhostA$NS_SUFFIX
ip -n "$A" link set "${va:0:14}" down
ip -n "$A" link set "ra$NS_SUFFIX" down
ip netns pids "$A" | xargs -r kill -9
n_kill=$(wc -l <"$TMP/c1.out")
wait_for 15 bash -c "COLO_RUN_DIR=$TMP/b/run $XL colo status web | grep -q 'failover *: completed'" ||
	fail "B did not take over: $(xl b colo status web)"
wait_for 15 bash -c "[ \$(wc -l <$TMP/c1.out) -gt $((n_kill + 20)) ]" ||
	fail "client 1 stopped after the failover: $(tail -3 "$TMP/c1.out"; cat "$TMP/c1.err")"
sleep 1
conn_after=$(in_client ss -Htn state established "dst $GUEST:6379" | awk '{print $3}' | sort)
kill "${CHILD_PIDS[@]}" 2>/dev/null
wait 2>/dev/null
CHILD_PIDS=()

step "both clients carried on; no acknowledged increment lost"
[ ! -s "$TMP/c1.err" ] || fail "client 1 saw errors: $(head -3 "$TMP/c1.err")"
same=$(comm -12 <(echo "$conn_before") <(echo "$conn_after"))
[ -n "$same" ] || fail "client 1's connection did not survive: $conn_before / $conn_after"
echo "   client 1 kept its connection from $same"
awk '{ if (NR > 1 && $2 != prev + 1) { print "gap " prev " -> " $2; bad = 1 } prev = $2 }
     END { exit bad }' "$TMP/c1.out" || fail "client 1's replies are not consecutive"
awk '{ if (NR > 1 && $2 <= prev) { print "not increasing " prev " -> " $2; bad = 1 } prev = $2 }
     END { exit bad }' "$TMP/c2.out" || fail "client 2's replies went backwards"
last1=$(tail -1 "$TMP/c1.out" | awk '{print $2}')
last2=$(tail -1 "$TMP/c2.out" | awk '{print $2}')
final1=$(rcli get c1) final2=$(rcli get c2)
echo "   client 1 (one connection): last ack $last1, counter now $final1"
echo "   client 2 (a connection per request): last ack $last2, counter now $final2"
[ "$final1" -ge "$last1" ] && [ "$final2" -ge "$last2" ] || fail "acknowledged increments lost"
gap=$(awk -v t="$t_kill" '$1 > t && $1 - p > g { g = $1 - p } { p = $1 }
	END { printf "%d", g * 1000 }' "$TMP/c1.out")
echo "   failover pause seen by client 1 (longest gap between replies): $gap ms"
s=$(np_stats b)
echo "   B's netproxy: $(stat_of "$s" mode), rewritten $(stat_of "$s" rewritten)," \
	"reinjected $(stat_of "$s" reinjected), epoch misses $(stat_of "$s" epoch-misses)"
[ "$(stat_of "$s" mode)" = failover ] || fail "B's netproxy did not go to failover"
