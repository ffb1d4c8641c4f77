#!/bin/bash
# blkrep benchmarks, each beside a local baseline measured in this run,
# on files in /var/tmp (a real disk, not tmpfs).  Five targets: the
# plain file; colo-blkrep alone; colo-blkrep replicating to a second
# colo-blkrep over loopback TCP whose image is on the same disk; the
# same with the secondary's image on tmpfs, standing in for the disk of
# the secondary's own host (where it runs in production: one disk here
# takes both copies' writeback); and replicating to a COLO secondary
# (secondary mode: every pass runs in an epoch of its own, a checkpoint
# loaded before it, so every block first saves its pre-image, as a
# guest streaming to its disk under COLO does).
#  1. 1 MiB sequential writes at depth 4 (qemu-img bench), 1 GiB a
#     pass: a first pass fills the files; then the median of three
#     passes, plain and with a flush every 16 writes; with the CPU time
#     the blkrep processes used per GiB.  Goal: replicated >= 70 % of
#     local.  Shown against both local baselines: the plain file, and
#     colo-blkrep alone (the path every guest disk takes, COLO or not,
#     so replicated/alone is what protecting a guest costs it).  On this machine (2 vCPUs, a virtual disk the host caches)
#     a pass is bound by CPU and memory, not by the disk: the time of a
#     first pass over a new file depends mostly on how much page cache
#     the kernel must reclaim first (0.16 to 1.8 s for the same local
#     file), so it is not shown.
#  2. 4 KiB writes at random offsets, depth 1 (bench/nbd-bench): op/s
#     and latency p50/p99, plain and with a flush every 16 writes.
#  3. A full resync of 1 GiB of written data, beside a plain copy.
# Every measurement starts after a sync, so one run's writeback does
# not land on the next.
set -u
TOP_BUILDDIR=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BLKREP=$TOP_BUILDDIR/colo-blkrep
NBDB=$TOP_BUILDDIR/bench/nbd-bench
command -v qemu-img >/dev/null || { echo "blkrep-bench: qemu-img missing; skipped"; exit 0; }
[ -x "$NBDB" ] || { echo "blkrep-bench: build bench/nbd-bench first (make bench)"; exit 1; }
W=$(mktemp -d -p /var/tmp)
SHM=$(mktemp -d -p /dev/shm)	# the secondary host's own disk, stood in for
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$W" "$SHM"' EXIT
SIZE=1G

now_ms() { echo $(($(date +%s%N) / 1000000)); }
serve() {	# NAME ARGS...: starts a blkrep, its pid in $W/NAME.pid
	local n=$1
	shift
	rm -f "$W/$n.sock"
	"$BLKREP" --log "file:$W/$n.log" "$@" &
	PIDS+=($!)
	echo $! >"$W/$n.pid"
}
wait_sock() {
	for ((i = 0; i < 100; i++)); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}
cpu_ticks() {	# NAME...: user+system clock ticks of those blkreps
	local t=0 n
	for n in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$(cat "$W/$n.pid")/stat")))
	done
	echo $t
}
# qbench TARGET ARGS...: seconds one qemu-img bench write run takes;
# a run to the COLO secondary starts after a checkpoint.
qbench() {
	local t=$1
	shift
	[ "$t" = "${T_CPRIM:-}" ] && checkpoint
	sync
	qemu-img bench -f raw -w "$@" "$t" 2>&1 | sed -n 's/^Run completed in \([0-9.]*\) seconds./\1/p'
}
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

