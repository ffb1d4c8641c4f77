#!/bin/bash
# redis-benchmark against the demo guest unprotected, then under COLO
# (netproxy comparing every reply), in the same run and topology, with
# the ratio; and the latency the comparator added, from its histogram.
# GET-heavy (the goal: >= 80% of unprotected) and SET.  Needs root,
# /dev/kvm, namespaces, redis-benchmark.  Usage: colo-net-bench.sh [N]
set -u
export TOP_BUILDDIR=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export TOP_SRCDIR=${TOP_SRCDIR:-$TOP_BUILDDIR}
N=${1:-200000}
COLO_NET_PAIR_MANUAL=1
. "$TOP_SRCDIR/tests/integration/colo-net-pair.sh"

run() {	# TESTS: requests per second of each, space-separated
	in_client redis-benchmark -h "$GUEST" -q -n "$N" -c 50 -P 16 -t "$1" 2>&1 |
		tr '\r' '\n' | sed -n 's/^[A-Z]*: \([0-9.]*\) requests per second.*/\1/p' |
		tr '\n' ' '
}
web_create
step "unprotected"
read -r g0 s0 <<<"$(run get,set)"
echo "   GET $g0/s  SET $s0/s"
colo_net_up
step "under COLO (checkpoint every $(xl a params | sed -n 's/^checkpoint-interval *: //p') ms)"
read -r g1 s1 <<<"$(run get,set)"
echo "   GET $g1/s  SET $s1/s"
awk -v a="$g1" -v b="$g0" -v c="$s1" -v d="$s0" 'BEGIN {
	printf "   ratio: GET %.2f, SET %.2f of unprotected (goal for GET: 0.80)\n", a / b, c / d }'
expect_rc 0 xl a colo stats -n 1 web
echo "$OUT" | sed -n '/^Network/,$p' | sed 's/^/   /'
