#!/bin/bash
# COLO disks when the secondary host dies and comes back (issue 7): the
# primary goes on alone, degraded, its dirty map recording the blocks
# the secondary misses; colo resume copies only those (the count is
# checked against what block-status said) and then both image files are
# equal, byte for byte; block-resync copies again on demand, all of it
# with --full, and shows its progress.  A resume to a host whose image
# is not known to be in step (here: a new one) copies all of it, and a
# primary restarted alone keeps recording what the secondary misses.
# While a copy runs colod still answers reads, handles other domains'
# helper events, and refuses changes; a colo start whose copy fails
# removes the secondary it had B make, and one whose incoming fails on B
# after B made the domain leaves nothing there either.
export COLO_NET_PAIR_DISK=16M
# 10 ms a block: a 256-block copy lasts long enough to watch colod serve
# other requests meanwhile.
export COLO_BLKREP_TEST_RESYNC_DELAY_MS=10
. "$(dirname "$0")/colo-net-pair.sh"

file_hash() { sha256sum <"$TMP/$1/disks/web.img" | cut -d' ' -f1; }
lacks() { xl a block-status web | sed -n 's/^  lacks *: \([0-9]*\) blocks.*/\1/p'; }
# Both VMs paused at a checkpoint: no write is in flight anywhere, and
# B's image (the secondary disk, without the SVM's overlays) holds
# exactly A's writes.
files_equal() {
	hold_both
	[ "$(file_hash a)" = "$(file_hash b)" ] || fail "$1: the images differ"
	xl a unpause web >/dev/null
	xl b unpause web >/dev/null
}

step "in step after colo start"
for i in $(seq 1 20); do rcli set "k$i" "v$i" >/dev/null; done
expect_rc 0 xl a block-status web
contains "$OUT" "(connected)"
contains "$OUT" "lacks      : 0 blocks"
files_equal "after colo start"

step "the secondary host dies: the primary goes on, tracking what B misses"
ip -n "$B" link set "$(v=v$B; echo "${v:0:14}")" down
ip -n "$B" link set "rb$NS_SUFFIX" down
ip netns pids "$B" | xargs -r kill -9
wait_for 15 bash -c "COLO_RUN_DIR=$TMP/a/run $XL colo status web | grep -q 'failover *: completed'" ||
	fail "A did not go on alone: $(xl a colo status web)"
# Writes over a few MiB of log: the first waits out the peer timeout.
pad=$(printf 'p%.0s' $(seq 1 200))	# 200 bytes a value
for i in $(seq 1 400); do echo "SET alone-$i $i-$pad"; done >"$TMP/sets"
in_client redis-cli -h "$GUEST" <"$TMP/sets" >"$TMP/set-out" || fail "SETs alone"
[ "$(grep -c OK "$TMP/set-out")" -eq 400 ] || fail "SETs alone: $(sort "$TMP/set-out" | uniq -c)"
expect_rc 0 xl a block-status web
contains "$OUT" "lost: degraded"
n=$(lacks)
echo "   A went on alone; B lacks $n blocks of 64 KiB (of 256)"
[ "$n" -gt 0 ] && [ "$n" -lt 256 ] || fail "lacks $n blocks"

step "B comes back: colo resume copies only the blocks it lacks"
ip -n "$B" link set "$(v=v$B; echo "${v:0:14}")" up
ip -n "$B" link set "rb$NS_SUFFIX" up
start_colod b
xl b destroy web >/dev/null 2>&1
expect_rc 0 xl a colo resume web 198.51.100.2
contains "$ERR" "resyncing the disks to 198.51.100.2"
copied=$(sed -n 's/.*disk 0 resync completed: \([0-9]*\) of.*/\1/p' "$TMP/a/colod.log" | tail -1)
echo "   the resync copied $copied blocks"
[ "$copied" = "$n" ] || fail "copied $copied blocks, B lacked $n"
expect_rc 0 xl a block-status web
contains "$OUT" "lacks      : 0 blocks"
files_equal "after colo resume"
[ "$(rcli get alone-1)" = "1-$pad" ] && [ "$(rcli get alone-400)" = "400-$pad" ] ||
	fail "the values written alone did not survive the resume"

