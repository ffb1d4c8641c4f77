#!/bin/bash
# colo-blkrep as a COLO secondary (--secondary): the primary's writes
# land in the disk with their pre-images kept per epoch in the hidden
# overlay; the SVM's export shows active, then hidden, then the disk;
# a loaded checkpoint empties the active overlay and drops only the
# pre-images it covers (DESIGN §6, Epochs); the overlays survive a
# restart; a takeover commits the SVM's view into the disk, also when
# the commit is killed half way and resumed, and removes the disk's sync
# token before it changes anything; after it, the primary's
# writes are refused.  Driven with qemu-io, nbdcopy and the control
# socket, as the helpers and the primary's blkrep would.
. "$(dirname "$0")/lib.sh"
need_cmd qemu-io
need_cmd nbdcopy
BLKREP=$TOP_BUILDDIR/colo-blkrep
SOCK=$TMP/s.sock
PRIM="nbd+unix:///?socket=$SOCK"
SVM="nbd+unix:///svm?socket=$SOCK"
CTL=ipc://$TMP/s.ctl
mkdir -p "$TMP/ovl"

start() {
	rm -f "$SOCK"
	"$BLKREP" --image "$TMP/disk.img" --unix "$SOCK" --secondary "$TMP/ovl" \
		--ctl "$CTL" --log "file:$TMP/s.log" --log-level debug &
	SPID=$!
	CHILD_PIDS+=($SPID)
	wait_for 5 test -S "$SOCK" || fail "no blkrep: $(cat "$TMP/s.log")"
}
ctl() { "$CTL_RAW" "$CTL" "$1"; }
phase() {	# PHASE SEQ [TAKEOVER]
	ctl "{\"execute\":\"colo-phase\",\"arguments\":{\"domain\":\"web\",\"phase\":\"$1\",\"seq\":$2,\"mode\":\"secondary\"${3:+,\"takeover\":$3}}}"
}
boundary() { ctl "{\"execute\":\"blkrep-boundary\",\"arguments\":{\"seq\":$1}}"; }
io() {	# URI COMMAND: qemu-io must succeed, and a read must verify
	qemu-io -f raw -c "$2" "$1" >"$TMP/io" 2>&1 || fail "qemu-io $2 on $1: $(cat "$TMP/io")"
	! grep -q "Pattern verification failed" "$TMP/io" || fail "$2 on $1: $(head -3 "$TMP/io")"
}
hash_of() { nbdcopy "$1" - | sha256sum | cut -d' ' -f1; }

truncate -s 4M "$TMP/disk.img"
qemu-io -f raw -c "write -P 0xaa 0 1M" "$TMP/disk.img" >/dev/null || fail "seed"
start

step "before the first boundary (the initial copy) no pre-image is kept"
io "$PRIM" "write -P 0xaa 1M 64k"
contains "$(ctl '{"execute":"blkrep-query-stats"}')" '"epoch":0,'
contains "$(ctl '{"execute":"blkrep-query-stats"}')" '"pre-images":0,'

step "the SVM's view hides primary writes of an epoch it has not loaded"
contains "$(boundary 1)" '"return"'
io "$PRIM" "write -P 0xbb 0 64k"
io "$SVM" "read -P 0xaa 0 64k"
io "$PRIM" "read -P 0xbb 0 64k"
io "$SVM" "write -P 0xcc 128k 4k"
io "$SVM" "read -P 0xcc 128k 4k"
io "$SVM" "read -P 0xaa 132k 4k"
io "$PRIM" "read -P 0xaa 128k 4k"
io "$SVM" "write -P 0x11 1000 10"	# partial block: read-modify-write
io "$SVM" "read -P 0xaa 0 1000"
io "$SVM" "read -P 0x11 1000 10"

step "loading checkpoint 1: active emptied, epoch-2 pre-images kept"
contains "$(phase loaded 1)" '"return"'
io "$SVM" "read -P 0xaa 0 64k"
io "$SVM" "read -P 0xaa 128k 4k"
contains "$(ctl '{"execute":"blkrep-query-stats"}')" '"active-blocks":0'

step "the next epoch: after loading 2 the view has epoch 2, not epoch 3"
contains "$(boundary 2)" '"return"'
io "$PRIM" "write -P 0xdd 0 4k"
contains "$(phase loaded 2)" '"return"'
io "$SVM" "read -P 0xbb 0 64k"
io "$PRIM" "read -P 0xdd 0 4k"
s=$(ctl '{"execute":"blkrep-query-stats"}')
contains "$s" '"epoch":3'
contains "$s" '"hidden-blocks":1'
echo "   $s"

