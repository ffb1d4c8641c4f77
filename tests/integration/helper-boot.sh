#!/bin/bash
# colo-dom-helper on its own: a PVH guest boots to CPL3, prints, reads its
# command line and powers off with a status; bad kernels are refused with
# a clear error and leave nothing running.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
HELPER=$TOP_BUILDDIR/colo-dom-helper
G=$TOP_BUILDDIR/tests/guests

# domain_xml NAME KERNEL CMDLINE [MiB]
domain_xml() {
	cat <<XML
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>${4:-32}</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$2</kernel><cmdline>$3</cmdline></os>
</domain>
XML
}

step "a guest boots and powers off with its status"
domain_xml hello "$G/hello.elf" "exit=7 greeting=yes" >"$TMP/hello.xml"
expect_rc 7 "$HELPER" --config "$TMP/hello.xml" --console-log -
contains "$OUT" "hello from a colo-kvm guest"
contains "$OUT" "cmdline: exit=7 greeting=yes tsc_khz="
contains "$OUT" "memmap 2: 0x100000 +0x1f00000 type 1"

step "the guest's CPUID is filtered"
# Each bit as the guest sees it: set (1) or clear (0).
bit() { echo $(( ($(sed -n "s/^cpuid $1: $2 \(0x[0-9a-f]*\).*/\1/p" <<<"$OUT") >> $3) & 1 )); }
[ "$(bit 1 ecx 5)" = 0 ] || fail "VMX is offered to the guest"
[ "$(bit 1 ecx 31)" = 1 ] || fail "the hypervisor bit is clear"
[ "$(bit 80000001 ecx 2)" = 0 ] || fail "SVM is offered to the guest"
[ "$(bit 80000007 edx 8)" = 1 ] || fail "the TSC is not shown invariant"
khz=$(sed -n 's/^cmdline: .*tsc_khz=\([0-9]*\).*/\1/p' <<<"$OUT")
[ -n "$khz" ] && [ "$khz" -gt 0 ] || fail "no tsc_khz on the command line"
contains "$OUT" "cpuid 40000010: tsc $khz kHz"

step "with two vCPUs the boot vCPU runs and the other waits for INIT/SIPI"
sed 's|<vcpu>1</vcpu>|<vcpu>2</vcpu>|' "$TMP/hello.xml" >"$TMP/hello2.xml"
expect_rc 7 "$HELPER" --config "$TMP/hello2.xml" --console-log -
contains "$OUT" "hello from a colo-kvm guest"

step "bad kernels"
bad_kernel() {
	domain_xml bad "$1" "" >"$TMP/bad.xml"
	expect_rc 1 "$HELPER" --config "$TMP/bad.xml" --console-log -
	contains "$ERR" "$2"
}
bad_kernel "$TMP/missing.elf" "kernel $TMP/missing.elf: No such file or directory"
printf 'not an elf at all' >"$TMP/text.elf"
bad_kernel "$TMP/text.elf" "not an ELF file"
head -c 100 "$G/hello.elf" >"$TMP/trunc.elf"
bad_kernel "$TMP/trunc.elf" "malformed ELF: bad program header table"
# An ELF without the PVH note: strip it.
need_cmd objcopy
objcopy --remove-section .note "$G/hello.elf" "$TMP/nonote.elf"
bad_kernel "$TMP/nonote.elf" "not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY note"
bad_kernel /bin/true "ELF type 3 is not an executable"
# A segment that claims more than RAM.
python3 - "$G/hello.elf" "$TMP/huge.elf" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
phoff = struct.unpack_from('<Q', d, 32)[0]
struct.pack_into('<Q', d, phoff + 40, 1 << 40)   # p_memsz of the first phdr
open(sys.argv[2], 'wb').write(d)
PY
bad_kernel "$TMP/huge.elf" "does not fit in guest RAM"
python3 - "$G/hello.elf" "$TMP/badoff.elf" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
phoff = struct.unpack_from('<Q', d, 32)[0]
struct.pack_into('<Q', d, phoff + 8, 1 << 40)    # p_offset far outside
open(sys.argv[2], 'wb').write(d)
PY
bad_kernel "$TMP/badoff.elf" "lies outside the file"
head -c $((40 << 20)) /dev/zero >"$TMP/big.elf"
bad_kernel "$TMP/big.elf" "larger than guest RAM"
bad_kernel /dev/null "not a regular file"

step "bad domain XML: file:line"
cat >"$TMP/badxml.xml" <<'XML'
<domain type='kvm'>
  <name>x</name>
  <memory unit='MiB'>32</memory>
  <vcpu>99</vcpu>
  <os><type>hvm</type><kernel>/x</kernel></os>
</domain>
XML
expect_rc 1 "$HELPER" --config "$TMP/badxml.xml"
contains "$ERR" "$TMP/badxml.xml:4:"
printf '<domain type="kvm"><name>x</name>\n<oops>' >"$TMP/broken.xml"
expect_rc 1 "$HELPER" --config "$TMP/broken.xml"
contains "$ERR" "$TMP/broken.xml:2:"

step "no helper process is left behind"
sleep 0.2
! pgrep -f "colo-dom-helper --config $TMP" >/dev/null || fail "a helper is still running"
echo ok
