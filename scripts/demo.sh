#!/bin/bash
# The colo-kvm demo, as far as the project has come.  In network
# namespaces that it creates (and removes), it runs colod on "hostA",
# creates the demo key-value guest with colo-xl, reaches it from a
# "client" with ping, redis-cli and redis-benchmark, saves and restores it
# under load, and shows the client's data surviving.  Then it protects
# the guest with COLO on "hostB", its log disk replicated, and kills hostA
# while a client counts over one TCP connection, which carries on against
# hostB; hostB's disk then replays every acknowledged write.  Without root or
# /dev/kvm it shows a colod pair instead.  It cleans up after itself.
set -u
B=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
COLOD=$B/colod XL=$B/colo-xl
D=$(mktemp -d /tmp/colo-demo.XXXXXX)
S=$$
NS=()

if [ -t 1 ]; then B1=$'\033[1m' B0=$'\033[0m'; else B1= B0=; fi
say() { printf '\n%s== %s%s\n' "$B1" "$*" "$B0"; }
# run WHERE CMD...: shows the command as a user would type it, runs it.
run() {
	local where=$1 shown
	shift
	shown="$*"
	shown=${shown//$B\//}
	shown=${shown/#xb /colo-xl }
	printf '%s$ %s\n' "$where" "${shown#cli }"
	"$@"
}

cleanup() {
	for f in "$D"/*/run/colod.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for ns in "${NS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	done
	sleep 0.5
	for ns in "${NS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${NBD:-}" ] && kill "$NBD" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in "$COLOD" "$XL" "$B/colo-dom-helper" "$B/colo-netproxy" \
	 "$B/guest/colo-kv.elf"; do
	[ -e "$f" ] || { echo "demo: $f is missing; run make first" >&2; exit 1; }
done

colod_only() {
	say "No root or no /dev/kvm here ($1): showing a colod pair only"
	for h in hostA hostB; do
		"$COLOD" --state-dir "$D/$h/state" --run-dir "$D/$h/run" \
			--log "file:$D/$h/colod.log" || exit 1
	done
	run hostA env COLO_RUN_DIR="$D/hostA/run" "$XL" info
	run hostB env COLO_RUN_DIR="$D/hostB/run" "$XL" params checkpoint-interval=200
	exit 0
}
[ "$(id -u)" -eq 0 ] || colod_only "not root"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || colod_only "no usable /dev/kvm"
ip netns add "demoprobe$S" 2>/dev/null || colod_only "no network namespaces"
ip netns del "demoprobe$S"

say "Building the test network in namespaces: client -- lan -- hostA"
A=hostA$S C=client$S L=lan$S
for ns in "$A" "$C" "$L"; do
	ip netns add "$ns" && NS+=("$ns") && ip -n "$ns" link set lo up
done
ip -n "$L" link add brlan type bridge && ip -n "$L" link set brlan up
ip link add "dc$S" type veth peer name "dl$S"
ip link set "dc$S" netns "$C" && ip link set "dl$S" netns "$L"
ip -n "$C" link set "dc$S" name eth0
ip -n "$C" addr add 192.0.2.1/24 dev eth0 && ip -n "$C" link set eth0 up
ip -n "$L" link set "dl$S" master brlan up
ip -n "$A" link add br0 type bridge && ip -n "$A" link set br0 up
ip -n "$A" tuntap add tapweb mode tap && ip -n "$A" link set tapweb master br0 up
ip link add "da$S" type veth peer name "dal$S"
ip link set "da$S" netns "$A" && ip link set "dal$S" netns "$L"
ip -n "$A" link set "da$S" master br0 up
ip -n "$L" link set "dal$S" master brlan up
echo "client 192.0.2.1; the guest will be 192.0.2.10 behind a tap on hostA"

say "A disk for the guest's append-only log, served by qemu-nbd"
truncate -s 64M "$D/disk.raw"
qemu-nbd -f raw -k "$D/nbd.sock" -t "$D/disk.raw" &
NBD=$!
for _ in $(seq 50); do [ -S "$D/nbd.sock" ] && break; sleep 0.1; done
echo "nbd+unix:///?socket=$D/nbd.sock"

say "colod on hostA (SQLite state, ZeroMQ control)"
mkdir -p "$D/a"
ip netns exec "$A" "$COLOD" --state-dir "$D/a/state" --run-dir "$D/a/run" \
	--log "file:$D/a/colod.log" || exit 1
export COLO_RUN_DIR=$D/a/run
cat >"$D/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$B/guest/colo-kv.elf</kernel>
    <cmdline>ip=192.0.2.10/24 mode=kv</cmdline>
  </os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:12:34:56'/>
      <target dev='tapweb'/>
    </interface>
    <disk type='network'>
      <source protocol='nbd'><host transport='unix' socket='$D/nbd.sock'/></source>
    </disk>
  </devices>
</domain>
XML
run hostA "$XL" create "$D/web.xml"
for _ in $(seq 100); do
	grep -q KV-READY "$D/a/state/console/web.log" 2>/dev/null && break
	sleep 0.1
done
run hostA "$XL" list
echo "console:"
sed 's/^/  | /' "$D/a/state/console/web.log"

cli() { ip netns exec "$C" "$@"; }
say "The client reaches the guest"
run client cli ping -c 3 -i 0.2 192.0.2.10 | tail -n 2
run client cli redis-cli -h 192.0.2.10 set greeting "hello from colo-kvm"
run client cli redis-cli -h 192.0.2.10 incr visits
run client cli redis-cli -h 192.0.2.10 get greeting

say "redis-benchmark against the guest (every write is logged and flushed first)"
run client cli redis-benchmark -h 192.0.2.10 -q -n 50000 -c 50 -P 16 -t set,get,incr 2>&1 |
	tr '\r' '\n' | grep 'requests per second'

say "Save the running domain and restore it, while a benchmark keeps going"
cli redis-benchmark -h 192.0.2.10 -q -n 150000 -c 10 -P 4 -t set,get >"$D/bench" 2>&1 &
BENCH=$!
sleep 1
run hostA "$XL" save web "$D/web.save"
run hostA "$XL" restore "$D/web.save"
wait "$BENCH" && echo "the benchmark's connections survived:" &&
	tr '\r' '\n' <"$D/bench" | grep 'requests per second'
run client cli redis-cli -h 192.0.2.10 get greeting

say "Destroy and create again on the same disk: the log is replayed"
run hostA "$XL" destroy web
run hostA "$XL" create "$D/web.xml"
for _ in $(seq 100); do
	[ "$(grep -c KV-READY "$D/a/state/console/web.log")" -ge 2 ] && break
	sleep 0.1
done
grep KVLOG "$D/a/state/console/web.log" | tail -n 1 | sed 's/^/  | /'
run client cli redis-cli -h 192.0.2.10 incr visits
run hostA "$XL" destroy web

say "COLO: a second host, hostB, on the LAN and on a direct replication link"
Bn=hostB$S
ip netns add "$Bn" && NS+=("$Bn") && ip -n "$Bn" link set lo up
ip -n "$Bn" link add br0 type bridge && ip -n "$Bn" link set br0 up
ip -n "$Bn" tuntap add tapweb mode tap && ip -n "$Bn" link set tapweb master br0 up
ip link add "db$S" type veth peer name "dbl$S"
ip link set "db$S" netns "$Bn" && ip link set "dbl$S" netns "$L"
ip -n "$Bn" link set "db$S" master br0 up
ip -n "$L" link set "dbl$S" master brlan up
ip link add "ra$S" type veth peer name "rb$S"
ip link set "ra$S" netns "$A" && ip link set "rb$S" netns "$Bn"
ip -n "$A" addr add 198.51.100.1/24 dev "ra$S" && ip -n "$A" link set "ra$S" up
ip -n "$Bn" addr add 198.51.100.2/24 dev "rb$S" && ip -n "$Bn" link set "rb$S" up
# Each host sees its own files under $D/disks, as two machines would:
# colod runs in a mount namespace of its own with its host's directory
# bound there.
colod_on() {	# NETNS DIR ADDR
	mkdir -p "$D/$2/disks" "$D/disks"
	ip netns exec "$1" unshare -m --propagation private sh -c \
		'mount --bind "$1" "$2" || exit 1; shift 2; exec "$@"' sh \
		"$D/$2/disks" "$D/disks" "$COLOD" --state-dir "$D/$2/state" \
		--run-dir "$D/$2/run" --log "file:$D/$2/colod.log" \
		--peer-listen "$3:7788"
}
colod_on "$Bn" b 198.51.100.2 || exit 1
kill "$(cat "$D/a/run/colod.pid")"
sleep 0.5
colod_on "$A" a 198.51.100.1 || exit 1
echo "hostA 198.51.100.1 <-> hostB 198.51.100.2 (colod on each, peer port 7788)"
echo "each host has a tap for the guest on the LAN; hostB's stays silent"
echo "each host has its own $D/disks; hostB's starts empty"
xb() { COLO_RUN_DIR=$D/b/run "$XL" "$@"; }

# This time the log is on an image file that colod serves with
# colo-blkrep, and that COLO replicates.
cp "$D/disk.raw" "$D/a/disks/web.img"
sed -e '/<disk/,/<\/disk>/c\    <disk type='"'file'"'><source file='"'$D/disks/web.img'"'/></disk>' \
	"$D/web.xml" >"$D/colo-web.xml"
say "The key-value guest again, its log on an image file, now protected by hostB"
grep "<disk" "$D/colo-web.xml"
run hostA "$XL" params checkpoint-interval=500
run hostA "$XL" create "$D/colo-web.xml"
for _ in $(seq 100); do
	[ "$(grep -c KV-READY "$D/a/state/console/web.log")" -ge 3 ] && break
	sleep 0.1
done
echo "colo start copies the disk to hostB's colo-blkrep first, then every write goes to both"
run hostA "$XL" colo start web 198.51.100.2
run hostA "$XL" block-status web
for _ in $(seq 50); do
	xb list 2>/dev/null | grep -q "secondary$" && break
	sleep 0.1
done
sleep 1
run hostB xb list

say "Every reply leaves hostA only when hostB's copy of the VM said the same"
run client cli redis-cli -h 192.0.2.10 set greeting "hello from both hosts"
run client cli redis-cli -h 192.0.2.10 get greeting
run client cli redis-benchmark -h 192.0.2.10 -q -n 50000 -c 50 -P 16 -t set,get 2>&1 |
	tr '\r' '\n' | grep 'requests per second'
echo "a reply that depends on the host differs between the VMs: a checkpoint"
echo "makes them agree again, and the client gets one consistent answer"
run client cli redis-cli -h 192.0.2.10 debug nondet
run hostA "$XL" colo stats -n 3 web

say "One client counts over a single connection; then hostA dies"
cli redis-cli -h 192.0.2.10 -r -1 -i 0.05 incr visits >"$D/incr" 2>&1 &
INCR=$!
sleep 2
echo "replies so far: $(tr '\n' ' ' <"$D/incr" | tail -c 40)"
echo "cutting hostA's links and killing every process on it"
ip -n "$A" link set "da$S" down
ip -n "$A" link set "ra$S" down
ip netns pids "$A" | xargs -r kill -9
sleep 3
kill "$INCR" 2>/dev/null
wait "$INCR" 2>/dev/null
run hostB xb colo status web
echo "the client's last replies, over the same connection: $(tail -n 6 "$D/incr" | tr '\n' ' ')"
if awk 'NR > 1 && $1 != p + 1 { bad = 1 } { p = $1 } END { exit bad }' "$D/incr" &&
	! grep -qi error "$D/incr"; then
	echo "every reply was the previous one plus 1: no increment lost or repeated"
else
	echo "THE COUNT JUMPED OR THE CLIENT SAW AN ERROR"
fi
run client cli redis-cli -h 192.0.2.10 get greeting
echo "hostB's disk took over too: the log holds every acknowledged write"
run hostB xb destroy web
run hostB xb create "$D/colo-web.xml"
for _ in $(seq 100); do
	grep -q KV-READY "$D/b/state/console/web.log" 2>/dev/null && break
	sleep 0.1
done
grep KVLOG "$D/b/state/console/web.log" | tail -n 1 | sed 's/^/  | /'
run client cli redis-cli -h 192.0.2.10 get greeting
run client cli redis-cli -h 192.0.2.10 get visits
run hostB xb destroy web

say "Done; cleaning up"
