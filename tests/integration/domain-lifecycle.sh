#!/bin/bash
# Domains through colod and colo-xl: create, list, console, pause,
# unpause, destroy; save and restore into a fresh helper that continues
# with identical state; corrupt save files refused; helpers re-adopted by
# a restarted colod; a killed helper noticed.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_cmd sqlite3
G=$TOP_BUILDDIR/tests/guests
CON=$TMP/d/state/console/web.log

cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$G/counter.elf</kernel>
    <cmdline>pages=300 per_tick=20 report=100 tick_us=2000</cmdline>
  </os>
</domain>
XML
start_colod d || fail "colod did not start"

# counter_sum FILE N: the sum the guest printed at COUNTER N in FILE.
counter_sum() {
	sed -n "s/^COUNTER $2 CHECK ok sum \([0-9a-f]*\).*/\1/p" "$1" | head -n 1
}
# last_counter FILE: the highest COUNTER line so far.
last_counter() {
	sed -n 's/^COUNTER \([0-9]*\) .*/\1/p' "$1" | tail -n 1
}
ram_hash() {
	"$CTL_RAW" "$(ctl_ep d)" "{\"execute\":\"x-domain-ram-hash\",\"arguments\":{\"domain\":\"$1\"}}" |
		sed -n 's/.*"hash":"\([0-9a-f]*\)".*/\1/p'
}

step "create, list, console"
expect_rc 0 xl d create "$TMP/web.xml"
contains "$OUT" "Created web (id 1, 32 MiB, 1 vCPU)"
expect_rc 0 xl d list
echo "$OUT" | grep -Eq '^web +1 +32 +1 +r-----' || fail "list: $OUT"
wait_for 20 grep -q "COUNTER 200 CHECK ok" "$CON" || fail "guest not counting"
expect_rc 0 xl d console -w 1500 web </dev/null
contains "$OUT" "CHECK ok sum"
expect_rc 1 xl d create "$TMP/web.xml"
contains "$ERR" "domain 'web' already exists"
# IPv6 literals are refused with a clear error, not misread.
for uri in fe80::1 '[::1]:7788' '[::1]'; do
	expect_rc 1 xl d colo start web "$uri"
	contains "$ERR" "HOST an IPv4 address or a host name"
done

step "pause stops the guest, unpause resumes it"
expect_rc 0 xl d pause web
expect_rc 0 xl d list web
echo "$OUT" | grep -Eq '^web .* --p---' || fail "not paused: $OUT"
a=$(last_counter "$CON"); sleep 1; b=$(last_counter "$CON")
[ "$a" = "$b" ] || fail "a paused guest counted from $a to $b"
expect_rc 0 xl d unpause web
wait_for 10 bash -c "[ \$(sed -n 's/^COUNTER \([0-9]*\) .*/\1/p' $CON | tail -n 1) -gt $b ]" ||
	fail "no progress after unpause"

step "save -c; the saved state continues identically in a fresh helper"
expect_rc 0 xl d save -c web "$TMP/web.save"
contains "$OUT" "the domain continues"
saved_at=$(last_counter "$CON")
target=$(( (saved_at / 100 + 6) * 100 ))
wait_for 30 grep -q "^COUNTER $target " "$CON" || fail "original stalled"
want=$(counter_sum "$CON" "$target")
expect_rc 0 xl d destroy web
: >"$CON"
expect_rc 0 xl d restore "$TMP/web.save"
contains "$OUT" "Restored web"
wait_for 30 grep -q "^COUNTER $target " "$CON" || fail "restored guest stalled"
got=$(counter_sum "$CON" "$target")
[ -n "$want" ] && [ "$want" = "$got" ] ||
	fail "COUNTER $target: original sum '$want', restored '$got'"
first=$(sed -n 's/^COUNTER \([0-9]*\) .*/\1/p' "$CON" | head -n 1)
[ "$first" -gt "$saved_at" ] && [ "$first" -le $((saved_at + 100)) ] ||
	fail "the restored guest started at COUNTER $first, saved at $saved_at"
! grep -q "GUEST-CHECK FAIL" "$CON" || fail "guest self-check failed"

step "RAM is identical across save and restore"
expect_rc 0 xl d pause web
h1=$(ram_hash web)
expect_rc 0 xl d save web "$TMP/web2.save"
expect_rc 0 xl d list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "save without -c left the domain: $OUT"
expect_rc 0 xl d restore -p "$TMP/web2.save"
contains "$OUT" "Restored (paused) web"
h2=$(ram_hash web)
[ -n "$h1" ] && [ "$h1" = "$h2" ] || fail "RAM hash $h1 before, $h2 after"
expect_rc 0 xl d unpause web
expect_rc 0 xl d destroy web

