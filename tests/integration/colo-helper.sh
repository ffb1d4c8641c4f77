#!/bin/bash
# COLO between two helpers (no colod): initial sync as a migration with
# the COLO flag, then checkpoints.  Memory equality is checked by hashing
# both VMs' RAM at a checkpoint where both stay paused; killing the
# primary makes the secondary take over, and killing the secondary
# leaves the primary running alone.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
. "$(dirname "$0")/helper-pair.sh"

# pair NAME: a primary NAME-p and a secondary NAME-s in COLO.
pair() {
	start_helpers "$1"
	colo_start "$1" "$SPORT"
}

step "checkpoints run; both VMs' RAM is identical at each held checkpoint"
pair a
for i in 1 2 3 4 5; do
	call a-p '{"execute":"helper-colo-checkpoint","arguments":{"hold":true}}' >/dev/null
	sleep 0.3
	hp=$(call a-p '{"execute":"x-helper-ram-hash"}' | field hash)
	hs=$(call a-s '{"execute":"x-helper-ram-hash"}' | field hash)
	[ -n "$hp" ] && [ "$hp" = "$hs" ] || fail "round $i: primary $hp, secondary $hs"
	call a-p '{"execute":"helper-cont"}' >/dev/null
	call a-s '{"execute":"helper-cont"}' >/dev/null
	sleep 0.2
done
st=$(call a-p '{"execute":"helper-query-colo"}')
echo "   $st"
n=$(echo "$st" | field checkpoints)
[ "$n" -ge 10 ] || fail "only $n checkpoints"
! grep -q "GUEST-CHECK FAIL" "$TMP/a-p.con" "$TMP/a-s.con" || fail "self-check"

step "SIGKILL the primary: the secondary takes over and runs on"
kill -9 "$(call a-p '{"execute":"helper-query"}' | field pid)"
wait_for 10 bash -c "$CTL_RAW ipc://$TMP/a-s.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":false'" ||
	fail "the secondary did not notice"
c0=$(grep -c "CHECK ok" "$TMP/a-s.con")
wait_for 10 bash -c "[ \$(grep -c 'CHECK ok' $TMP/a-s.con) -gt $((c0 + 2)) ]" ||
	fail "the secondary's guest does not run on"
call a-s '{"execute":"helper-query"}' | grep -q '"state":"running"' || fail "not running"
! grep -q "GUEST-CHECK FAIL" "$TMP/a-s.con" || fail "self-check after takeover"
call a-s '{"execute":"helper-quit"}' >/dev/null

step "SIGKILL the secondary: the primary carries on alone"
pair b
kill -9 "$(call b-s '{"execute":"helper-query"}' | field pid)"
wait_for 15 bash -c "$CTL_RAW ipc://$TMP/b-p.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":false'" ||
	fail "the primary did not notice"
c0=$(grep -c "CHECK ok" "$TMP/b-p.con")
wait_for 10 bash -c "[ \$(grep -c 'CHECK ok' $TMP/b-p.con) -gt $((c0 + 2)) ]" ||
	fail "the primary's guest stopped"
call b-p '{"execute":"helper-query-colo"}' | grep -q '"error":"checkpoint' || fail "no error reported"
call b-p '{"execute":"helper-quit"}' >/dev/null
echo ok