step "block-resync: nothing to copy, or everything with --full"
expect_rc 0 xl a block-resync web
contains "$OUT" "disk 0: 0 blocks copied; the secondary lacks 0"
expect_rc 0 xl a block-resync --full web
contains "$OUT" "disk 0: 256 blocks copied; the secondary lacks 0"
contains "$ERR" "disk 0: 100% (256 of 256 blocks)"
files_equal "after block-resync --full"
expect_rc 2 xl a block-resync
expect_rc 1 xl a block-resync nosuch

# B's host dies again, as above; A goes on alone.
lose_b() {
	ip -n "$B" link set "$(v=v$B; echo "${v:0:14}")" down
	ip -n "$B" link set "rb$NS_SUFFIX" down
	ip netns pids "$B" | xargs -r kill -9
	wait_for 15 bash -c "COLO_RUN_DIR=$TMP/a/run $XL colo status web | grep -q 'failover *: completed'" ||
		fail "A did not go on alone: $(xl a colo status web)"
}
back_b() {
	ip -n "$B" link set "$(v=v$B; echo "${v:0:14}")" up
	ip -n "$B" link set "rb$NS_SUFFIX" up
	start_colod b
	xl b destroy web >/dev/null 2>&1
}
resync_count() { sed -n 's/.*disk 0 resync completed: \([0-9]*\) of.*/\1/p' "$TMP/a/colod.log" | tail -1; }

step "a new image on B: the resume copies all of it, not what A's map says"
lose_b
for i in $(seq 1 20); do rcli set "again-$i" "$i-$pad" >/dev/null; done
n=$(lacks)
[ "$n" -gt 0 ] && [ "$n" -lt 256 ] || fail "lacks $n blocks"
back_b
rm -f "$TMP/b/disks/web.img"	# a replaced host, or a lost image
# A second domain on A, whose helper dies while web's disk is copied.
cat >"$TMP/aux.xml" <<XML
<domain type='kvm'>
  <name>aux</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$TOP_BUILDDIR/tests/guests/counter.elf</kernel>
  <cmdline>pages=30 per_tick=2 report=100 tick_us=20000</cmdline></os>
</domain>
XML
expect_rc 0 xl a create "$TMP/aux.xml"
aux_pid=$(db a "SELECT helper_pid FROM domains WHERE name = 'aux'")
[ -n "$aux_pid" ] || fail "no helper pid for aux"
runs=$(grep -c "disk 0 resync running" "$TMP/a/colod.log")
xl a colo resume web 198.51.100.2 >"$TMP/resume.out" 2>"$TMP/resume.err" &
resume=$!
wait_for 20 bash -c "[ \$(grep -c 'disk 0 resync running' $TMP/a/colod.log) -gt $runs ]" ||
	fail "the copy did not start: $(cat "$TMP/resume.err")"
# While it copies, colod answers reads and refuses changes as busy.
expect_rc 0 xl a list
contains "$OUT" "web"
expect_rc 0 xl a colo status web
expect_rc 1 xl a pause web
contains "$ERR" "colod is busy copying disk 0 of web to its secondary"
# A hung helper costs a read request less than the heartbeat limit:
# else B, not yet protected by a COLO stream, would take A for dead.
lost=$(grep -c "lost heartbeat" "$TMP/b/colod.log")
kill -STOP "$aux_pid"
for i in 1 2 3; do xl a list >/dev/null || fail "list with aux hung"; done
[ "$(grep -c "lost heartbeat" "$TMP/b/colod.log")" = "$lost" ] ||
	fail "a hung helper on A stalled A's heartbeats: $(grep "lost heartbeat" "$TMP/b/colod.log" | tail -1)"
# Another domain's helper events are handled meanwhile: its crash too.
dones=$(grep -c "disk 0 resync completed" "$TMP/a/colod.log")
kill -9 "$aux_pid"
wait_for 5 bash -c "COLO_RUN_DIR=$TMP/a/run $XL list | grep -Eq '^aux .* ----c- '" ||
	fail "aux's crash is not shown: $(xl a list)"
[ "$(grep -c "disk 0 resync completed" "$TMP/a/colod.log")" = "$dones" ] ||
	fail "aux's crash was handled only after web's copy"
