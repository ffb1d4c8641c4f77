#!/bin/bash
# The demo guest under redis-benchmark, unprotected: throughput and host
# CPU per request (dom-helper and netproxy), the baseline COLO will be
# measured against.  Needs root, /dev/kvm, namespaces, redis-benchmark.
# Usage: kv-bench.sh [REQUESTS]
set -u
export TOP_BUILDDIR=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export TOP_SRCDIR=${TOP_SRCDIR:-$TOP_BUILDDIR}
. "$TOP_SRCDIR/tests/integration/lib.sh"
. "$TOP_SRCDIR/tests/integration/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd redis-benchmark
need_cmd qemu-nbd
trap 'ns_cleanup; cleanup' EXIT
N=${1:-200000}
HOST=hostA$NS_SUFFIX

topo_lan
topo_host "$HOST" tapweb
truncate -s 256M "$TMP/disk.raw"
qemu-nbd -f raw -k "$TMP/nbd.sock" -t "$TMP/disk.raw" &
CHILD_PIDS+=($!)
wait_for 10 test -S "$TMP/nbd.sock" || fail "qemu-nbd"
mkdir -p "$TMP/a"
ip netns exec "$HOST" "$COLOD" --state-dir "$TMP/a/state" --run-dir "$TMP/a/run" \
	--log "file:$TMP/a/colod.log" || fail "colod"
cat >"$TMP/web.xml" <<XML
<domain type='kvm'><name>web</name><memory unit='MiB'>256</memory>
<vcpu>1</vcpu><os><type>hvm</type><kernel>$TOP_BUILDDIR/guest/colo-kv.elf</kernel>
<cmdline>ip=192.0.2.10/24 mode=kv</cmdline></os><devices>
<interface type='ethernet'><mac address='52:54:00:12:34:56'/><target dev='tapweb'/></interface>
<disk type='network'><source protocol='nbd'><host transport='unix' socket='$TMP/nbd.sock'/></source></disk>
</devices></domain>
XML
xl a create "$TMP/web.xml" >/dev/null || fail "create"
wait_for 20 grep -q KV-READY "$TMP/a/state/console/web.log" || fail "guest"
hpid=$(db a "SELECT helper_pid FROM domains WHERE name='web'" 2>/dev/null)
npid=$(cat "$TMP/a/run/dom-web-net0.pid")

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "== redis-benchmark -n $N -c 50 -P 16 against the unprotected demo guest"
for t in set get incr; do
	h0=$(cpu_ticks "$hpid"); n0=$(cpu_ticks "$npid")
	out=$(in_client redis-benchmark -h 192.0.2.10 -q -n "$N" -c 50 -P 16 -t "$t" 2>&1 |
		tr '\r' '\n' | grep 'requests per second')
	h1=$(cpu_ticks "$hpid"); n1=$(cpu_ticks "$npid")
	rps=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p')
	awk -v t="$t" -v rps="$rps" -v n="$N" -v hz="$hz" -v h=$((h1 - h0)) \
		-v p=$((n1 - n0)) 'BEGIN {
		printf "%-5s %10.0f req/s   host CPU per request: dom-helper %.2f us, netproxy %.2f us\n",
			toupper(t), rps, h / hz * 1e6 / n, p / hz * 1e6 / n }'
done
echo "== without pipelining (-P 1, -c 50)"
in_client redis-benchmark -h 192.0.2.10 -q -n $((N / 4)) -c 50 -t set,get 2>&1 |
	tr '\r' '\n' | grep 'requests per second'
echo "== ping round trip"
in_client ping -c 20 -i 0.05 -q 192.0.2.10 | tail -n 1
xl a destroy web >/dev/null
