#!/bin/bash
# COLO through colod and colo-xl, on two hosts (namespaces joined by the
# replication veth of DESIGN §12): colo start, checkpoints (timer and
# manual) with identical RAM, status figures; SIGKILL of colod A alone
# (no failover: the stream is alive) and its restart (the primary is
# re-adopted, checkpoints go on); the same for colod B; a user's
# pause/unpause racing checkpoints on either side; then SIGKILL of every process of the
# primary host: the secondary takes over, reports
# COLO_EXIT mode=secondary, and its guest runs on with its self-check
# clean.  Memory only (no netproxy or blkrep yet).
. "$(dirname "$0")/colo-pair.sh"

step "checkpoints: timer and manual; RAM identical when both are held"
sleep 2
expect_rc 0 xl a colo status web
n1=$(echo "$OUT" | sed -n 's/^checkpoints *: //p')
[ "$n1" -ge 5 ] || fail "only $n1 checkpoints in 2 s at 200 ms"
contains "$OUT" "last-trigger           : timer"
echo "$OUT" | grep -E "pause" | sed 's/^/   /'
expect_rc 0 xl a colo checkpoint web
sleep 0.3
expect_rc 0 xl a colo status web
[ "$(db a "SELECT migration_status FROM domains WHERE name='web'")" = colo ] ||
	fail "migration status is not colo"
for i in 1 2 3 4 5 6; do
	same_ram_after_held_checkpoint "round $i"
	sleep 0.3
done

step "pause/unpause racing checkpoints: a cont never resumes a VM mid-checkpoint"
# Each checkpoint pauses both VMs for its own reason; the user's cont
# must not end that pause early (it once did, tearing pages on B).
for i in $(seq 1 15); do
	xl b pause web >/dev/null
	xl a pause web >/dev/null
	sleep 0.05
	xl a unpause web >/dev/null
	xl b unpause web >/dev/null
	sleep 0.1
done
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web .* r----- .*primary$' || fail "A is not running: $OUT"
expect_rc 0 xl b list
echo "$OUT" | grep -Eq '^web .* r----- .*secondary$' || fail "B is not running: $OUT"
same_ram_after_held_checkpoint "after the pause storm"
! grep -q "GUEST-CHECK FAIL" "$CB" || fail "B: $(grep GUEST-CHECK "$CB" | head -3)"

step "SIGKILL colod on A only: the stream is alive, so B must not fail over"
kill -9 "$(colod_pid a)"
# 100 ms x 3 misses is the default; give B ten times that to misjudge.
sleep 3
expect_rc 0 xl b colo status web
contains "$OUT" "mode                   : secondary"
contains "$OUT" "failover               : none"
grep -q "silent for .* but the COLO stream is alive" "$TMP/b/colod.log" ||
	fail "B never noticed colod A was gone"
