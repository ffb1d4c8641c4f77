#!/bin/bash
# colo-blkrep in primary mode (--replicate): every write, zeroing, trim
# and flush that qemu-io makes on the primary's export reaches the
# secondary blkrep too, so the two image files end up identical; a
# secondary of another size is refused; when the secondary is killed the
# primary goes on alone, degraded, and its dirty map records exactly the
# 64 KiB blocks written since, durably, across a restart; a primary that
# was killed (maybe between a write and its mark) counts every block.
. "$(dirname "$0")/lib.sh"
need_cmd qemu-img
need_cmd qemu-io
BLKREP=$TOP_BUILDDIR/colo-blkrep
SIZE=$((256 << 20))
P="nbd+unix:///disk0?socket=$TMP/p.sock"
S=nbd://127.0.0.1:10811/disk0

# popcount FILE: the bits set in FILE.
popcount() {
	od -An -v -tu1 "$1" | tr -s ' ' '\n' | awk 'NF {
		for (v = $1; v; v = int(v / 2)) n += v % 2 } END { print n + 0 }'
}
start_secondary() {
	"$BLKREP" --image "$TMP/s.img" --listen 127.0.0.1:10811 --export disk0 \
		--log "file:$TMP/s.log" &
	SPID=$!
	CHILD_PIDS+=($SPID)
	wait_for 5 qemu-img info "$S" || fail "no secondary"
}
start_primary() {
	rm -f "$TMP/p.sock"	# a killed one leaves its socket
	"$BLKREP" --image "$TMP/p.img" --unix "$TMP/p.sock" --export disk0 \
		--replicate "$S" --log "file:$TMP/p.log" "$@" &
	PPID_=$!
	CHILD_PIDS+=($PPID_)
	wait_for 5 test -S "$TMP/p.sock" || fail "no primary: $(cat "$TMP/p.log")"
}

step "a secondary of another size is refused"
truncate -s $SIZE "$TMP/p.img"
truncate -s $((SIZE + 4096)) "$TMP/s.img"
start_secondary
expect_rc 1 "$BLKREP" --image "$TMP/p.img" --unix "$TMP/p.sock" --replicate "$S"
contains "$ERR" "has $((SIZE + 4096)) bytes, this image $SIZE: they must match"
expect_rc 1 "$BLKREP" --image "$TMP/p.img" --unix "$TMP/p.sock" \
	--replicate nbd://127.0.0.1:1/disk0
contains "$ERR" "secondary nbd://127.0.0.1:1/disk0"
# A secondary that takes the connection but never shakes hands is given
# up after --peer-timeout, not waited for.
kill -STOP "$SPID"
expect_rc 1 "$BLKREP" --image "$TMP/p.img" --unix "$TMP/p.sock" --replicate "$S" \
	--peer-timeout 500
contains "$ERR" "$S: no handshake within 500 ms"
kill -CONT "$SPID"
kill "$SPID"
wait "$SPID" 2>/dev/null
truncate -s $SIZE "$TMP/s.img"

step "every change on the primary reaches the secondary"
# Old contents on the secondary that the primary's writes must replace.
qemu-io -f raw -c 'write -P 0xee 0 32M' "$TMP/s.img" >/dev/null
qemu-io -f raw -c 'write -P 0xee 0 32M' "$TMP/p.img" >/dev/null
start_secondary
start_primary
expect_rc 0 qemu-io -f raw -c 'write -P 0x11 0 1M' -c 'write -P 0x22 -f 3M 64k' \
	-c 'write -z 4M 256k' -c 'write -z -u 8M 256k' -c 'discard 12M 1M' \
	-c 'write -P 0x33 31M 1M' -c flush -c 'read -P 0x11 0 1M' "$P"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/p.img" "$TMP/s.img"
contains "$OUT" "Images are identical."
expect_rc 0 qemu-io -f raw -c 'read -P 0x22 3M 64k' -c 'read -P 0 4M 256k' "$TMP/s.img"
[ "$(popcount "$TMP/p.img.dirty")" -eq 0 ] || fail "dirty bits while in sync"
# Malformed and zero-length requests on the primary cost it nothing:
# answered, and the secondary kept.
expect_rc 0 "$TOP_BUILDDIR/tests/tools/nbd-evil" "$TMP/p.sock" disk0 $SIZE
contains "$OUT" "ok zero-length write"
grep -q "going on alone" "$TMP/p.log" && fail "the primary dropped its secondary: $(grep "going on alone" "$TMP/p.log")"

step "the secondary dies: the primary goes on, degraded, recording what it misses"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
# Three distinct 64 KiB blocks (the second write spans two).
expect_rc 0 qemu-io -f raw -c 'write -P 0x44 1M 4k' -c 'write -P 0x55 2M 96k' \
	-c 'write -P 0x44 1M 4k' -c flush -c 'read -P 0x55 2M 96k' "$P"
grep -q "going on alone, degraded" "$TMP/p.log" || fail "$(cat "$TMP/p.log")"
n=$(popcount "$TMP/p.img.dirty")
echo "   dirty blocks: $n"
[ "$n" -eq 3 ] || fail "dirty map holds $n blocks, not 3"

step "the dirty map survives a restart of the primary"
kill "$PPID_"
wait "$PPID_" 2>/dev/null
[ ! -e "$TMP/p.img.dirty.open" ] || fail "a clean stop left the map's marker"
start_secondary
start_primary
grep -q "the secondary missed 3 blocks before this start" "$TMP/p.log" ||
	fail "$(cat "$TMP/p.log")"

