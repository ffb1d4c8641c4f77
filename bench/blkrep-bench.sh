#!/bin/bash
# blkrep benchmarks, each beside a local baseline measured in this run,
# on files in /var/tmp (a real disk, not tmpfs):
#  1. replicated writes: 4 KiB writes at queue depth 1 (latency), 1 MiB
#     sequential writes at depth 4, and the same with a flush every 16,
#     by qemu-img bench against the plain file, colo-blkrep alone,
#     colo-blkrep replicating to a second colo-blkrep over loopback TCP,
#     and replicating to a COLO secondary (secondary mode, past its
#     first epoch boundary, so every block first saves its pre-image);
#     goal: replicated sequential >= 70 % of local;
#  2. a full resync of 1 GiB of written data, beside a plain copy of the
#     same file.
set -u
TOP_BUILDDIR=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BLKREP=$TOP_BUILDDIR/colo-blkrep
command -v qemu-img >/dev/null || { echo "blkrep-bench: qemu-img missing; skipped"; exit 0; }
W=$(mktemp -d /var/tmp/colo-blkbench.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
SIZE=1G

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# bench TARGET ARGS...: seconds qemu-img bench takes.
bench() {
	local t=$1
	shift
	qemu-img bench -f raw -w "$@" "$t" 2>&1 | sed -n 's/^Run completed in \([0-9.]*\) seconds./\1/p'
}
serve() {	# NAME ARGS...
	local n=$1
	shift
	rm -f "$W/$n.sock"
	"$BLKREP" --log "file:$W/$n.log" "$@" &
	PIDS+=($!)
}
wait_sock() {
	for ((i = 0; i < 100; i++)); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}

# Allocated up front, so no run pays for block allocation that another
# does not.
for f in local alone prim sec cprim csec; do fallocate -l $SIZE "$W/$f.img"; done
serve alone --image "$W/alone.img" --unix "$W/alone.sock"
serve sec --image "$W/sec.img" --listen 127.0.0.1:10899
sleep 0.3
serve prim --image "$W/prim.img" --unix "$W/prim.sock" --replicate nbd://127.0.0.1:10899
mkdir -p "$W/ovl"
serve csec --image "$W/csec.img" --listen 127.0.0.1:10898 --secondary "$W/ovl" \
	--ctl "ipc://$W/csec.ctl"
sleep 0.3
"$TOP_BUILDDIR/tests/tools/ctl-raw" "ipc://$W/csec.ctl" \
	'{"execute":"blkrep-boundary","arguments":{"seq":1}}' >/dev/null
serve cprim --image "$W/cprim.img" --unix "$W/cprim.sock" --replicate nbd://127.0.0.1:10898
wait_sock "$W/alone.sock" && wait_sock "$W/prim.sock" && wait_sock "$W/cprim.sock" ||
	{ echo "blkrep did not start"; exit 1; }
ALONE="nbd+unix:///?socket=$W/alone.sock"
PRIM="nbd+unix:///?socket=$W/prim.sock"
CPRIM="nbd+unix:///?socket=$W/cprim.sock"

echo "== blkrep writes: local file vs blkrep alone vs blkrep replicated (loopback)"
printf '   %-28s %14s %14s %14s %14s %10s %10s\n' workload local alone replicated \
	"to-colo-sec" "repl/local" "colo/local"
row() {	# NAME UNIT SCALE ARGS...: UNIT per second = SCALE / seconds
	local name=$1 unit=$2 scale=$3 l a r c
	shift 3
	l=$(bench "$W/local.img" "$@")
	a=$(bench "$ALONE" "$@")
	r=$(bench "$PRIM" "$@")
	c=$(bench "$CPRIM" "$@")
	awk -v n="$name" -v u="$unit" -v s="$scale" -v l="$l" -v a="$a" -v r="$r" -v c="$c" 'BEGIN {
		printf "   %-28s %9.0f %-4s %9.0f %-4s %9.0f %-4s %9.0f %-4s %9.0f%% %9.0f%%\n", n,
			s / l, u, s / a, u, s / r, u, s / c, u, 100 * l / r, 100 * l / c }'
}
row "4 KiB writes, depth 1" "op/s" 5000 -s 4k -S 64k -c 5000 -d 1
row "1 MiB sequential, depth 4" "MB/s" 1048.576 -s 1M -c 1000 -d 4
row "1 MiB seq + flush every 16" "MB/s" 1048.576 -s 1M -c 1000 -d 4 --flush-interval=16
echo "   (goal: replicated sequential >= 70% of local)"

echo "== resync of 1 GiB written data vs a plain copy"
qemu-img bench -f raw -w -s 1M -c 1024 -d 4 --pattern=0x5a "$W/local.img" >/dev/null 2>&1
t0=$(now_ms)
cp --sparse=never "$W/local.img" "$W/copy.img" && sync -f "$W/copy.img"
t_copy=$(($(now_ms) - t0))
kill "${PIDS[@]}" 2>/dev/null
wait 2>/dev/null
PIDS=()
rm -f "$W/sec.img" "$W/local.img.dirty"
fallocate -l $SIZE "$W/sec.img"
serve sec --image "$W/sec.img" --listen 127.0.0.1:10899
sleep 0.3
serve prim --image "$W/local.img" --unix "$W/prim.sock" --replicate nbd://127.0.0.1:10899 --resync-full
for ((i = 0; i < 1200; i++)); do grep -q "resync done" "$W/prim.log" 2>/dev/null && break; sleep 0.05; done
t_rs=$(sed -n 's/.*resync done: [0-9]* blocks copied in \([0-9]*\) ms.*/\1/p' "$W/prim.log")
awk -v c="$t_copy" -v r="${t_rs:-0}" 'BEGIN {
	printf "   plain copy %d ms (%.0f MB/s), resync %d ms (%.0f MB/s), %.0f%% of the copy\n",
		c, 1073.741824 / c * 1000, r, r ? 1073.741824 / r * 1000 : 0, r ? 100 * c / r : 0 }'
