#!/bin/bash
# COLO with a replicated disk (DESIGN §6, §7): the kv guest keeps its
# log on an image file, each host's colod sees its own file under the
# same path.  colo start copies A's disk to B's colo-blkrep (secondary
# mode), then every write of the PVM goes to both.
#  - secondary consistency: over 500+ checkpoints with a SET workload
#    (the PVM writing on after each speculative resume), the SVM's view
#    after loading checkpoint N hashes equal to the PVM's disk at
#    snapshot N, for every N; checkpoints that leave both VMs paused
#    show it with nbdcopy too;
#  - failover consistency: after a takeover the survivor's disk is the
#    last loaded checkpoint plus the SVM's own writes since, and not the
#    primary's later writes, which B held in its secondary disk;
#  - on the network, B's blkrep takes epoch boundaries only on its
#    control endpoint, and serves its NBD export only under the random
#    name A was given (no default export, no list, no SVM view);
#  - the survivor protects itself in turn, without a reboot: colo start
#    from B copies its taken-over disk to the revived A.
export COLO_NET_PAIR_DISK=16M
# Each blkrep logs a hash of the disk as its guest sees it: the primary's
# at each paused phase (snapshot N), the secondary's after each load.
export COLO_BLKREP_TEST_VIEW_HASH=1
# The guest also writes on its own, a tick record every 20 ms.
export COLO_NET_PAIR_CMDLINE=disk_tick_ms=20
. "$(dirname "$0")/colo-net-pair.sh"
need_cmd nbdcopy
need_cmd nbdinfo

disk_sock() { echo "$TMP/$1/run/dom-web-disk0.sock"; }
# The PVM's disk on A; on B the default export of the helper's socket is
# the SVM's view (active, hidden, secondary disk).
disk_hash() { nbdcopy "nbd+unix:///?socket=$(disk_sock "$1")" - | sha256sum | cut -d' ' -f1; }
blkrep_ctl() { "$CTL_RAW" "ipc://$TMP/$1/run/dom-web-disk0.ctl" "$2"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["return"][sys.argv[2]])' "$1" "$2"; }
ckpts() { xl a colo status web | sed -n 's/^checkpoints *: //p'; }

step "colo start copied A's disk to B; B keeps pre-images per epoch"
contains "$ERR" "web: disk 0: completed, 100% (256 of 256 blocks)"
grep -q "disk 0 resync completed: 256 of 256 blocks" "$TMP/a/colod.log" ||
	fail "no full copy: $(grep resync "$TMP/a/colod.log")"
r=$(blkrep_ctl b '{"execute":"blkrep-query-stats"}')
[ "$(json_field "$r" epoch)" -ge 1 ] || fail "B's blkrep has no epoch boundary: $r"
[ "$(json_field "$r" taken-over)" = False ] || fail "B taken over: $r"
r=$(blkrep_ctl a '{"execute":"blkrep-query-replication"}')
[ "$(json_field "$r" connected)" = True ] || fail "A does not replicate: $r"
[ "$(rcli get before-colo)" = 1 ] || fail "before-colo lost"
# B's control endpoint on the network takes epoch boundaries, nothing else.
peer_ep=$(sed -n 2p "$TMP/b/run/dom-web-disk0.port")
r=$(ip netns exec "$A" "$CTL_RAW" "$peer_ep" \
	'{"execute":"colo-phase","arguments":{"domain":"web","phase":"exit","seq":1,"mode":"secondary","takeover":true}}')
