# Two COLO hosts with networking, for the colo-net tests: the topology of
# DESIGN §12 (client, LAN bridge, hostA and hostB each with a tap on a
# bridge, the replication veth), a colod on each, the kv demo guest
# "web" created on A and protected by B, netproxies linked.  Also the
# two-client failover check, kill_host_with_clients.  Source it.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
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
topo_replication "$A" "$B"
# start_colod HOST: its colod, in the host's netns.  With
# COLO_NET_PAIR_DISK set, also in a mount namespace of its own where
# $TMP/disks is the host's $TMP/HOST/disks: the same image path in the
# domain XML names a different file on each host, as on two machines.
start_colod() {
	local h=$1 ns ip
	ns=$([ "$h" = a ] && echo "$A" || echo "$B")
	ip=$([ "$h" = a ] && echo 198.51.100.1 || echo 198.51.100.2)
	mkdir -p "$TMP/$h/disks" "$TMP/disks"
	ip netns exec "$ns" unshare -m --propagation private sh -c \
		'mount --bind "$1" "$2" || exit 1; shift 2; exec "$@"' sh \
		"$TMP/$h/disks" "$TMP/disks" \
		"$COLOD" --state-dir "$TMP/$h/state" --run-dir "$TMP/$h/run" \
		--log "file:$TMP/$h/colod.log" --peer-listen "$ip:7788" || fail "colod $h"
}
start_colod a
start_colod b
expect_rc 0 xl a params checkpoint-interval=500
cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$KV</kernel>
  <cmdline>ip=$GUEST/24 mode=kv ${COLO_NET_PAIR_CMDLINE:-}</cmdline></os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:12:34:56'/>
      <target dev='tapweb'/>
    </interface>${COLO_NET_PAIR_DISK:+
    <disk type='file' device='disk'>
      <source file='$TMP/disks/web.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>}
  </devices>
</domain>
XML
rcli() { in_client redis-cli -h "$GUEST" "$@"; }
np_stats() {	# HOST: its netproxy's statistics through colod, as JSON
	COLO_RUN_DIR=$TMP/$1/run "$XL" --json colo stats --net web
}
stat_of() {	# JSON NAME: a counter, or NAME within a list (matched.tcp)
	python3 -c 'import json,sys
r=json.loads(sys.argv[1])[0]; k=sys.argv[2].split(".")
v=r[k[0]]
if len(k)>1: v=[c["count"] for c in v if c["name"]==k[1]][0]
print(v)' "$1" "$2"
}

info_field() { rcli info | tr -d '\r' | sed -n "s/^$1://p"; }

# udp_echo_checkpoints MIN PER_ROUND: rounds of PER_ROUND numbered UDP
# echoes at 250/s, with a checkpoint every 10 ms, until MIN checkpoints
# have passed.  A frame the SVM lost or got twice changes its echo
# stream, which is a UDP mismatch on A.  Sets u1 to the guest's count.
udp_echo_checkpoints() {
	local min=$1 per=$2 c0 c1 u0 s0 s1 sent=0 rounds=0
	expect_rc 0 xl a params checkpoint-interval=10
	c0=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
	u0=$(info_field udp_echo_frames)
	s0=$(np_stats a)
	while :; do
		in_client python3 "$TOP_SRCDIR/tests/tools/udp-echo.py" "$GUEST" 7 "$per" 250 \
			>"$TMP/udp" || fail "udp-echo"
		grep -q "echoed $per unique $per wrong 0 gaps 0" "$TMP/udp" ||
			fail "echoes: $(cat "$TMP/udp")"
		sent=$((sent + per)) rounds=$((rounds + 1))
		c1=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
		[ $((c1 - c0)) -lt "$min" ] && [ $rounds -lt 10 ] || break
	done
	u1=$(info_field udp_echo_frames)
	s1=$(np_stats a)
	echo "   $sent frames sent, all echoed once; $((c1 - c0)) checkpoints; guest counted $((u1 - u0))"
	echo "   udp: matched $(( $(stat_of "$s1" matched.udp) - $(stat_of "$s0" matched.udp) )), " \
		"mismatched $(( $(stat_of "$s1" mismatched.udp) - $(stat_of "$s0" mismatched.udp) )); " \
		"B re-injected $(stat_of "$(np_stats b)" reinjected) frames after loads"
	[ $((c1 - c0)) -ge "$min" ] || fail "only $((c1 - c0)) checkpoints"
	[ $((u1 - u0)) -eq "$sent" ] || fail "the PVM counted $((u1 - u0)) of $sent frames"
	[ "$(stat_of "$s1" mismatched.udp)" -eq "$(stat_of "$s0" mismatched.udp)" ] ||
		{ grep -h "mismatch: udp" "$TMP"/a/state/log/web-net0.log | head; fail "UDP echoes mismatched: the SVM input differed from the PVM input"; }
	[ "$(stat_of "$(np_stats b)" epoch-misses)" -eq 0 ] || fail "B missed snapshot marks"
	expect_rc 0 xl a params checkpoint-interval=500
}

# hold_both [P S]: a checkpoint that leaves both VMs paused (the primary
# P, by default a, right after its snapshot, the secondary S right after
# loading it).
hold_both() {
	local p=${1:-a} s=${2:-b} i
	"$CTL_RAW" "ipc://$TMP/$p/run/dom-web.ctl" \
		'{"execute":"helper-colo-checkpoint","arguments":{"hold":true}}' >/dev/null
	for ((i = 0; i < 60; i++)); do
		xl "$p" list | grep -Eq '^web .* --p--- ' &&
			xl "$s" list | grep -Eq '^web .* --p--- ' && return 0
		sleep 0.05
	done
	fail "the held checkpoint did not pause both VMs"
}

# web_create: the guest on A, unprotected.  colo_net_up: into COLO with B,
# netproxies linked.  Sourcing does both unless COLO_NET_PAIR_MANUAL.
web_create() {
	[ -z "${COLO_NET_PAIR_DISK:-}" ] || [ -e "$TMP/a/disks/web.img" ] ||
		truncate -s "$COLO_NET_PAIR_DISK" "$TMP/a/disks/web.img"
	expect_rc 0 xl a create "$TMP/web.xml"
	wait_for 20 grep -q "KV-READY" "$CA" || fail "guest not ready: $(cat "$CA")"
}
colo_net_up() {
	expect_rc 0 xl a colo start web 198.51.100.2
	wait_for 10 bash -c "COLO_RUN_DIR=$TMP/b/run $XL list | grep -Eq '^web .* r----- .*secondary\$'" ||
		fail "no running secondary on B: $(xl b list)"
	wait_for 10 bash -c "COLO_RUN_DIR=$TMP/a/run $XL --json colo stats --net web | grep -q '\"peer-connected\": *true'" ||
		fail "netproxies not linked: $(np_stats a)"
	sleep 1
}
if [ -z "${COLO_NET_PAIR_MANUAL:-}" ]; then
	step "create on A, COLO with B"
	web_create
	[ "$(rcli set before-colo 1)" = OK ] || fail "SET before COLO"
	colo_net_up
fi

# kill_host_with_clients a|b MODE: one redis-cli loops INCR over one
# connection, another opens a connection per INCR; then every process of
# host a (or b) is SIGKILLed with its links down.  Both clients must
# carry on against the survivor over the same connection, with
# consecutive replies, and the counters must hold every acknowledged
# increment; the survivor's netproxy ends in MODE.
kill_host_with_clients() {
local victim vh survivor
if [ "$1" = a ]; then victim=$A vh=a survivor=b; else victim=$B vh=b survivor=a; fi
shift
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
# The primary's checkpoint count as the victim goes, for callers that
# need to know whether one fell after the clients connected.
ck_at_kill=$(xl a colo status web | sed -n 's/^checkpoints *: //p')
# ...and the survivor's count of shifted frames, to tell whether it
# shifts any after it takes over.
rw_at_kill=$(stat_of "$(np_stats "$survivor")" rewritten)
# Links first, so that no FIN or RST escapes: the survivor must notice
# by itself.
t_kill=$EPOCHREALTIME
vv=v$victim
ip -n "$victim" link set "${vv:0:14}" down
ip -n "$victim" link set "r${vh}$NS_SUFFIX" down
ip netns pids "$victim" | xargs -r kill -9
wait_for 10 bash -c "[ -z \"\$(ip netns pids $victim)\" ]" ||
	fail "processes of the killed host live on: $(ip netns pids "$victim")"
n_kill=$(wc -l <"$TMP/c1.out")
wait_for 15 bash -c "COLO_RUN_DIR=$TMP/$survivor/run $XL colo status web | grep -q 'failover *: completed'" ||
	fail "$survivor did not fail over: $(xl $survivor colo status web)"
wait_for 15 bash -c "[ \$(wc -l <$TMP/c1.out) -gt $((n_kill + 20)) ]" ||
	fail "client 1 stopped after the failover: $(tail -3 "$TMP/c1.out"; cat "$TMP/c1.err")"
sleep 1
conn_after=$(in_client ss -Htn state established "dst $GUEST:6379" | awk '{print $3}' | sort)
kill "${CHILD_PIDS[@]}" 2>/dev/null
wait 2>/dev/null
CHILD_PIDS=()

echo "   both clients carried on; no acknowledged increment lost:"
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
s=$(np_stats $survivor)
echo "   $survivor's netproxy: $(stat_of "$s" mode), rewritten $(stat_of "$s" rewritten)," \
	"reinjected $(stat_of "$s" reinjected), epoch misses $(stat_of "$s" epoch-misses)"
[ "$(stat_of "$s" mode)" = "$1" ] || fail "$survivor's netproxy is not in mode $1"
}
