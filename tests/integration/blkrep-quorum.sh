#!/bin/bash
# colo-blkrep in quorum mode over three image files, with qemu-io as the
# client and colo-xl events on its event socket: writes reach all three;
# one child's block corrupted behind its back is outvoted (the read
# returns the majority's data), reported with QUORUM_REPORT_BAD naming
# that child, and repaired by rewrite-corrupted; two corrupted children
# leave no majority: QUORUM_FAILURE and EIO; read-pattern fifo reads
# the first child; children of different sizes are refused; a child can
# be another NBD export (here a plain colo-blkrep), outvoted and repaired
# through NBD like a file, and given up when it stops answering (without
# a FIN) for --peer-timeout, so that it cannot hold the quorum; once its
# host answers again, blkrep-quorum-rejoin copies the disk to it from
# the others and it votes again.
. "$(dirname "$0")/lib.sh"
need_cmd qemu-io
BLKREP=$TOP_BUILDDIR/colo-blkrep
SOCK=$TMP/q.sock
URI="nbd+unix:///?socket=$SOCK"
mkdir -p "$TMP/ev"
for c in a b c; do truncate -s 8M "$TMP/$c.img"; done

start() {
	rm -f "$SOCK"
	"$BLKREP" --quorum "$TMP/a.img,$TMP/b.img,$TMP/c.img" --unix "$SOCK" \
		--events "ipc://$TMP/ev/colod.events" --log "file:$TMP/q.log" "$@" &
	QPID=$!
	CHILD_PIDS+=($QPID)
	wait_for 5 test -S "$SOCK" || fail "no blkrep: $(cat "$TMP/q.log")"
}
stop() { kill "$QPID"; wait "$QPID" 2>/dev/null; }
io() {
	qemu-io -f raw -c "$1" "$URI" >"$TMP/io" 2>&1 || fail "qemu-io $1: $(cat "$TMP/io")"
	! grep -q "Pattern verification failed" "$TMP/io" || fail "$1: $(head -2 "$TMP/io")"
}
corrupt() {	# FILE OFFSET
	printf 'garbage!' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
events() {	# start colo-xl events into $TMP/events
	COLO_RUN_DIR=$TMP/ev "$XL" events >"$TMP/events" 2>&1 &
	CHILD_PIDS+=($!)
	EVPID=$!
	sleep 0.5
}

step "children of different sizes are refused"
truncate -s 4M "$TMP/small.img"
expect_rc 1 "$BLKREP" --quorum "$TMP/a.img,$TMP/small.img" --unix "$SOCK"
contains "$ERR" "must be the same size"

step "writes reach all three children"
start --rewrite-corrupted
events
io "write -P 0x5a 1M 64k"
for c in a b c; do
	qemu-io -f raw -c "read -P 0x5a 1M 64k" "$TMP/$c.img" >/dev/null || fail "child $c"
done

step "one corrupted child: outvoted, reported, repaired"
corrupt "$TMP/b.img" $((1024 * 1024 + 100))
io "read -P 0x5a 1M 64k"
wait_for 5 grep -q QUORUM_REPORT_BAD "$TMP/events" || fail "no QUORUM_REPORT_BAD: $(cat "$TMP/events")"
grep QUORUM_REPORT_BAD "$TMP/events" | head -1 | sed 's/^/   /'
grep QUORUM_REPORT_BAD "$TMP/events" | grep -q '"node-name": *"b.img"' || fail "the wrong child was blamed"
grep QUORUM_REPORT_BAD "$TMP/events" | grep -q '"sector-num": *2048' || fail "wrong sector"
qemu-io -f raw -c "read -P 0x5a 1M 64k" "$TMP/b.img" >"$TMP/io" 2>&1
! grep -q "verification failed" "$TMP/io" || fail "b.img was not repaired"

step "two corrupted children: QUORUM_FAILURE and EIO"
sleep 0.2	# past the event rate limit
corrupt "$TMP/a.img" $((2 * 1024 * 1024))
corrupt "$TMP/c.img" $((2 * 1024 * 1024 + 8))
! qemu-io -f raw -c "read 2M 4k" "$URI" >"$TMP/io" 2>&1 || fail "the read succeeded without a majority"
grep -qi "input/output error" "$TMP/io" || fail "not EIO: $(cat "$TMP/io")"
wait_for 5 grep -q QUORUM_FAILURE "$TMP/events" || fail "no QUORUM_FAILURE: $(cat "$TMP/events")"
grep QUORUM_FAILURE "$TMP/events" | head -1 | sed 's/^/   /'
io "read -P 0x5a 1M 64k"	# the rest still reads
kill "$EVPID" 2>/dev/null
stop

step "read-pattern fifo: the first child answers"
start --read-pattern fifo
io "read -P 0x5a 1M 64k"
qemu-io -f raw -c "read -P 0 2M 4k" "$URI" >"$TMP/io" 2>&1
grep -q "verification failed" "$TMP/io" || fail "fifo did not read a.img's garbage"
stop

step "a child on NBD: outvoted, reported and repaired through the export"
truncate -s 8M "$TMP/n.img"
"$BLKREP" --image "$TMP/n.img" --unix "$TMP/n.sock" --log "file:$TMP/n.log" &
CHILD_PIDS+=($!)
wait_for 5 test -S "$TMP/n.sock" || fail "no child blkrep"
rm -f "$SOCK"
"$BLKREP" --quorum "$TMP/a.img,nbd+unix:///?socket=$TMP/n.sock,$TMP/c.img" --unix "$SOCK" \
	--rewrite-corrupted --events "ipc://$TMP/ev/colod.events" --log "file:$TMP/q.log" &
QPID=$!
CHILD_PIDS+=($QPID)
wait_for 5 test -S "$SOCK" || fail "no quorum blkrep: $(tail -3 "$TMP/q.log")"
events
io "write -P 0x6b 3M 64k"
qemu-io -f raw -c "read -P 0x6b 3M 64k" "$TMP/n.img" >/dev/null || fail "the NBD child missed the write"
corrupt "$TMP/n.img" $((3 * 1024 * 1024 + 4096))
io "read -P 0x6b 3M 64k"
wait_for 5 grep -q QUORUM_REPORT_BAD "$TMP/events" || fail "no QUORUM_REPORT_BAD for the NBD child"
grep QUORUM_REPORT_BAD "$TMP/events" | head -1 | sed 's/^/   /'
qemu-io -f raw -c "read -P 0x6b 3M 64k" "$TMP/n.img" >"$TMP/io" 2>&1
! grep -q "verification failed" "$TMP/io" || fail "the NBD child was not repaired"
kill "$EVPID" 2>/dev/null
stop

step "an NBD child that stops answering is given up after --peer-timeout"
rm -f "$TMP/n.sock"
"$BLKREP" --image "$TMP/n.img" --unix "$TMP/n.sock" --log "file:$TMP/n2.log" &
NPID=$!
CHILD_PIDS+=($NPID)
wait_for 5 test -S "$TMP/n.sock" || fail "no child blkrep"
rm -f "$SOCK"
# (150 ms a MiB: the rejoin below lasts long enough to write into.)
COLO_BLKREP_TEST_RESYNC_DELAY_MS=150 \
"$BLKREP" --quorum "$TMP/a.img,nbd+unix:///?socket=$TMP/n.sock,$TMP/c.img" --unix "$SOCK" \
	--peer-timeout 500 --events "ipc://$TMP/ev/colod.events" --log "file:$TMP/q2.log" \
	--ctl "ipc://$TMP/q2.ctl" &
QPID=$!
CHILD_PIDS+=($QPID)
wait_for 5 test -S "$SOCK" || fail "no quorum blkrep: $(tail -3 "$TMP/q2.log")"
events
io "write -P 0x3c 4M 64k"
kill -STOP "$NPID"	# its host hangs: no reply, no FIN
t0=$(date +%s%N)
io "write -P 0x3d 4M 64k"
io "read -P 0x3d 4M 64k"
io "write -P 0x3e 5M 4k"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "   three requests with the child hung: $ms ms"
[ "$ms" -lt 5000 ] || fail "the hung child held the quorum for $ms ms"
grep -q "NBD child: no reply in time: giving it up" "$TMP/q2.log" || fail "the child was not given up"
wait_for 5 grep -q '"ret":-110,"node-name":"n.sock"' "$TMP/events" ||
	fail "no QUORUM_REPORT_BAD for the hung child: $(cat "$TMP/events")"
kill -CONT "$NPID"

step "the child given up rejoins: copied from the others, then it votes again"
qctl() { "$TOP_BUILDDIR/tests/tools/ctl-raw" "ipc://$TMP/q2.ctl" "$1"; }
child_state() {	# NODE: its state in blkrep-query-quorum
	qctl '{"execute":"blkrep-query-quorum"}' | python3 -c 'import json,sys
r=json.load(sys.stdin)["return"]
print([c["state"] for c in r["children"] if c["node-name"] == sys.argv[1]][0])' "$1"
}
[ "$(child_state n.sock)" = lost ] || fail "the child given up is $(child_state n.sock)"
io "write -P 0x3f 6M 64k"
# (The write that timed out may land late; these two were never sent.)
for w in "0x3e 5M 4k" "0x3f 6M 64k"; do
	qemu-io -f raw -c "read -P $w" "$TMP/n.img" | grep -q "verification failed" ||
		fail "the lost child has a write it missed: $w"
done
r=$(qctl '{"execute":"blkrep-quorum-rejoin","arguments":{"node-name":"nosuch"}}')
contains "$r" "no quorum child named nosuch"
# A host that takes the connection but never shakes hands costs the
# rejoin --peer-timeout, not the control socket for good.
kill -STOP "$NPID"
r=$(qctl '{"execute":"blkrep-quorum-rejoin","arguments":{"node-name":"n.sock"}}')
kill -CONT "$NPID"
contains "$r" "no handshake within 500 ms"
[ "$(child_state n.sock)" = lost ] || fail "a rejoin that could not connect changed the child"
# The block two children disagree on since the step above has no
# majority to copy from: the rejoin fails there, and the child stays out.
r=$(qctl '{"execute":"blkrep-quorum-rejoin","arguments":{"node-name":"n.sock"}}')
contains "$r" '"return"'
wait_for 10 bash -c "grep -q 'quorum: child n.sock did not rejoin' $TMP/q2.log" ||
	fail "the rejoin did not fail: $(tail -3 "$TMP/q2.log")"
contains "$(qctl '{"execute":"blkrep-query-quorum"}')" "no majority of the others, or they failed at byte 2097152"
[ "$(child_state n.sock)" = out ] || fail "the child is $(child_state n.sock) after a failed rejoin"
io "write -P 0x3f 6M 64k"	# no vote from the child that is out
# The guest rewrites that block; a second rejoin copies everything, and
# a write to a part already copied reaches the child too.
io "write -P 0x55 2M 64k"
n0=$(grep -c "child n.sock rejoining: 30%" "$TMP/q2.log")
r=$(qctl '{"execute":"blkrep-quorum-rejoin","arguments":{"node-name":"n.sock"}}')
contains "$r" '"return"'
wait_for 10 bash -c "[ \$(grep -c 'child n.sock rejoining: 30%' $TMP/q2.log) -gt $n0 ]" ||
	fail "the rejoin did not get to 30%: $(tail -3 "$TMP/q2.log")"
[ "$(child_state n.sock)" = rejoining ] || fail "the child is $(child_state n.sock) while it rejoins"
io "write -P 0x77 0 64k"
wait_for 10 bash -c "grep -q 'quorum: child n.sock rejoined' $TMP/q2.log" ||
	fail "no rejoin: $(tail -3 "$TMP/q2.log")"
grep "rejoin" "$TMP/q2.log" | sed 's/^.*info: /   /' | head -3
[ "$(child_state n.sock)" = in ] || fail "the child is $(child_state n.sock) after its rejoin"
cmp "$TMP/a.img" "$TMP/n.img" || fail "the rejoined child differs from the others"
qemu-io -f raw -c "read -P 0x77 0 64k" "$TMP/n.img" | grep -q "verification failed" &&
	fail "the write made during the rejoin missed the child"
# It votes again: with a.img corrupted, it and c.img outvote it.
corrupt "$TMP/a.img" $((4 * 1024 * 1024 + 100))
io "read -P 0x3d 4M 64k"
wait_for 5 grep -q '"node-name":"a.img"' "$TMP/events" ||
	fail "a.img was not reported: $(tail -3 "$TMP/events")"
kill "$EVPID" 2>/dev/null
stop