step "the overlays survive a restart"
io "$SVM" "write -P 0xee 8k 4k"
kill "$SPID"
wait "$SPID" 2>/dev/null
start
io "$SVM" "read -P 0xbb 0 4k"
io "$SVM" "read -P 0xee 8k 4k"
io "$PRIM" "read -P 0xdd 0 4k"
view=$(hash_of "$SVM")

step "takeover killed half way: the commit resumes at the next start"
kill "$SPID"
wait "$SPID" 2>/dev/null
rm -f "$SOCK"
# colod's sync token says the image holds nothing but the primary's
# writes: it must be gone before the commit changes the disk.
echo 00112233445566778899aabbccddeeff >"$TMP/disk.sync"
COLO_BLKREP_TEST_CRASH_COMMIT=1 "$BLKREP" --image "$TMP/disk.img" --unix "$SOCK" \
	--secondary "$TMP/ovl" --sync-token "$TMP/disk.sync" --ctl "$CTL" \
	--log "file:$TMP/s.log" &
SPID=$!
CHILD_PIDS+=($SPID)
wait_for 5 test -S "$SOCK" || fail "no blkrep"
phase exit 2 true >/dev/null 2>&1 || true
wait "$SPID" 2>/dev/null
grep -q "SIGKILL in the middle of the commit" "$TMP/s.log" || fail "the knob did not fire"
[ ! -e "$TMP/disk.sync" ] || fail "the sync token outlived the start of the commit"
start
grep -q "finishing a failover commit" "$TMP/s.log" || fail "the commit was not resumed"
[ "$(sha256sum <"$TMP/disk.img" | cut -d' ' -f1)" = "$view" ] ||
	fail "after the resumed commit the disk is not the SVM's view"
echo "   the disk now equals the SVM's view ($view)"

step "a committed secondary is a plain disk; the primary's writes are refused"
contains "$(phase exit 2 true)" '"return"'
contains "$(ctl '{"execute":"blkrep-query-stats"}')" '"taken-over":true'
io "$SVM" "read -P 0xbb 0 4k"
io "$SVM" "write -P 0x77 0 4k"
io "$SVM" "read -P 0x77 0 4k"
! qemu-io -f raw -c "write -P 0x66 0 4k" "$PRIM" >"$TMP/io" 2>&1 ||
	fail "a primary write was accepted after the takeover"
grep -qi "permission\|not permitted\|EPERM" "$TMP/io" || fail "unexpected error: $(cat "$TMP/io")"
[ "$(od -An -tx1 -N1 "$TMP/disk.img" | tr -d ' ')" = 77 ] || fail "the SVM's write did not reach the disk"

step "a primary blkrep marks the epoch boundary at the paused phase"
kill "$SPID"
wait "$SPID" 2>/dev/null
rm -rf "$TMP/ovl" && mkdir -p "$TMP/ovl"
rm -f "$TMP/disk.img" "$TMP/p.img"
truncate -s 4M "$TMP/disk.img" "$TMP/p.img"
start
"$BLKREP" --image "$TMP/p.img" --unix "$TMP/p.sock" --replicate "$PRIM" \
	--ctl "ipc://$TMP/p.ctl" --peer-ctl "$CTL" --log "file:$TMP/p.log" &
CHILD_PIDS+=($!)
wait_for 5 test -S "$TMP/p.sock" || fail "no primary: $(cat "$TMP/p.log")"
r=$("$CTL_RAW" "ipc://$TMP/p.ctl" '{"execute":"colo-phase","arguments":{"domain":"web","phase":"paused","seq":5,"mode":"primary"}}')
contains "$r" '"return"'
contains "$(ctl '{"execute":"blkrep-query-stats"}')" '"epoch":6'
io "nbd+unix:///?socket=$TMP/p.sock" "write -P 0x99 512k 4k"
io "$PRIM" "read -P 0x99 512k 4k"
io "$SVM" "read -P 0 512k 4k"	# epoch 6: not in checkpoint 5
contains "$(phase loaded 6)" '"return"'
io "$SVM" "read -P 0x99 512k 4k"
# A secondary that cannot be reached fails the phase: the helper then
# ends COLO rather than let epochs go unmarked.
kill "$SPID"
wait "$SPID" 2>/dev/null
r=$("$CTL_RAW" "ipc://$TMP/p.ctl" '{"execute":"colo-phase","arguments":{"domain":"web","phase":"paused","seq":6,"mode":"primary"}}')
contains "$r" '"error"'
