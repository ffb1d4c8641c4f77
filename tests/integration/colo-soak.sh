#!/bin/bash
# COLO for 60 s with checkpoints every 200 ms, the guest in dirty mode
# rewriting 3000 pages a second: no failed self-check on either side,
# and at a held checkpoint every 5 s the two VMs' RAM hashes equal.
# SOAK_SECONDS changes the length (make bench runs it longer).
. "$(dirname "$0")/colo-pair.sh"
SECS=${SOAK_SECONDS:-60}

step "COLO for $SECS s: RAM equal at a held checkpoint every 5 s"
t_end=$((SECONDS + SECS))
rounds=0
while [ "$SECONDS" -lt "$t_end" ]; do
	sleep 5
	same_ram_after_held_checkpoint "after $rounds rounds"
	rounds=$((rounds + 1))
done
expect_rc 0 xl a colo status web
contains "$OUT" "mode                   : primary"
contains "$OUT" "failover               : none"
n=$(echo "$OUT" | sed -n 's/^checkpoints *: //p')
echo "$OUT" | grep -E "checkpoints|pause" | sed 's/^/   /'
# 5 a second at best; each transaction also takes its own time.
[ "$n" -ge $((SECS * 3)) ] || fail "only $n checkpoints in $SECS s"
for c in "$CA" "$CB"; do
	! grep -q "GUEST-CHECK FAIL" "$c" || fail "$c: $(grep GUEST-CHECK "$c" | head -3)"
	grep -q "DIRTY written" "$c" || fail "$c: the workload never reported"
done
echo "   $rounds RAM comparisons equal; last progress on B: $(grep 'DIRTY written' "$CB" | tail -1)"
echo ok