contains "$r" "not served on the peer endpoint"
# B's NBD port on the network answers only to the random export name
# the primary was given: no default export, no list, no SVM view.
port=$(sed -n 1p "$TMP/b/run/dom-web-disk0.port")
name=$(sed -n 3p "$TMP/b/run/dom-web-disk0.port")
[ ${#name} -eq 32 ] || fail "B's export has no random name: '$name'"
grep -q "replicating to nbd://198.51.100.2:$port/$name" "$TMP"/a/state/log/web-disk0.log ||
	fail "A does not replicate to the named export"
for uri in "nbd://198.51.100.2:$port" "nbd://198.51.100.2:$port/svm" \
	"nbd://198.51.100.2:$port/${name}x"; do
	! ip netns exec "$A" nbdinfo --size "$uri" >/dev/null 2>&1 || fail "$uri is served"
done
[ "$(ip netns exec "$A" nbdinfo --size "nbd://198.51.100.2:$port/$name")" = 16777216 ] ||
	fail "the named export is not served"
! ip netns exec "$A" nbdinfo --list "nbd://198.51.100.2:$port" 2>/dev/null | grep -q "$name" ||
	fail "the export name is listed"

step "SET workload over 500 checkpoints: after each held one, SVM view = PVM disk"
expect_rc 0 xl a params checkpoint-interval=10
c0=$(ckpts)
in_client redis-benchmark -h "$GUEST" -t set -r 5000 -n 100000000 -c 4 -q >/dev/null 2>&1 &
bench=$!
CHILD_PIDS+=($bench)
checks=0
while [ $(($(ckpts) - c0)) -lt "${COLO_DISK_MIN_CKPTS:-500}" ] || [ $checks -lt 10 ]; do
	sleep 0.5
	hold_both
	ha=$(disk_hash a)
	hb=$(disk_hash b)
	[ "$ha" = "$hb" ] || fail "held checkpoint $(ckpts): SVM view $hb, PVM disk $ha"
	checks=$((checks + 1))
	xl a unpause web >/dev/null
	xl b unpause web >/dev/null
done
pkill -f "redis-benchmark -h $GUEST" 2>/dev/null
wait $bench 2>/dev/null
# Every checkpoint B loaded, against A's disk at that snapshot.
sed -n 's/.*test: paused \([0-9]*\) view \([0-9a-f]*\)$/\1 \2/p' \
	"$TMP/a/state/log/web-disk0.log" | sort >"$TMP/pvm.hashes"
sed -n 's/.*test: loaded \([0-9]*\) view \([0-9a-f]*\)$/\1 \2/p' \
	"$TMP/b/state/log/web-disk0.log" | sort >"$TMP/svm.hashes"
nl=$(wc -l <"$TMP/svm.hashes")
bad=$(join "$TMP/svm.hashes" "$TMP/pvm.hashes" | awk '$2 != $3' | head -3)
same=$(join "$TMP/svm.hashes" "$TMP/pvm.hashes" | awk '$2 == $3' | wc -l)
[ -z "$bad" ] || fail "SVM view after load differs from the PVM disk at the snapshot: $bad"
[ "$same" -eq "$nl" ] && [ "$nl" -ge "${COLO_DISK_MIN_CKPTS:-500}" ] ||
	fail "$same of $nl loads matched a snapshot hash"
echo "   after each of $nl loads, the SVM's view hashed as the PVM's disk at that snapshot"
r=$(blkrep_ctl b '{"execute":"blkrep-query-stats"}')
echo "   $(($(ckpts) - c0)) checkpoints, $checks held ones compared equal;" \
	"B saved $(json_field "$r" pre-images) pre-images, holds $(json_field "$r" hidden-blocks) now"
[ "$(json_field "$r" pre-images)" -gt 0 ] || fail "B never kept a pre-image"
expect_rc 0 xl a params checkpoint-interval=100000

step "failover: the survivor's disk is the loaded checkpoint plus the SVM's writes"
sleep 1		# the benchmark's connections wind down, compared
# Both paused at checkpoint N: B's view is what B loaded.
hold_both
n_loaded=$(json_field "$(blkrep_ctl b '{"execute":"blkrep-query-stats"}')" loaded)
h_loaded=$(disk_hash b)
[ "$h_loaded" = "$(disk_hash a)" ] || fail "SVM view differs at the held checkpoint"
# The SVM alone runs a while: its tick records go to B's active overlay.
xl b unpause web >/dev/null
sleep 0.3
xl b pause web >/dev/null
h_svm=$(disk_hash b)
[ "$h_svm" != "$h_loaded" ] || fail "the SVM wrote nothing"
# Then the PVM alone: its ticks of epoch N+1 reach B's secondary disk,
# with pre-images, and no checkpoint follows (no traffic, interval
# 100 s).  The takeover must undo them.
xl a unpause web >/dev/null
sleep 0.3
r=$(blkrep_ctl b '{"execute":"blkrep-query-stats"}')
echo "   B: loaded $(json_field "$r" loaded), epoch $(json_field "$r" epoch)," \
	"$(json_field "$r" active-blocks) SVM blocks, $(json_field "$r" hidden-blocks) pre-images"
[ "$(json_field "$r" loaded)" = "$n_loaded" ] || fail "a checkpoint came between: $r; $(xl a colo status web | grep trigger)"
[ "$(json_field "$r" hidden-blocks)" -gt 0 ] || fail "the PVM wrote nothing to B: $r"
[ "$(json_field "$r" active-blocks)" -gt 0 ] || fail "no SVM blocks: $r"
ip -n "$A" link set "$(v=v$A; echo "${v:0:14}")" down
ip -n "$A" link set "ra$NS_SUFFIX" down
ip netns pids "$A" | xargs -r kill -9
wait_for 15 bash -c "COLO_RUN_DIR=$TMP/b/run $XL colo status web | grep -q 'failover *: completed'" ||
	fail "B did not fail over: $(xl b colo status web)"
r=$(blkrep_ctl b '{"execute":"blkrep-query-stats"}')
[ "$(json_field "$r" taken-over)" = True ] || fail "B's blkrep did not commit: $r"
h_file=$(sha256sum <"$TMP/b/disks/web.img" | cut -d' ' -f1)
[ "$h_file" = "$h_svm" ] ||
	fail "B's disk after the takeover ($h_file) is not the loaded checkpoint plus the SVM's writes ($h_svm)"
echo "   B's image = checkpoint view + SVM writes, without the PVM's later ones (${h_svm:0:16})"
xl b unpause web >/dev/null
[ "$(rcli get before-colo)" = 1 ] || fail "before-colo lost on the survivor"
t=$(info_field log_ticks)
sleep 0.5
[ "$(info_field log_ticks)" -gt "$t" ] || fail "the survivor's guest stopped writing"

step "the survivor protects itself in turn: its disk is copied to the revived A"
ip -n "$A" link set "$(v=v$A; echo "${v:0:14}")" up
ip -n "$A" link set "ra$NS_SUFFIX" up
start_colod a
xl a destroy web >/dev/null 2>&1	# the crashed record of the old primary
expect_rc 0 xl b colo start web 198.51.100.1
grep -q "disk 0 resync completed: 256 of 256 blocks" "$TMP/b/colod.log" ||
	fail "B did not copy its disk: $(grep resync "$TMP/b/colod.log")"
for i in 1 2 3 4 5; do
	[ "$(rcli set "again-$i" "w$i")" = OK ] || fail "SET again-$i"
done
hold_both b a
[ "$(disk_hash a)" = "$(disk_hash b)" ] || fail "A's SVM view differs from B's disk"
xl b unpause web >/dev/null
xl a unpause web >/dev/null
expect_rc 0 xl b block-status web
contains "$OUT" "(connected)"
echo "   B copied its taken-over disk to A; A's SVM view equals it at a held checkpoint"
g5=$(rcli get again-5) g0=$(rcli get before-colo)
[ "$g5" = w5 ] && [ "$g0" = 1 ] || fail "keys lost: again-5=$g5 before-colo=$g0"
