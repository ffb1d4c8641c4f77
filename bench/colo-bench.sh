#!/bin/bash
# COLO benchmarks, each figure beside a baseline measured in this run:
#  1. the primary's pause per checkpoint against the number of dirty
#     pages (1k to 50k), beside a memcpy of that many scattered pages;
#     goal: pause <= 1.5 x copy + 0.5 ms;
#  2. checkpoint transfer throughput (bytes / time from the first byte
#     sent until the secondary has them all, CRCs included) beside
#     loopback TCP of one cache-hot buffer (goal >= 80 %) and of as much
#     cold memory as a big checkpoint stages;
#  3. failover time, from SIGKILL of the primary helper until the
#     secondary's guest prints its next line (it reports every 20 ms),
#     over FAILOVER_TRIALS trials (default 10) on the two-host topology.
# Needs /dev/kvm; part 3 needs root and namespaces.  BENCH_PAGES and
# BENCH_ROUNDS (5) choose the sizes and checkpoints per size.
set -u
export TOP_BUILDDIR=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export TOP_SRCDIR=${TOP_SRCDIR:-$TOP_BUILDDIR}
BASE=$TOP_BUILDDIR/bench/baseline
HELPER=$TOP_BUILDDIR/colo-dom-helper
CTL_RAW=$TOP_BUILDDIR/tests/tools/ctl-raw
G=$TOP_BUILDDIR/tests/guests
W=$(mktemp -d /tmp/colo-bench.XXXXXX)
PIDS=()
trap 'kill -9 "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "colo-bench: /dev/kvm is not usable; skipped"; exit 0; }

call() { "$CTL_RAW" "ipc://$W/$1.ctl" "$2"; }
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p"; }
waitfor() {	# SECONDS CMD...
	local i
	for ((i = 0; i < $1 * 50; i++)); do
		"${@:2}" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	return 1
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# pair N: helpers p (primary) and s in COLO, the guest dirtying N pages
# on each "d"; manual checkpoints only.
pair() {
	local n=$1 port
	cat >"$W/dirty.xml" <<XML
<domain type='kvm'><name>bench</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>
<os><type>hvm</type><kernel>$G/dirty.elf</kernel>
<cmdline>dirty_base=0x1000000 dirty_count=$n dirty_stride=2</cmdline></os></domain>
XML
	rm -f "$W"/p.con "$W"/s.con "$W"/s.status
	"$HELPER" --config "$W/dirty.xml" --ctl "ipc://$W/p.ctl" \
		--console-log "$W/p.con" --run-dir "$W" 2>"$W/p.log" &
	PIDS+=($!)
	"$HELPER" --config "$W/dirty.xml" --incoming tcp:127.0.0.1 \
		--ctl "ipc://$W/s.ctl" --console-log "$W/s.con" --run-dir "$W" \
		--status-fd 3 3>"$W/s.status" 2>"$W/s.log" &
	PIDS+=($!)
	waitfor 20 grep -q "OK port=" "$W/s.status" || { echo "secondary did not start"; return 1; }
	waitfor 20 grep -q "DIRTY-READY" "$W/p.con" || { echo "guest did not start"; return 1; }
	port=$(sed -n 's/OK port=//p' "$W/s.status")
	call p "{\"execute\":\"helper-colo-start\",\"arguments\":{\"host\":\"127.0.0.1\",\"port\":$port,\"max-downtime\":300,\"interval\":3600000}}" |
		grep -q return || { echo "colo-start failed"; return 1; }
	waitfor 60 bash -c "$CTL_RAW ipc://$W/p.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":true'"
}

unpair() {
	call p '{"execute":"helper-quit"}' >/dev/null 2>&1
	call s '{"execute":"helper-quit"}' >/dev/null 2>&1
	wait "${PIDS[@]}" 2>/dev/null
	PIDS=()
}

# one_checkpoint ROUND: dirty the set, checkpoint, print
# "pause_us bytes duration_us pages".
one_checkpoint() {
	local r=$1 c0 st
	call p "{\"execute\":\"helper-console-write\",\"arguments\":{\"data\":\"d\"}}" >/dev/null
	waitfor 30 bash -c "tr -d '\r' <$W/p.con | grep -q 'DIRTIED $r\$'" || return 1
	c0=$(call p '{"execute":"helper-query-colo"}' | field checkpoints)
	call p '{"execute":"helper-colo-checkpoint","arguments":{"hold":false}}' >/dev/null
	waitfor 30 bash -c "[ \$($CTL_RAW ipc://$W/p.ctl '{\"execute\":\"helper-query-colo\"}' |
		sed -n 's/.*\"checkpoints\":\\([0-9]*\\).*/\\1/p') -gt $c0 ]" || return 1
	st=$(call p '{"execute":"helper-query-colo"}')
	echo "$(echo "$st" | field last-pause-us) $(echo "$st" | field last-bytes)" \
		"$(echo "$st" | field last-transfer-us) $(echo "$st" | field last-dirty-pages)"
}

echo "== COLO checkpoint pause and transfer, two helpers on loopback"
TCP=$("$BASE" tcp 2048)
COLD=$("$BASE" tcpcold 200)
echo "   baseline: loopback TCP $TCP MB/s (one hot 1 MiB buffer), $COLD MB/s from 200 MiB of cold memory"
printf '   %7s %7s %10s %10s %8s %9s %10s %7s %8s\n' pages dirty "pause(ms)" "copy(ms)" \
	ratio "goal(ms)" "xfer MB/s" "of TCP" "of cold"
for n in ${BENCH_PAGES:-1000 5000 10000 25000 50000}; do
	pair "$n" || { unpair; continue; }
	: >"$W/rounds"
	for ((r = 1; r <= ${BENCH_ROUNDS:-5}; r++)); do
		one_checkpoint "$r" >>"$W/rounds" || break
	done
	unpair
	[ -s "$W/rounds" ] || { echo "   $n: no checkpoint measured"; continue; }
	pause=$(awk '{ print $1 }' "$W/rounds" | median)
	mbps=$(awk '{ print int($2 / $3) }' "$W/rounds" | median)
	pages=$(awk '{ print $4 }' "$W/rounds" | median)
	copy=$("$BASE" memcpy "$pages")
	awk -v n="$n" -v d="$pages" -v p="$pause" -v c="$copy" -v m="$mbps" -v t="$TCP" \
		-v k="$COLD" 'BEGIN {
		goal = 1.5 * c + 500
		printf "   %7d %7d %10.3f %10.3f %8.2f %9.3f %10d %6.0f%% %7.0f%%  %s, %s\n", n, d,
			p / 1000, c / 1000, p / c, goal / 1000, m, 100 * m / t, 100 * m / k,
			(p <= goal) ? "pause goal met" : "pause goal MISSED",
			(m >= 0.8 * t) ? "transfer goal met" : "transfer goal (80% of TCP) MISSED"
	}'
done

[ "${FAILOVER_TRIALS:-10}" -gt 0 ] || exit 0
[ "$(id -u)" -eq 0 ] && ip netns add "probe$$" 2>/dev/null && ip netns del "probe$$" || {
	echo "== failover time: needs root and namespaces; skipped"; exit 0; }
echo "== failover time: SIGKILL of the primary helper until the secondary's guest speaks"
TRIALS=${FAILOVER_TRIALS:-10} COLO_PAIR_REPORT_MS=20 \
	bash "$TOP_SRCDIR/bench/failover-trials.sh"
