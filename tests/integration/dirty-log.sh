#!/bin/bash
# The dirty log of a running guest equals the pages it wrote: a guest
# writes a known set on command, and the harvest afterwards holds exactly
# that set plus pages of the guest's own stack.  Both KVM mechanisms.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
G=$TOP_BUILDDIR/tests/guests
HELPER=$TOP_BUILDDIR/colo-dom-helper

call() { "$CTL_RAW" "ipc://$TMP/h.ctl" "$1"; }
# harvest: the dirty pfns, one per line.
harvest() {
	call '{"execute":"x-helper-dirty-harvest"}' |
		sed -n 's/.*"pfns":\[\([0-9,]*\)\].*/\1/p' | tr ',' '\n' | sed '/^$/d'
}

run_mode() {
	local mode=$1 info set_base count stride stack_lo stack_hi
	cat >"$TMP/dirty.xml" <<XML
<domain type='kvm'>
  <name>dirty</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$G/dirty.elf</kernel>
  <cmdline>dirty_base=0x1000000 dirty_count=200 dirty_stride=7</cmdline></os>
</domain>
XML
	rm -f "$TMP/h.ctl" "$TMP/con.log"
	"$HELPER" --config "$TMP/dirty.xml" --ctl "ipc://$TMP/h.ctl" \
		--console-log "$TMP/con.log" --dirty-mode "$mode" 2>"$TMP/helper.log" &
	CHILD_PIDS+=($!)
	wait_for 10 grep -q DIRTY-READY "$TMP/con.log" || fail "guest not ready"
	read -r _ _ stack_lo stack_hi _ set_base count stride < \
		<(grep DIRTY-READY "$TMP/con.log")

	call '{"execute":"x-helper-dirty-log","arguments":{"enable":true}}' |
		grep -q return || fail "cannot enable dirty log"
	n=$(harvest | wc -l)
	[ "$n" -ge 8000 ] || fail "the first harvest should hold all RAM, got $n"
	harvest >/dev/null	# whatever the idle loop touched since

	for round in 1 2; do
		call '{"execute":"helper-console-write","arguments":{"data":"d"}}' >/dev/null
		wait_for 10 grep -q "DIRTIED $round" "$TMP/con.log" || fail "guest did not dirty"
		harvest >"$TMP/got"
		seq 0 $((count - 1)) | awk -v b="$set_base" -v s="$stride" '{ print b + $1 * s }' \
			>"$TMP/want"
		missing=$(sort -n "$TMP/want" | comm -23 - <(sort -n "$TMP/got") | wc -l)
		[ "$missing" -eq 0 ] || fail "$mode: $missing written pages missing from the harvest"
		extra=$(sort -n "$TMP/got" | comm -23 - <(sort -n "$TMP/want"))
		for p in $extra; do
			[ "$p" -ge "$stack_lo" ] && [ "$p" -le "$stack_hi" ] ||
				fail "$mode: page $p was reported dirty but not written"
		done
		echo "   $mode round $round: $(wc -l <"$TMP/got") dirty = $count written +" \
			"$(echo "$extra" | wc -w) stack"
	done
	# Nothing written since: the next harvest holds at most stack pages.
	sleep 0.3
	for p in $(harvest); do
		[ "$p" -ge "$stack_lo" ] && [ "$p" -le "$stack_hi" ] ||
			fail "$mode: idle guest dirtied page $p"
	done
	call '{"execute":"helper-quit"}' >/dev/null
	wait
	CHILD_PIDS=()
}

step "bitmap (KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG)"
run_mode bitmap
step "dirty ring"
run_mode ring
echo ok
