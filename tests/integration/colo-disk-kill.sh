#!/bin/bash
# No acknowledged write is lost when the primary host dies (issue 7):
# the kv guest keeps its log on a replicated image file, redis-benchmark
# runs a SET workload, another client SETs numbered keys one after
# another and records each acknowledgment, and at a random moment every process
# of the primary host is SIGKILLed and its links go down.  After the
# failover, every key the client saw acknowledged reads back with its
# value on the survivor; then the survivor's guest is rebooted, replays
# its log, and every key is there again.  COLO_DISK_TRIALS trials
# (default 10), the roles swapping each time, so that the LAN's bridge
# always knows the guest's MAC address on the new primary's side.
export COLO_NET_PAIR_DISK=16M COLO_NET_PAIR_MANUAL=1
. "$(dirname "$0")/colo-net-pair.sh"

ns_of() { [ "$1" = a ] && echo "$A" || echo "$B"; }
addr_of() { [ "$1" = a ] && echo 198.51.100.1 || echo 198.51.100.2; }
con_of() { echo "$TMP/$1/state/console/web.log"; }

# kill_host H: links down first (no FIN or RST escapes), then every
# process in H's network namespace.
kill_host() {
	local ns v
	ns=$(ns_of "$1") v=v$(ns_of "$1")
	ip -n "$ns" link set "${v:0:14}" down
	ip -n "$ns" link set "r$1$NS_SUFFIX" down
	ip netns pids "$ns" | xargs -r kill -9
}

revive_host() {
	local ns v
	ns=$(ns_of "$1") v=v$(ns_of "$1")
	ip -n "$ns" link set "${v:0:14}" up
	ip -n "$ns" link set "r$1$NS_SUFFIX" up
	start_colod "$1"
	# The domain it had is left as crashed: gone with a destroy.
	xl "$1" destroy web >/dev/null 2>&1
}

# check_acked FILE WHAT: every index in FILE reads back as its value.
check_acked() {
	local n bad
	n=$(wc -l <"$1")
	sed "s/.*/GET t$trial-k&/" "$1" >"$TMP/gets"
	in_client redis-cli -h "$GUEST" <"$TMP/gets" >"$TMP/got" || fail "$2: GETs failed"
	bad=$(paste -d' ' "$1" "$TMP/got" | awk '$2 != "v" $1' | head -3)
	[ -z "$bad" ] || fail "$2: acknowledged keys lost or wrong (index value): $bad"
	[ "$(wc -l <"$TMP/got")" -eq "$n" ] || fail "$2: $n GETs, $(wc -l <"$TMP/got") replies"
}

trial=0 total=0
p=a s=b
while [ $trial -lt "${COLO_DISK_TRIALS:-10}" ]; do
	trial=$((trial + 1))
	# A new disk on the primary each time; the secondary's is copied over.
	rm -f "$TMP/$p/disks/web.img"
	truncate -s 16M "$TMP/$p/disks/web.img"
	n=$(grep -c KV-READY "$(con_of "$p")" 2>/dev/null)
	expect_rc 0 xl "$p" create "$TMP/web.xml"
	wait_for 20 bash -c "[ \$(grep -c KV-READY $(con_of "$p")) -gt ${n:-0} ]" ||
		fail "trial $trial: the guest on $p did not boot"
	expect_rc 0 xl "$p" colo start web "$(addr_of "$s")"
	wait_for 10 bash -c "COLO_RUN_DIR=$TMP/$s/run $XL list | grep -Eq '^web .* r----- .*secondary\$'" ||
		fail "trial $trial: no running secondary on $s"
	# One client, one SET at a time; a line per acknowledged key.
	in_client bash -c "for ((i = 0; ; i++)); do
		r=\$(timeout 5 redis-cli -h $GUEST set t$trial-k\$i v\$i 2>/dev/null)
		[ \"\$r\" = OK ] && echo \$i
	done" >"$TMP/acked" 2>/dev/null &
	client=$!
	CHILD_PIDS+=($client)
	in_client redis-benchmark -h "$GUEST" -t set -r 10000 -n 100000000 -c 2 -q \
		>/dev/null 2>&1 &
	CHILD_PIDS+=($!)
	sleep "$((RANDOM % 3 + 1)).$((RANDOM % 10))"
	before=$(wc -l <"$TMP/acked")
	kill_host "$p"
	wait_for 15 bash -c "COLO_RUN_DIR=$TMP/$s/run $XL colo status web | grep -q 'failover *: completed'" ||
		fail "trial $trial: $s did not fail over: $(xl "$s" colo status web)"
	wait_for 15 bash -c "[ \$(wc -l <$TMP/acked) -gt $((before + 10)) ]" ||
		fail "trial $trial: the client got no answer from the survivor"
	pkill -f "set t$trial-k" 2>/dev/null
	pkill -f "redis-benchmark -h $GUEST" 2>/dev/null
	kill "$client" 2>/dev/null
	wait "$client" 2>/dev/null
	acked=$(wc -l <"$TMP/acked")
	check_acked "$TMP/acked" "trial $trial, after the failover"
	# The survivor's log, replayed from its disk.
	n=$(grep -c KV-READY "$(con_of "$s")")
	expect_rc 0 xl "$s" destroy web
	expect_rc 0 xl "$s" create "$TMP/web.xml"
	wait_for 20 bash -c "[ \$(grep -c KV-READY $(con_of "$s")) -gt $n ]" ||
		fail "trial $trial: the survivor did not boot again"
	check_acked "$TMP/acked" "trial $trial, after the survivor's reboot"
	printf '   trial %2d: primary %s killed after %4d acknowledged SETs; %4d in all, every one on %s, also after its reboot (%s)\n' \
		"$trial" "$p" "$before" "$acked" "$s" "$(grep KVLOG "$(con_of "$s")" | tail -1 | cut -d, -f1)"
	total=$((total + acked))
	expect_rc 0 xl "$s" destroy web
	revive_host "$p"
	t=$p p=$s s=$t
done
echo "   $trial trials, $total acknowledged SETs checked twice each"
