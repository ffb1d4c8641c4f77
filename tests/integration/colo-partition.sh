#!/bin/bash
# A network partition between the COLO hosts: the replication link goes
# down silently (no RST, no FIN), so only the heartbeats can tell.  Each
# colod finds its peer silent for heartbeat-interval x heartbeat-misses
# AND its helper's stream idle as long, and fails over; both guests keep
# running (the split brain of colod(8), "Heartbeats and network partitions").  Before that,
# a link that is down for less than the limit must cause nothing.
. "$(dirname "$0")/colo-pair.sh"

failover_of() {
	COLO_RUN_DIR=$TMP/$1/run $XL colo status web | sed -n 's/^failover *: //p'
}

step "a blip shorter than interval x misses: no failover"
sleep 1
ip -n "$A" link set "ra$NS_SUFFIX" down
sleep 0.1
ip -n "$A" link set "ra$NS_SUFFIX" up
sleep 1.5
[ "$(failover_of b)" = none ] || fail "B failed over on a 100 ms blip"
[ "$(failover_of a)" = none ] || fail "A failed over on a 100 ms blip"

step "partition: both sides fail over within the heartbeat limit"
t0=$(date +%s%N)
ip -n "$A" link set "ra$NS_SUFFIX" down
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
