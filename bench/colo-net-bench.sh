#!/bin/bash
# redis-benchmark against the demo guest unprotected, then under COLO
# (netproxy comparing every reply), in the same run and topology, with
# the ratio of requests per second and of redis-benchmark's per-request
# latency p50/p99, loaded and with one unpipelined client; and the latency
# the comparator added, from its histogram.  GET-heavy (the goal: >= 80%
# of unprotected) and SET.  Needs root, /dev/kvm, namespaces,
# redis-benchmark.  Usage: colo-net-bench.sh [N]
set -u
export TOP_BUILDDIR=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export TOP_SRCDIR=${TOP_SRCDIR:-$TOP_BUILDDIR}
N=${1:-200000}
COLO_NET_PAIR_MANUAL=1
. "$TOP_SRCDIR/tests/integration/colo-net-pair.sh"

# run TESTS [ARGS]: "rps p50 p99" of each test (latencies in ms), in the
# order TESTS names them; redis-benchmark runs them in its own order.
run() {
	local tests=$1
	shift
	in_client redis-benchmark -h "$GUEST" --csv -t "$tests" "$@" 2>&1 |
		tr -d '"\r' | awk -F, -v want="$tests" '
		$1 ~ /^[A-Z]+$/ { r[tolower($1)] = $2 " " $5 " " $7 }
		END {
			n = split(want, t, ",")
			for (i = 1; i <= n; i++)
				printf "%s ", (t[i] in r) ? r[t[i]] : "0 0 0"
		}'
}
loaded() { run get,set -n "$N" -c 50 -P 16; }
# ns_ticks NS: CPU clock ticks (user+system) of the processes in NS.
ns_ticks() {
	local t=0 pid
	for pid in $(ip netns pids "$1"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}
all_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# cpu_loaded: "loaded"'s figures, then the CPU it took per request in
# microseconds: host A's processes (its colod, helper, netproxy), host
# B's, and the rest of the machine (the client, softirq work).  The
# hosts share 2 cores here; on two machines each host's figure is what
# that host pays.
cpu_loaded() {
	local a0 b0 m0 out
	a0=$(ns_ticks "$A") b0=$(ns_ticks "$B") m0=$(all_ticks)
	out=$(loaded)
	awk -v a=$(($(ns_ticks "$A") - a0)) -v b=$(($(ns_ticks "$B") - b0)) \
		-v m=$(($(all_ticks) - m0)) -v hz="$(getconf CLK_TCK)" -v n=$((2 * N)) \
		-v out="$out" 'BEGIN {
		u = 1e6 / hz / n
		printf "%s %.2f %.2f %.2f\n", out, a * u, b * u, (m - a - b) * u }'
}
# Without queueing, the latency is the round trip plus what COLO adds.
single() { run get -n $((N / 10)) -c 1 -P 1; }
# lat_row WHAT P50_0 P99_0 P50_1 P99_1: unprotected and COLO side by side.
lat_row() {
	awk -v w="$1" -v a="$2" -v b="$3" -v c="$4" -v d="$5" 'BEGIN {
		printf "     %-26s %7.3f / %7.3f   %7.3f / %7.3f   x%.2f / x%.2f\n",
			w, a, b, c, d, (a > 0 ? c / a : 0), (b > 0 ? d / b : 0) }'
}
web_create
step "unprotected"
read -r g0 gp50_0 gp99_0 s0 sp50_0 sp99_0 ca0 cb0 cr0 <<<"$(cpu_loaded)"
read -r _ op50_0 op99_0 <<<"$(single)"
echo "   GET $g0/s  SET $s0/s"
colo_net_up
step "under COLO (checkpoint every $(xl a params | sed -n 's/^checkpoint-interval *: //p') ms)"
read -r g1 gp50_1 gp99_1 s1 sp50_1 sp99_1 ca1 cb1 cr1 <<<"$(cpu_loaded)"
read -r _ op50_1 op99_1 <<<"$(single)"
echo "   GET $g1/s  SET $s1/s"
awk -v a="$g1" -v b="$g0" -v c="$s1" -v d="$s0" 'BEGIN {
	printf "   ratio: GET %.2f, SET %.2f of unprotected (goal for GET: 0.80)\n", a / b, c / d }'
echo "   CPU per request (GET and SET loaded), microseconds:"
printf "     %-26s %9s %9s %9s\n" "" "host A" "host B" "client+kernel"
printf "     %-26s %9s %9s %9s\n" unprotected "$ca0" "$cb0" "$cr0"
printf "     %-26s %9s %9s %9s\n" "under COLO" "$ca1" "$cb1" "$cr1"
echo "   latency per request (redis-benchmark's), p50 / p99 ms:"
printf "     %-26s %17s   %17s   %s\n" "" unprotected "under COLO" "COLO/unprotected"
lat_row "GET (-c 50 -P 16)" "$gp50_0" "$gp99_0" "$gp50_1" "$gp99_1"
lat_row "SET (-c 50 -P 16)" "$sp50_0" "$sp99_0" "$sp50_1" "$sp99_1"
lat_row "GET (-c 1, no pipeline)" "$op50_0" "$op99_0" "$op50_1" "$op99_1"
expect_rc 0 xl a colo stats -n 1 web
echo "$OUT" | sed -n '/^Network/,$p' | sed 's/^/   /'