step "corrupt and truncated save files are refused"
size=$(stat -c %s "$TMP/web2.save")
head -c $((size / 2)) "$TMP/web2.save" >"$TMP/trunc.save"
expect_rc 1 xl d restore "$TMP/trunc.save"
contains "$ERR" "truncated"
cp "$TMP/web2.save" "$TMP/flip.save"
printf '\x55' | dd of="$TMP/flip.save" bs=1 seek=$((size - 5000)) conv=notrunc 2>/dev/null
expect_rc 1 xl d restore "$TMP/flip.save"
contains "$ERR" "CRC mismatch"
printf 'COLOSTRM\x09\x00\x00\x00' >"$TMP/ver.save"
head -c 100 /dev/zero >>"$TMP/ver.save"
expect_rc 1 xl d restore "$TMP/ver.save"
contains "$ERR" "colo-stream version 9"
expect_rc 1 xl d restore /etc/passwd
contains "$ERR" "not a colo-stream"
expect_rc 1 xl d restore "$TMP/nonexistent.save"
expect_rc 0 xl d list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "a failed restore left a domain: $OUT"
! pgrep -f "colo-dom-helper --restore $TMP" >/dev/null || fail "helper left running"

step "bad XML is reported with file and line"
sed 's|<vcpu>1</vcpu>|<vcpu>1</vcpu><bogus/>|' "$TMP/web.xml" >"$TMP/bad.xml"
expect_rc 1 xl d create "$TMP/bad.xml"
contains "$ERR" "$TMP/bad.xml:4:"
expect_rc 1 xl d destroy nosuch
contains "$ERR" "DomainNotFound"

step "helpers outlive colod and are re-adopted"
expect_rc 0 xl d create "$TMP/web.xml"
hpid=$(db d "SELECT helper_pid FROM domains WHERE name = 'web'")
kill -9 "$(colod_pid d)"
sleep 0.3
kill -0 "$hpid" || fail "the helper died with colod"
n1=$(last_counter "$CON")
start_colod d || fail "colod restart"
expect_rc 0 xl d list
echo "$OUT" | grep -Eq '^web +1 .* r-----' || fail "not re-adopted: $OUT"
[ "$(db d "SELECT helper_pid FROM domains WHERE name = 'web'")" = "$hpid" ] ||
	fail "helper pid changed"
expect_rc 0 xl d console -w 1500 web </dev/null
contains "$OUT" "CHECK ok"

step "a killed helper leaves a crashed domain, which destroy removes"
kill -9 "$hpid"
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/d/run $XL list | grep -Eq '^web .* ----c-'" ||
	fail "web not shown crashed: $(xl d list)"
grep -q '"domain":"web","state":"crashed","reason":"helper exited"' \
	<(db d "SELECT event FROM event_log") || fail "no DOMAIN_STATE event"
expect_rc 0 xl d destroy web
expect_rc 0 xl d list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "destroy left: $OUT"

step "a guest that powers off is gone"
sed "s|counter.elf|hello.elf|; s|<cmdline>.*</cmdline>|<cmdline>exit=0</cmdline>|" \
	"$TMP/web.xml" >"$TMP/hello.xml"
expect_rc 0 xl d create "$TMP/hello.xml"
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/d/run $XL list | grep -q web && exit 1 || exit 0" ||
	fail "a powered-off domain is still listed"
step "console input reaches the guest"
sed "s|<name>web</name>|<name>dirt</name>|; s|counter.elf|dirty.elf|; /<cmdline>/d" \
	"$TMP/web.xml" >"$TMP/dirt.xml"
expect_rc 0 xl d create "$TMP/dirt.xml"
wait_for 10 grep -q DIRTY-READY "$TMP/d/state/console/dirt.log" ||
	fail "the dirty guest did not start"
# Each 'd' typed makes the guest dirty its pages and say so.
OUT=$(printf dd | xl d console -w 3000 dirt)
contains "$OUT" "DIRTIED 2"
printf q | xl d console -w 1000 dirt >/dev/null
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/d/run $XL list | grep -q dirt && exit 1 || exit 0" ||
	fail "'q' typed at the console did not power the guest off"

step "a helper that reports failure but lingers is stopped"
# It writes its verdict to the status descriptor colod gives it and then
# stays alive, as a wedged helper would: colod must not leave it running.
cat >"$TMP/lingering-helper" <<'SH'
#!/bin/bash
while [ $# -gt 0 ]; do
	[ "$1" = --status-fd ] && fd=$2
	shift
done
echo $$ >"$LINGER_PIDFILE"
echo "ERR refused for the test" >&"$fd"
exec sleep 600
SH
chmod +x "$TMP/lingering-helper"
COLO_DOM_HELPER=$TMP/lingering-helper LINGER_PIDFILE=$TMP/linger.pid \
	start_colod e || fail "colod e did not start"
expect_rc 1 xl e create "$TMP/web.xml"
contains "$ERR" "refused for the test"
lpid=$(cat "$TMP/linger.pid")
CHILD_PIDS+=("$lpid")
wait_for 5 dead "$lpid" || fail "the failed helper (pid $lpid) still runs"
unset "CHILD_PIDS[-1]"	# its pid may be reused by now
expect_rc 0 xl e list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "a failed create left: $OUT"
echo ok