# Allocated up front, so no run pays for block allocation that another
# does not.
for f in local alone prim sec prim2 cprim csec; do fallocate -l $SIZE "$W/$f.img"; done
fallocate -l $SIZE "$SHM/sec2.img"
serve alone --image "$W/alone.img" --unix "$W/alone.sock"
serve sec --image "$W/sec.img" --listen 127.0.0.1:10899
serve sec2 --image "$SHM/sec2.img" --listen 127.0.0.1:10897
sleep 0.3
serve prim --image "$W/prim.img" --unix "$W/prim.sock" --replicate nbd://127.0.0.1:10899
serve prim2 --image "$W/prim2.img" --unix "$W/prim2.sock" --replicate nbd://127.0.0.1:10897
mkdir -p "$W/ovl"
serve csec --image "$W/csec.img" --listen 127.0.0.1:10898 --secondary "$W/ovl" \
	--ctl "ipc://$W/csec.ctl"
sleep 0.3
# checkpoint: the COLO secondary loads checkpoint N (its boundary
# marked first, as the primary does at each pause): the pre-images of
# the epoch that ends are dropped, and the next writes start a new one.
EPOCH=0
checkpoint() {
	EPOCH=$((EPOCH + 1))
	"$TOP_BUILDDIR/tests/tools/ctl-raw" "ipc://$W/csec.ctl" \
		"{\"execute\":\"blkrep-boundary\",\"arguments\":{\"seq\":$EPOCH}}" >/dev/null
	"$TOP_BUILDDIR/tests/tools/ctl-raw" "ipc://$W/csec.ctl" \
		"{\"execute\":\"colo-phase\",\"arguments\":{\"domain\":\"bench\",\"phase\":\"loaded\",\"seq\":$EPOCH,\"mode\":\"secondary\"}}" >/dev/null
}
checkpoint
serve cprim --image "$W/cprim.img" --unix "$W/cprim.sock" --replicate nbd://127.0.0.1:10898
wait_sock "$W/alone.sock" && wait_sock "$W/prim.sock" && wait_sock "$W/prim2.sock" &&
	wait_sock "$W/cprim.sock" ||
	{ echo "blkrep did not start"; exit 1; }
T_LOCAL=$W/local.img
T_ALONE="nbd+unix:///?socket=$W/alone.sock"
T_PRIM="nbd+unix:///?socket=$W/prim.sock"
T_PRIM2="nbd+unix:///?socket=$W/prim2.sock"
T_CPRIM="nbd+unix:///?socket=$W/cprim.sock"
TARGETS=("$T_LOCAL" "$T_ALONE" "$T_PRIM" "$T_PRIM2" "$T_CPRIM")
# The blkrep processes behind each target, for the CPU figures, and the
# image files its writes land in.
PROCS=("" "alone" "prim sec" "prim2 sec2" "cprim csec")
header() {
	printf '   %-24s %11s %11s %11s %11s %11s  %-20s  %-20s\n' "$1" local alone \
		replicated "repl-own" to-colo-sec "of local: repl/own/colo" "of alone: repl/own/colo"
}
# row NAME V_LOCAL V_ALONE V_REPL V_OWN V_COLO: seconds per GiB, shown
# as MB/s and as percentages of each baseline.
row() {
	awk -v n="$1" -v l="$2" -v a="$3" -v r="$4" -v o="$5" -v c="$6" 'BEGIN {
		g = 1073.741824
		printf "   %-24s %6.0f MB/s %6.0f MB/s %6.0f MB/s %6.0f MB/s %6.0f MB/s  %5.0f%% %5.0f%% %5.0f%%    %5.0f%% %5.0f%% %5.0f%%\n",
			n, g / l, g / a, g / r, g / o, g / c, 100 * l / r, 100 * l / o, 100 * l / c,
			100 * a / r, 100 * a / o, 100 * a / c }'
}

