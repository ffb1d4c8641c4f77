#!/bin/bash
# colo-blkrep's NBD export, checked with real clients: nbdinfo,
# qemu-img info and compare, qemu-io write+read verification, nbdcopy,
# over the unix socket and TCP, read-only exports; then malformed
# requests (tests/tools/nbd-evil) get an error reply or a close while a
# concurrent qemu-io client keeps being served.
. "$(dirname "$0")/lib.sh"
need_cmd nbdinfo
need_cmd qemu-img
need_cmd qemu-io
need_cmd nbdcopy
BLKREP=$TOP_BUILDDIR/colo-blkrep
EVIL=$TOP_BUILDDIR/tests/tools/nbd-evil
SIZE=$((64 << 20))
URI="nbd+unix:///disk0?socket=$TMP/blk.sock"

# serve NAME ARGS...: colo-blkrep in the background, waits for its socket.
serve() {
	local n=$1
	shift
	"$BLKREP" "$@" --log "file:$TMP/$n.log" &
	CHILD_PIDS+=($!)
}

step "bad command lines are refused"
expect_rc 2 "$BLKREP" --image /nonexistent
expect_rc 1 "$BLKREP" --image /nonexistent --unix "$TMP/x.sock"
contains "$ERR" "/nonexistent: No such file or directory"
expect_rc 1 "$BLKREP" --image "$TMP" --unix "$TMP/x.sock"
contains "$ERR" "Is a directory"

step "nbdinfo and qemu-img see the export"
truncate -s $SIZE "$TMP/disk.img"
serve blk --image "$TMP/disk.img" --unix "$TMP/blk.sock" --export disk0
wait_for 5 test -S "$TMP/blk.sock" || fail "no socket"
expect_rc 0 nbdinfo "$URI"
contains "$OUT" "export-size: $SIZE"
contains "$OUT" "can_flush: true"
contains "$OUT" "can_fua: true"
contains "$OUT" "can_zero: true"
expect_rc 0 nbdinfo --list "nbd+unix://?socket=$TMP/blk.sock"
contains "$OUT" 'export="disk0"'
expect_rc 0 qemu-img info "$URI"
contains "$OUT" "virtual size: 64 MiB ($SIZE bytes)"
expect_rc 1 nbdinfo "nbd+unix:///other?socket=$TMP/blk.sock"

step "qemu-io writes and reads back patterns, zeroes, FUA, flush, discard"
expect_rc 0 qemu-io -f raw -c 'write -P 0xa5 0 1M' -c 'write -P 0x3c -f 5M 64k' \
	-c 'write -z 2M 128k' -c 'write -P 0x77 63M 1M' -c flush \
	-c 'discard 10M 1M' -c 'read -P 0xa5 0 1M' -c 'read -P 0x3c 5M 64k' \
	-c 'read -P 0 2M 128k' -c 'read -P 0x77 63M 1M' "$URI"
! grep -q 'Pattern verification failed' <<<"$OUT" || fail "$OUT"

step "the file holds exactly what was written: qemu-img compare, nbdcopy"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/disk.img" "$URI"
contains "$OUT" "Images are identical."
expect_rc 0 nbdcopy "$URI" "$TMP/copy.img"
cmp "$TMP/copy.img" "$TMP/disk.img" || fail "nbdcopy's copy differs"
expect_rc 0 qemu-io -f raw -c 'read -P 0xa5 0 1M' "$TMP/disk.img"

step "TCP and read-only"
cp "$TMP/disk.img" "$TMP/ro.img"
serve ro --image "$TMP/ro.img" --listen 127.0.0.1:10809 --read-only
wait_for 5 nbdinfo nbd://127.0.0.1:10809 || fail "no TCP export"
expect_rc 0 nbdinfo nbd://127.0.0.1:10809
contains "$OUT" "is_read_only: true"
expect_rc 1 qemu-io -f raw -c 'write -P 1 0 4k' nbd://127.0.0.1:10809
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/disk.img" nbd://127.0.0.1:10809

step "malformed requests: an error reply or a close, and service goes on"
qemu-io -f raw -c 'write -P 0x11 32M 4M' -c 'read -P 0x11 32M 4M' \
	-c 'write -P 0x22 40M 4M' -c 'read -P 0x22 40M 4M' "$URI" >"$TMP/bg.out" 2>&1 &
bg=$!
expect_rc 0 "$EVIL" "$TMP/blk.sock" disk0 $SIZE
echo "$OUT" | sed 's/^/   /'
wait $bg || fail "the concurrent client failed: $(cat "$TMP/bg.out")"
! grep -q 'verification failed' "$TMP/bg.out" || fail "$(cat "$TMP/bg.out")"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/disk.img" "$URI"
grep -q "bad request magic; disconnected" "$TMP/blk.log" || fail "not logged"
kill -0 "${CHILD_PIDS[0]}" || fail "colo-blkrep died"

step "SIGTERM: a clean exit that removes the socket"
kill "${CHILD_PIDS[0]}"
wait_for 5 dead "${CHILD_PIDS[0]}" || fail "still running"
[ ! -e "$TMP/blk.sock" ] || fail "socket left behind"
echo ok
