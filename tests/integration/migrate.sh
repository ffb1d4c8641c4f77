#!/bin/bash
# Live migration between two colods in two namespaces linked by a veth
# (the replication link of DESIGN §12): the guest keeps its exact state,
# the source forgets the domain, progress is reported, and a migration to
# a peer that is not there fails with the domain still running here.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
trap 'ns_cleanup; cleanup' EXIT
A=hostA$NS_SUFFIX B=hostB$NS_SUFFIX
G=$TOP_BUILDDIR/tests/guests

ns_add "$A"
ns_add "$B"
topo_replication "$A" "$B"
for h in a b; do
	ns=$([ $h = a ] && echo "$A" || echo "$B")
	ip=$([ $h = a ] && echo 198.51.100.1 || echo 198.51.100.2)
	# B's helpers go deaf once their VM has left (colo-dom-helper(8)),
	# for the step "back again".
	deaf=$([ $h = b ] && echo COLO_TEST_DEAF_AFTER_MIGRATE=1)
	mkdir -p "$TMP/$h"
	ip netns exec "$ns" env $deaf "$COLOD" --state-dir "$TMP/$h/state" --run-dir "$TMP/$h/run" \
		--log "file:$TMP/$h/colod.log" --log-level debug \
		--peer-listen "$ip:7788" || fail "colod $h"
done
cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <uuid>4d3c2b1a-0000-4000-8000-000000000001</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$G/counter.elf</kernel>
  <cmdline>pages=8000 per_tick=50 report=100 tick_us=2000</cmdline></os>
</domain>
XML
CA=$TMP/a/state/console/web.log CB=$TMP/b/state/console/web.log

step "migrate a guest that keeps dirtying memory"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 30 grep -q "COUNTER 200 CHECK ok" "$CA" || fail "guest not counting"
expect_rc 0 xl a migrate web 198.51.100.2
contains "$OUT" "Migrated web to 198.51.100.2"
contains "$ERR" "pass"
echo "   $OUT"
expect_rc 0 xl a list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "the source still lists web: $OUT"
expect_rc 0 xl b list
echo "$OUT" | grep -Eq '^web .* r-----' || fail "web is not running on B: $OUT"

step "the guest continues exactly where it was"
# The console is written as the guest prints it, a byte at a time: a
# line may be read half written, and the line the guest was printing at
# the switch-over is split between the two hosts' logs.  Only whole
# lines count, and a split one must join up.
whole='CHECK ok sum [0-9a-f]\{8\}'
counters() { sed -n "s/^COUNTER \([0-9]*\) $whole.*/\1/p"; }
split=$(tail -c 1 "$CA")	# not a newline: A's log ends inside a line
last=$(if [ -n "$split" ]; then head -n -1 "$CA"; else cat "$CA"; fi | counters | tail -n 1)
next=$((last + 300))
wait_for 30 grep -q "^COUNTER $next $whole" "$CB" || fail "B's guest does not count on"
! grep -q "GUEST-CHECK FAIL" "$CA" "$CB" || fail "self-check failed"
first=$(counters <"$CB" | head -n 1)
gap=100
if [ -n "$split" ]; then
	# B's log starts with the rest of that line.
	joined=$(tail -n 1 "$CA")$(head -n 1 "$CB")
	echo "$joined" | grep -q "^COUNTER $((last + 100)) $whole" ||
		fail "the line split at the switch-over does not join: '$joined'"
	gap=200
fi
[ "$first" -eq $((last + gap)) ] ||
	fail "B resumed at COUNTER $first, A stopped at $last (a whole line apart: $gap)"
# The same guest run alone, without migrating, prints the same sums.
"$TOP_BUILDDIR/colo-dom-helper" --config "$TMP/web.xml" --console-log "$TMP/ref.log" \
	--run-dir "$TMP" 2>/dev/null &
ref=$!
CHILD_PIDS+=("$ref")
wait_for 60 grep -q "^COUNTER $next $whole" "$TMP/ref.log" || fail "reference run"
kill "$ref"
want=$(grep "^COUNTER $next " "$TMP/ref.log" | tr -d '\r')
got=$(grep "^COUNTER $next " "$CB" | tr -d '\r')
[ "$want" = "$got" ] || fail "after migration '$got', without '$want'"

step "back again"
# B's helper stops answering once the VM has left, as a hung helper
# would: colod B gives up on it within seconds and kills it, instead of
# stalling its requests (and heartbeats) for the minute a working call
# may take, which outlasted colo-xl's 30 s.
t0=$(date +%s)
expect_rc 0 xl b migrate web 198.51.100.1
contains "$OUT" "Migrated web to 198.51.100.1"
[ $(($(date +%s) - t0)) -lt 20 ] || fail "the migration back took $(($(date +%s) - t0)) s"
hpid=$(sed -n 's/.*its helper (pid \([0-9]*\)) did not take quit .*; killing it$/\1/p' \
	"$TMP/b/colod.log")
[ -n "$hpid" ] ||
	fail "colod B did not give up on its deaf helper: $(tail -n 5 "$TMP/b/colod.log")"
wait_for 5 dead "$hpid" || fail "B's deaf helper $hpid still runs"
expect_rc 0 xl b list
[ "$(echo "$OUT" | wc -l)" -eq 1 ] || fail "B still lists web: $OUT"
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web .* r-----' || fail "web is not back on A"

step "a peer that is not there: the domain keeps running here"
expect_rc 1 xl a -t 30000 migrate web 198.51.100.2:7799
contains "$ERR" "no reply to x-peer-hello from tcp://198.51.100.2:7799"
contains "$ERR" "(Timeout)"
expect_rc 1 xl a migrate web 198.51.100.2:notaport
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web .* r-----' || fail "web stopped after a failed migration"
expect_rc 0 xl a destroy web
echo ok