kill -0 "$resume" 2>/dev/null || fail "the copy ended before colod was asked"
xl a destroy aux >/dev/null
wait "$resume" || fail "colo resume: $(cat "$TMP/resume.err")"
grep -q "disk 0 on 198.51.100.2 is not known to be in step" "$TMP/a/colod.log" ||
	fail "A trusted its map for an image B just created"
copied=$(resync_count)
echo "   A's map said $n blocks; the resume copied $copied"
[ "$copied" = 256 ] || fail "copied $copied blocks of 256 to a new image"
files_equal "after a resume to a new image"
[ "$(rcli get again-20)" = "20-$pad" ] || fail "a value written alone is lost"

step "the domain restarted on A alone: its writes still count as missed"
lose_b
xl a destroy web >/dev/null || fail "destroy on A"
wait_for 10 bash -c "! COLO_RUN_DIR=$TMP/a/run $XL list | grep -qw web" || fail "web did not go"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 30 bash -c "ip netns exec $NS_CLIENT redis-cli -h $GUEST ping | grep -q PONG" ||
	fail "the guest did not come back on A"
before=$(lacks)
# 80 KB of log: more than one 64 KiB block, so some block is new.
for i in $(seq 1 400); do echo "SET restarted-$i $i-$pad"; done >"$TMP/sets"
in_client redis-cli -h "$GUEST" <"$TMP/sets" >"$TMP/set-out" || fail "SETs after the restart"
after=$(lacks)
echo "   B lacked $before blocks when A restarted, $after after its writes"
[ "$after" -gt "$before" ] || fail "writes after the restart were not recorded"
back_b
expect_rc 0 xl a colo resume web 198.51.100.2
copied=$(resync_count)
[ "$copied" = "$after" ] || fail "copied $copied blocks, B lacked $after"
files_equal "after a resume from a restarted primary"
[ "$(rcli get restarted-400)" = "400-$pad" ] || fail "a value written after the restart is lost"

step "a colo start that fails half way leaves nothing on B, and a retry works"
lose_b
back_b
runs=$(grep -c "disk 0 resync running" "$TMP/a/colod.log")
xl a colo start web 198.51.100.2 >"$TMP/start.out" 2>"$TMP/start.err" &
start=$!
wait_for 20 bash -c "[ \$(grep -c 'disk 0 resync running' $TMP/a/colod.log) -gt $runs ]" ||
	fail "the copy did not start: $(cat "$TMP/start.err")"
kill -9 "$(cat "$TMP/b/run/dom-web-disk0.pid")"	# B's blkrep dies mid-copy
wait "$start" && fail "colo start succeeded without B's blkrep"
contains "$(cat "$TMP/start.err")" "the resync failed"
grep -q "web: removed the secondary of the failed start on tcp://198.51.100.2" "$TMP/a/colod.log" ||
	fail "A did not remove B's secondary: $(grep -i secondary "$TMP/a/colod.log" | tail -3)"
wait_for 10 bash -c "! COLO_RUN_DIR=$TMP/b/run $XL list | grep -qw web" ||
	fail "B kept the secondary of the failed start: $(xl b list)"
# B's own part fails once it made the domain: B removes it by itself.
restart_b() {
	local pid
	pid=$(colod_pid b)
	kill "$pid"
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "B's colod did not stop"
	start_colod b
}
COLOD_TEST_FAIL_INCOMING=1 restart_b
expect_rc 1 xl a colo start web 198.51.100.2
contains "$ERR" "test: incoming made to fail once the domain exists"
grep -q "domain web: removed the failed incoming" "$TMP/b/colod.log" ||
	fail "B did not remove its failed incoming: $(tail -5 "$TMP/b/colod.log")"
expect_rc 0 xl b list
echo "$OUT" | grep -qw web && fail "B kept its failed incoming: $OUT"
[ -e "$TMP/b/run/dom-web-disk0.pid" ] && fail "B kept the failed incoming's blkrep"
restart_b
expect_rc 0 xl a colo start web 198.51.100.2
files_equal "after a retried colo start"
[ "$(rcli get restarted-400)" = "400-$pad" ] || fail "a value is lost after the retried start"
