#!/bin/bash
# Failover time on the two-host topology: TRIALS times, protect the
# guest, SIGKILL the primary helper at a random moment, and time until
# the secondary's guest prints a progress line (it prints one every
# COLO_PAIR_REPORT_MS ms, so that much is added at worst).  Prints the
# distribution.  Run by colo-bench.sh.
COLO_PAIR_MANUAL=1
. "$TOP_SRCDIR/tests/integration/colo-pair.sh"
TRIALS=${TRIALS:-10}
ms=()
for ((t = 1; t <= TRIALS; t++)); do
	colo_up
	pid=$(db a "SELECT helper_pid FROM domains WHERE name='web'")
	sleep "0.$((RANDOM % 700 + 200))"
	n=$(grep -c "DIRTY written" "$CB")
	t0=$(date +%s%N)
	kill -9 "$pid"
	while [ "$(grep -c "DIRTY written" "$CB")" -le "$n" ] ||
		! COLO_RUN_DIR=$TMP/b/run $XL colo status web | grep -q 'failover *: completed'; do
		sleep 0.002
		[ $((($(date +%s%N) - t0) / 1000000)) -lt 10000 ] || fail "no takeover"
	done
	ms+=($((($(date +%s%N) - t0) / 1000000)))
	xl b destroy web >/dev/null 2>&1
	wait_for 10 bash -c "COLO_RUN_DIR=$TMP/a/run $XL destroy web >/dev/null 2>&1 ||
		! COLO_RUN_DIR=$TMP/a/run $XL list web >/dev/null 2>&1"
done
printf '%s\n' "${ms[@]}" | sort -n | awk '{ v[NR] = $1; s += $1 } END {
	printf "   %d trials: min %d ms, median %d ms, mean %.0f ms, p90 %d ms, max %d ms\n",
		NR, v[1], v[int((NR + 1) / 2)], s / NR, v[int(NR * 0.9 + 0.5)], v[NR] }'
