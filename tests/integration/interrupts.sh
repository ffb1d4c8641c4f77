#!/bin/bash
# Interrupts through the in-kernel irqchip: the local APIC timer, the
# UART's line through the IOAPIC (level) and virtio-blk's irqfd (edge),
# each counted by a guest that takes them; and all three still delivered
# after the VM is saved and restored into a fresh helper, the timer going
# on from where it was.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_cmd nbdkit
G=$TOP_BUILDDIR/tests/guests
HELPER=$TOP_BUILDDIR/colo-dom-helper

nbdkit -U "$TMP/kit.sock" --exit-with-parent memory 4M &
CHILD_PIDS+=($!)
wait_for 10 test -S "$TMP/kit.sock" || fail "nbdkit did not start"
cat >"$TMP/irq.xml" <<XML
<domain type='kvm'>
  <name>irq</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$G/irq.elf</kernel>
  <cmdline>hz=100 report_ms=100</cmdline></os>
  <devices>
    <disk type='network'>
      <source protocol='nbd' name='d'><host transport='unix' socket='$TMP/kit.sock'/></source>
    </disk>
  </devices>
</domain>
XML
call() { "$CTL_RAW" "ipc://$TMP/$1.ctl" "$2"; }
type_at() { call "$1" "{\"execute\":\"helper-console-write\",\"arguments\":{\"data\":\"$2\"}}" >/dev/null; }
# ticks CONSOLE: the timer count of the last report.
ticks() { sed -n 's/^TICKS \([0-9]*\) .*/\1/p' "$1" | tail -n 1; }
# uart_and_blk NAME: a received byte raises IRQ 4, and a block read's
# completion raises the disk's interrupt.
uart_and_blk() {
	local con=$TMP/$1.con
	type_at "$1" x
	wait_for 10 grep -q "UART-BYTE x" "$con" || fail "$1: no UART interrupt: $(tail -n 3 "$con")"
	type_at "$1" b
	wait_for 10 grep -q "BLK-IRQ" "$con" || fail "$1: no block read: $(tail -n 3 "$con")"
	grep -q "BLK-IRQ ok status 0" "$con" ||
		fail "$1: the block read's interrupt never came: $(grep BLK-IRQ "$con")"
	type_at "$1" y	# a byte other than the last, for the next round
	wait_for 10 grep -q "UART-BYTE y" "$con" || fail "$1: UART went quiet"
}

step "the APIC timer ticks"
"$HELPER" --config "$TMP/irq.xml" --ctl "ipc://$TMP/a.ctl" --console-log "$TMP/a.con" \
	2>"$TMP/a.log" &
CHILD_PIDS+=($!)
wait_for 10 grep -q "IRQ-READY blk 1" "$TMP/a.con" || fail "guest not ready: $(cat "$TMP/a.con" "$TMP/a.log")"
wait_for 10 bash -c "[ \"\$(sed -n 's/^TICKS \([0-9]*\) .*/\1/p' $TMP/a.con | tail -n 1)\" -ge 50 ]" ||
	fail "the timer does not tick: $(tail -n 2 "$TMP/a.con")"
echo "   $(ticks "$TMP/a.con") ticks so far"

step "UART and virtio-blk interrupts through the IOAPIC"
uart_and_blk a

step "save, restore in a fresh helper: all three go on"
call a '{"execute":"helper-save","arguments":{"path":"'"$TMP/irq.save"'","continue":false}}' |
	grep -q '"return"' || fail "save failed: $(tail -n 3 "$TMP/a.log")"
saved=$(ticks "$TMP/a.con")
call a '{"execute":"helper-quit"}' >/dev/null
"$HELPER" --restore "$TMP/irq.save" --ctl "ipc://$TMP/b.ctl" --console-log "$TMP/b.con" \
	2>"$TMP/b.log" &
CHILD_PIDS+=($!)
wait_for 10 grep -q "^TICKS" "$TMP/b.con" || fail "the restored guest reports nothing: $(tail -n 3 "$TMP/b.log")"
first=$(sed -n 's/^TICKS \([0-9]*\) .*/\1/p' "$TMP/b.con" | head -n 1)
[ "$first" -ge "$saved" ] || fail "the tick count went back from $saved to $first"
wait_for 10 bash -c "[ \"\$(sed -n 's/^TICKS \([0-9]*\) .*/\1/p' $TMP/b.con | tail -n 1)\" -ge $((first + 50)) ]" ||
	fail "the timer stopped after the restore: $(tail -n 2 "$TMP/b.con")"
echo "   ticks $saved at the save, $first at the first report after, $(ticks "$TMP/b.con") now"
uart_and_blk b
type_at b q
wait_for 10 bash -c "! kill -0 ${CHILD_PIDS[-1]} 2>/dev/null" || fail "'q' did not power off"
echo ok
