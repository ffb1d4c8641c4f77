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
read -r g0 gp50_0 gp99_0 s0 sp50_0 sp99_0 <<<"$(loaded)"
read -r _ op50_0 op99_0 <<<"$(single)"
echo "   GET $g0/s  SET $s0/s"
colo_net_up
step "under COLO (checkpoint every $(xl a params | sed -n 's/^checkpoint-interval *: //p') ms)"
read -r g1 gp50_1 gp99_1 s1 sp50_1 sp99_1 <<<"$(loaded)"
read -r _ op50_1 op99_1 <<<"$(single)"
echo "   GET $g1/s  SET $s1/s"
awk -v a="$g1" -v b="$g0" -v c="$s1" -v d="$s0" 'BEGIN {
	printf "   ratio: GET %.2f, SET %.2f of unprotected (goal for GET: 0.80)\n", a / b, c / d }'
echo "   latency per request (redis-benchmark's), p50 / p99 ms:"
printf "     %-26s %17s   %17s   %s\n" "" unprotected "under COLO" "COLO/unprotected"
lat_row "GET (-c 50 -P 16)" "$gp50_0" "$gp99_0" "$gp50_1" "$gp99_1"
lat_row "SET (-c 50 -P 16)" "$sp50_0" "$sp99_0" "$sp50_1" "$sp99_1"
lat_row "GET (-c 1, no pipeline)" "$op50_0" "$op99_0" "$op50_1" "$op99_1"
expect_rc 0 xl a colo stats -n 1 web
echo "$OUT" | sed -n '/^Network/,$p' | sed 's/^/   /'
