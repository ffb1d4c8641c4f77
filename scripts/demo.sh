#!/bin/bash
# The colo-kvm demo, as far as the project has come.  In network
# namespaces that it creates (and removes), it runs colod on "hostA",
# creates the demo key-value guest with colo-xl, reaches it from a
# "client" with ping, redis-cli and redis-benchmark, saves and restores it
# under load, and shows the client's data surviving.  Without root or
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

say "COLO: a second host, hostB, on a direct replication link"
Bn=hostB$S
ip netns add "$Bn" && NS+=("$Bn") && ip -n "$Bn" link set lo up
ip link add "ra$S" type veth peer name "rb$S"
ip link set "ra$S" netns "$A" && ip link set "rb$S" netns "$Bn"
ip -n "$A" addr add 198.51.100.1/24 dev "ra$S" && ip -n "$A" link set "ra$S" up
ip -n "$Bn" addr add 198.51.100.2/24 dev "rb$S" && ip -n "$Bn" link set "rb$S" up
mkdir -p "$D/b"
ip netns exec "$Bn" "$COLOD" --state-dir "$D/b/state" --run-dir "$D/b/run" \
	--log "file:$D/b/colod.log" --peer-listen 198.51.100.2:7788 || exit 1
kill "$(cat "$D/a/run/colod.pid")"
sleep 0.5
ip netns exec "$A" "$COLOD" --state-dir "$D/a/state" --run-dir "$D/a/run" \
	--log "file:$D/a/colod.log" --peer-listen 198.51.100.1:7788 || exit 1
echo "hostA 198.51.100.1 <-> hostB 198.51.100.2 (colod on each, peer port 7788)"
xb() { COLO_RUN_DIR=$D/b/run "$XL" "$@"; }

cat >"$D/db.xml" <<XML
<domain type='kvm'>
  <name>db</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$B/guest/colo-kv.elf</kernel>
  <cmdline>mode=dirty dirty_mb=32 dirty_rate=3000 verify_ms=500</cmdline></os>
</domain>
XML
say "A guest that rewrites 3000 pages a second and checks every page itself"
run hostA "$XL" params checkpoint-interval=200
run hostA "$XL" create "$D/db.xml"
sleep 1
run hostA "$XL" colo start db 198.51.100.2
run hostB xb list

say "Checkpoints every 200 ms; each one pauses the primary briefly"
sleep 2
run hostA "$XL" colo status db

say "Kill every process of hostA (colod, helper): hostB takes over"
ip netns pids "$A" | xargs -r kill -9
sleep 1
run hostB xb colo status db
run hostB xb list
sleep 1.5
echo "hostB's guest, still running and checking itself:"
tail -n 3 "$D/b/state/console/db.log" | sed 's/^/  | /'
if grep -q "GUEST-CHECK FAIL" "$D/b/state/console/db.log"; then
	echo "SELF-CHECK FAILED"
else
	echo "no GUEST-CHECK FAIL: the secondary's memory was consistent"
fi
run hostB xb destroy db

say "Done; cleaning up"