step "an incremental resync copies just those blocks"
wait_for 10 grep -q "resync done: 3 blocks copied" "$TMP/p.log" || fail "$(cat "$TMP/p.log")"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/p.img" "$TMP/s.img"
[ "$(popcount "$TMP/p.img.dirty")" -eq 0 ] || fail "bits left after the resync"

step "a primary killed uncleanly: every block counts as missed"
# It may have died between a local write and its mark: the map's marker,
# left behind, says the map cannot be trusted.
expect_rc 0 qemu-io -f raw -c 'write -P 0x77 60M 4k' "$P"
[ -e "$TMP/p.img.dirty.open" ] || fail "no marker while the map is kept"
kill -9 "$PPID_"
wait "$PPID_" 2>/dev/null
start_primary
grep -q "the last run did not stop cleanly" "$TMP/p.log" || fail "$(tail -3 "$TMP/p.log")"
wait_for 20 grep -q "resync done: 4096 blocks copied" "$TMP/p.log" || fail "$(tail -3 "$TMP/p.log")"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/p.img" "$TMP/s.img"

step "degraded again, then SIGUSR1: reconnect and resync"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
expect_rc 0 qemu-io -f raw -c 'write -P 0x66 20M 1M' "$P"
[ "$(popcount "$TMP/p.img.dirty")" -eq 16 ] || fail "$(popcount "$TMP/p.img.dirty") bits, not 16"
start_secondary
kill -USR1 "$PPID_"
wait_for 10 grep -q "resync done: 16 blocks copied" "$TMP/p.log" || fail "$(tail -3 "$TMP/p.log")"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/p.img" "$TMP/s.img"

step "a full resync to an empty secondary while the guest keeps writing"
kill "$PPID_" "$SPID"
wait "$PPID_" "$SPID" 2>/dev/null
rm "$TMP/s.img"
truncate -s $SIZE "$TMP/s.img"
start_secondary
d0=$(grep -c "resync done" "$TMP/p.log")
start_primary --resync-full
for i in 1 2 3 4 5 6; do
	qemu-io -f raw -c "write -P 0x7$i $((i * 4))M 2M" -c "write -P 0x8$i $((i * 4 + 1))M 64k" "$P" >/dev/null ||
		fail "write during the resync"
done
wait_for 60 bash -c "[ \$(grep -c 'resync done' $TMP/p.log) -gt $d0 ]" ||
	fail "$(tail -3 "$TMP/p.log")"
grep "resync" "$TMP/p.log" | tail -2 | sed 's/^.*info: /   /'
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/p.img" "$TMP/s.img"
contains "$OUT" "Images are identical."
step "blocks the secondary took but never flushed count as missed when it dies"
# Its host may have lost them with it.  One qemu-io, so no flush at an
# exit comes between: two blocks written unflushed, the secondary killed,
# one more block written.
b0=$(popcount "$TMP/p.img.dirty")
{ echo "write -P 0x91 40M 128k"; sleep 1; kill -9 "$SPID"; sleep 0.5
  echo "write -P 0x92 50M 4k"; echo quit; } | qemu-io -t writeback -f raw "$P" >"$TMP/io.out" 2>&1
wait "$SPID" 2>/dev/null
n=$(popcount "$TMP/p.img.dirty")
echo "   dirty blocks: $n (2 acknowledged but unflushed, 1 written after the loss)"
[ "$b0" -eq 0 ] && [ "$n" -eq 3 ] || fail "dirty map holds $n blocks (before: $b0), not 3"
kill "$PPID_"
wait "$PPID_" 2>/dev/null

step "writes acknowledged before the secondary answered count as missed when it hangs"
# Plain writes complete once local and on the wire (a window of 4): a
# secondary that stops answering holds the fifth until --peer-timeout,
# then the primary goes on alone, the four it never answered marked.
start_secondary
rm -f "$TMP/p.img.dirty"
d0=$(grep -c "resync done" "$TMP/p.log")
start_primary --resync-full --peer-timeout 500
wait_for 30 bash -c "[ \$(grep -c 'resync done' $TMP/p.log) -gt $d0 ]" ||
	fail "$(tail -3 "$TMP/p.log")"
kill -STOP "$SPID"
for i in 1 2 3 4 5 6; do echo "write -P 0xa$i $((60 + i))M 4k"; done >"$TMP/io.cmds"
echo quit >>"$TMP/io.cmds"
qemu-io -t writeback -f raw "$P" <"$TMP/io.cmds" >"$TMP/io.out" 2>&1
[ "$(grep -c "wrote 4096/4096" "$TMP/io.out")" -eq 6 ] || fail "writes: $(cat "$TMP/io.out")"
n=$(popcount "$TMP/p.img.dirty")
echo "   dirty blocks: $n (4 in the window when the secondary hung, 2 after)"
[ "$n" -eq 6 ] || fail "dirty map holds $n blocks, not 6"
kill -9 "$SPID"
kill -CONT "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
start_secondary
kill -USR1 "$PPID_"
wait_for 10 grep -q "resync done: 6 blocks copied" "$TMP/p.log" || fail "$(tail -3 "$TMP/p.log")"
expect_rc 0 qemu-img compare -f raw -F raw "$TMP/p.img" "$TMP/s.img"
kill "$PPID_"
echo ok
