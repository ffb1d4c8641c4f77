#!/bin/bash
# A network partition between the COLO hosts: the replication link goes
# down silently (no RST, no FIN), so only the heartbeats can tell.  Each
# colod finds its peer silent for heartbeat-interval x heartbeat-misses
# AND its helper's stream idle as long, and fails over; both guests keep
# running (the split brain of colod(8) NETWORK PARTITION).  Before that,
# a link that is down for less than the limit must cause nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd sqlite3
trap 'ns_cleanup; cleanup' EXIT
A=hostA$NS_SUFFIX B=hostB$NS_SUFFIX
G=$TOP_BUILDDIR/tests/guests

ns_add "$A"
ns_add "$B"
ip link add "ca$NS_SUFFIX" type veth peer name "cb$NS_SUFFIX"
ip link set "ca$NS_SUFFIX" netns "$A"
ip link set "cb$NS_SUFFIX" netns "$B"
ip -n "$A" addr add 198.51.100.1/24 dev "ca$NS_SUFFIX"
ip -n "$B" addr add 198.51.100.2/24 dev "cb$NS_SUFFIX"
ip -n "$A" link set "ca$NS_SUFFIX" up
ip -n "$B" link set "cb$NS_SUFFIX" up
for h in a b; do
	ns=$([ $h = a ] && echo "$A" || echo "$B")
	ip=$([ $h = a ] && echo 198.51.100.1 || echo 198.51.100.2)
	mkdir -p "$TMP/$h"
	ip netns exec "$ns" "$COLOD" --state-dir "$TMP/$h/state" --run-dir "$TMP/$h/run" \
		--log "file:$TMP/$h/colod.log" --peer-listen "$ip:7788" || fail "colod $h"
done
expect_rc 0 xl a params checkpoint-interval=200
cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$TOP_BUILDDIR/guest/colo-kv.elf</kernel>
  <cmdline>mode=dirty dirty_mb=32 dirty_rate=3000 verify_ms=200</cmdline></os>
</domain>
XML
CB=$TMP/b/state/console/web.log

step "colo start"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 grep -q DIRTY-START "$TMP/a/state/console/web.log" || fail "guest"
expect_rc 0 xl a colo start web 198.51.100.2
contains "$OUT" "web: COLO primary, secondary on 198.51.100.2"
expect_rc 0 xl b list
echo "$OUT" | grep -Eq '^web .* r----- .*secondary$' || fail "no running secondary on B: $OUT"
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web .*primary$' || fail "A is not primary: $OUT"

failover_of() {
	COLO_RUN_DIR=$TMP/$1/run $XL colo status web | sed -n 's/^failover *: //p'
}

step "a blip shorter than interval x misses: no failover"
sleep 1
ip -n "$A" link set "ca$NS_SUFFIX" down
sleep 0.1
ip -n "$A" link set "ca$NS_SUFFIX" up
sleep 1.5
[ "$(failover_of b)" = none ] || fail "B failed over on a 100 ms blip"
[ "$(failover_of a)" = none ] || fail "A failed over on a 100 ms blip"

step "partition: both sides fail over within the heartbeat limit"
t0=$(date +%s%N)
ip -n "$A" link set "ca$NS_SUFFIX" down
wait_for 10 bash -c "[ \"\$(COLO_RUN_DIR=$TMP/b/run $XL colo status web | sed -n 's/^failover *: //p')\" = completed ]" ||
	fail "B did not fail over: $(xl b colo status web)"
t1=$(date +%s%N)
echo "   B took over $(( (t1 - t0) / 1000000 )) ms after the link went down (limit 300 ms)"
grep -q "lost heartbeat from 198.51.100.1:7788" "$TMP/b/colod.log" ||
	fail "B's failover was not the heartbeat's"
wait_for 10 bash -c "[ \"\$(COLO_RUN_DIR=$TMP/a/run $XL colo status web | sed -n 's/^failover *: //p')\" = completed ]" ||
	fail "A did not fail over: $(xl a colo status web)"
for h in a b; do
	[ "$(db $h "SELECT migration_status FROM domains WHERE name='web'")" != colo ] ||
		fail "$h still records COLO"
done
n=$(grep -c "DIRTY written" "$CB")
wait_for 20 bash -c "[ \$(grep -c 'DIRTY written' $CB) -gt $n ]" || fail "B's guest stopped"
! grep -q "GUEST-CHECK FAIL" "$CB" || fail "$(grep GUEST-CHECK "$CB" | head -3)"
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web .* r----- ' || fail "A's guest is not running: $OUT"
expect_rc 0 xl b destroy web
expect_rc 0 xl a destroy web
echo ok