c1=$("$CTL_RAW" "ipc://$TMP/b/run/dom-web.ctl" '{"execute":"helper-query-colo"}' |
	sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p')
sleep 1
c2=$("$CTL_RAW" "ipc://$TMP/b/run/dom-web.ctl" '{"execute":"helper-query-colo"}' |
	sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p')
[ -n "$c1" ] && [ "$c2" -gt "$c1" ] ||
	fail "checkpoints stopped on B while colod A was down ($c1 -> $c2)"
echo "   B applied $((c2 - c1)) checkpoints in 1 s with colod A dead"

step "restart colod on A: it re-adopts the COLO primary"
ip netns exec "$A" "$COLOD" --state-dir "$TMP/a/state" --run-dir "$TMP/a/run" \
	--log "file:$TMP/a/colod.log" --peer-listen "198.51.100.1:7788" || fail "colod a restart"
expect_rc 0 xl a colo status web
contains "$OUT" "mode                   : primary"
contains "$OUT" "failover               : none"
k1=$(echo "$OUT" | sed -n 's/^checkpoints *: //p')
sleep 1
expect_rc 0 xl a colo status web
k2=$(echo "$OUT" | sed -n 's/^checkpoints *: //p')
[ "$k2" -gt "$k1" ] || fail "checkpoints stalled after colod A restarted ($k1 -> $k2)"
expect_rc 0 xl b colo status web
contains "$OUT" "failover               : none"

step "SIGKILL and restart colod on B: the secondary is re-adopted, no failover"
kill -9 "$(colod_pid b)"
sleep 1
ip netns exec "$B" "$COLOD" --state-dir "$TMP/b/state" --run-dir "$TMP/b/run" \
	--log "file:$TMP/b/colod.log" --peer-listen "198.51.100.2:7788" || fail "colod b restart"
expect_rc 0 xl b colo status web
contains "$OUT" "mode                   : secondary"
contains "$OUT" "failover               : none"
expect_rc 0 xl a colo status web
contains "$OUT" "failover               : none"
k1=$(echo "$OUT" | sed -n 's/^checkpoints *: //p')
sleep 1
expect_rc 0 xl a colo status web
k2=$(echo "$OUT" | sed -n 's/^checkpoints *: //p')
[ "$k2" -gt "$k1" ] || fail "checkpoints stalled after colod B restarted ($k1 -> $k2)"

step "checkpoint records: colo stats, SQLite rows, none lost while the colods were down"
sleep 1.5	# colod copies records about once a second
expect_rc 0 xl a colo stats -n 3 web
[ "$(echo "$OUT" | wc -l)" = 4 ] || fail "colo stats -n 3: $OUT"
echo "$OUT" | sed 's/^/   /'
echo "$OUT" | tail -1 | grep -Eq '^ +[0-9]+ 20[0-9-]+ [0-9:.]+ primary +timer ' ||
	fail "not a timer checkpoint of the primary: $OUT"
for h in a b; do
	role=$([ $h = a ] && echo primary || echo secondary)
	read -r cnt lo hi bad <<<"$(db $h "SELECT count(*), min(seq), max(seq),
		sum(role <> '$role') FROM checkpoints WHERE domain='web'" | tr '|' ' ')"
	# Both colods were SIGKILLed and restarted: the helpers' rings
	# covered the gap, so the sequence has no holes.
	[ "$lo" = 1 ] && [ "$cnt" = "$hi" ] && [ "$bad" = 0 ] ||
		fail "$h: $cnt records, seq $lo..$hi, $bad with another role"
	echo "   $h: $cnt checkpoint records, seq 1..$hi, all $role"
done
[ "$(db a "SELECT count(*) FROM checkpoints WHERE trigger='manual'")" -ge 1 ] ||
	fail "the manual checkpoint is not recorded"
OUT=$(COLO_RUN_DIR=$TMP/a/run "$XL" --json colo stats -n 5 web)
echo "$OUT" | grep -q '"pause-us":' && [ "$(echo "$OUT" | grep -o '"seq":' | wc -l)" = 5 ] ||
	fail "colo stats --json: $OUT"
expect_rc 2 xl a colo stats -n 0 web
expect_rc 1 xl a colo stats nosuch

step "SIGKILL every process of host A: B takes over"
t0=$(date +%s%N)
ip netns pids "$A" | xargs -r kill -9
wait_for 10 bash -c "COLO_RUN_DIR=$TMP/b/run $XL colo status web | grep -q 'failover *: completed'" ||
	fail "B did not take over: $(xl b colo status web)"
t1=$(date +%s%N)
echo "   takeover noticed after $(( (t1 - t0) / 1000000 )) ms"
expect_rc 0 xl b colo status web
contains "$OUT" "mode                   : unknown"
contains "$OUT" "last-mode              : secondary"
contains "$OUT" "reason                 : error"
grep -q '"event":"COLO_EXIT","data":{"domain":"web","mode":"secondary","reason":"error"}' \
	<(db b "SELECT event FROM event_log") || fail "no COLO_EXIT on B"
n=$(grep -c "DIRTY written" "$CB")
wait_for 20 bash -c "[ \$(grep -c 'DIRTY written' $CB) -gt $n ]" || fail "B's guest stopped"
sleep 1
! grep -q "GUEST-CHECK FAIL" "$CB" || fail "$(grep GUEST-CHECK "$CB" | head -3)"
expect_rc 0 xl b list
echo "$OUT" | grep -Eq '^web .* r----- .* -$' || fail "B's domain is not running alone: $OUT"
expect_rc 0 xl b destroy web
echo ok