echo "== blkrep: 1 MiB sequential writes, depth 4, 1 GiB a pass (qemu-img bench)"
header "workload"
declare -a warm flush cpu
for i in 0 1 2 3 4; do
	t=${TARGETS[$i]}
	qbench "$t" -s 1M -c 1024 -d 4 >/dev/null	# fills the file
	c0=0
	[ -n "${PROCS[$i]}" ] && c0=$(cpu_ticks ${PROCS[$i]})
	warm[$i]=$(median3 "$(qbench "$t" -s 1M -c 1024 -d 4)" \
		"$(qbench "$t" -s 1M -c 1024 -d 4)" "$(qbench "$t" -s 1M -c 1024 -d 4)")
	cpu[$i]=0
	[ -n "${PROCS[$i]}" ] && cpu[$i]=$(( $(cpu_ticks ${PROCS[$i]}) - c0 ))
	flush[$i]=$(median3 "$(qbench "$t" -s 1M -c 1024 -d 4 --flush-interval=16)" \
		"$(qbench "$t" -s 1M -c 1024 -d 4 --flush-interval=16)" \
		"$(qbench "$t" -s 1M -c 1024 -d 4 --flush-interval=16)")
done
row "median of 3" "${warm[@]}"
row "flush every 16, median" "${flush[@]}"
hz=$(getconf CLK_TCK)
awk -v hz="$hz" -v a="${cpu[1]}" -v r="${cpu[2]}" -v o="${cpu[3]}" -v c="${cpu[4]}" 'BEGIN {
	printf "   blkrep CPU per GiB written (both sides): alone %.2f s, replicated %.2f s, repl-own %.2f s, to-colo-sec %.2f s\n",
		a / hz / 3, r / hz / 3, o / hz / 3, c / hz / 3 }'
echo "   (goal: replicated >= 70% of local.  The plain file here is memcpy into the page"
echo "    cache; blkrep adds socket copies on the same 2 vCPUs that run the client and both"
echo "    sides.  A COLO secondary also saves each block's pre-image once an epoch)"

echo "== blkrep: 4 KiB writes at random offsets, depth 1 (bench/nbd-bench)"
printf '   %-30s %-30s %-30s\n' target "op/s  p50/p99 latency" "with a flush every 16"
names=(local alone replicated repl-own to-colo-sec)
for i in 0 1 2 3 4; do
	[ "$i" = 4 ] && checkpoint
	sync
	read -r ops p50 p99 _ < <("$NBDB" "${TARGETS[$i]}" 4096 5000 1)
	[ "$i" = 4 ] && checkpoint
	sync
	read -r fops fp50 fp99 _ < <("$NBDB" "${TARGETS[$i]}" 4096 2000 1 16)
	printf '   %-30s %6s op/s %7s/%-7s us  %6s op/s %7s/%-7s us\n' "${names[$i]}" \
		"$ops" "$p50" "$p99" "$fops" "$fp50" "$fp99"
done

echo "== resync of 1 GiB written data vs a plain copy"
qemu-img bench -f raw -w -s 1M -c 1024 -d 4 --pattern=0x5a "$W/local.img" >/dev/null 2>&1
sync
t0=$(now_ms)
cp --sparse=never "$W/local.img" "$W/copy.img" && sync -f "$W/copy.img"
t_copy=$(($(now_ms) - t0))
kill "${PIDS[@]}" 2>/dev/null
wait 2>/dev/null
PIDS=()
rm -f "$W/sec.img" "$W/local.img.dirty"
fallocate -l $SIZE "$W/sec.img"
sync
serve sec --image "$W/sec.img" --listen 127.0.0.1:10899
sleep 0.3
serve prim --image "$W/local.img" --unix "$W/prim.sock" --replicate nbd://127.0.0.1:10899 --resync-full
for ((i = 0; i < 1200; i++)); do grep -q "resync done" "$W/prim.log" 2>/dev/null && break; sleep 0.05; done
t_rs=$(sed -n 's/.*resync done: [0-9]* blocks copied in \([0-9]*\) ms.*/\1/p' "$W/prim.log")
awk -v c="$t_copy" -v r="${t_rs:-0}" 'BEGIN {
	printf "   plain copy %d ms (%.0f MB/s), resync %d ms (%.0f MB/s), %.0f%% of the copy\n",
		c, 1073.741824 / c * 1000, r, r ? 1073.741824 / r * 1000 : 0, r ? 100 * c / r : 0 }'
