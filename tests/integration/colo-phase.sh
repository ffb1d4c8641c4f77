#!/bin/bash
# The checkpoint phase seam (colo-phase in colo-protocol(7)): listeners
# attached to the helpers, as netproxy and blkrep will be, hear paused and
# committed on the primary and loaded on the secondary for every
# checkpoint in order, the helper waits for their replies, and a listener
# that refuses or does not answer ends COLO safely: the primary carries on
# alone and the secondary stands by instead of taking over.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
. "$(dirname "$0")/helper-pair.sh"
LISTENER=$TOP_BUILDDIR/tests/tools/phase-listener

# listen NAME [RULE...]: a listener on ipc://$TMP/NAME.sock logging to
# $TMP/NAME.phases.
listen() {
	local n=$1
	shift
	"$LISTENER" "ipc://$TMP/$n.sock" "$TMP/$n.phases" "$@" &
	CHILD_PIDS+=($!)
	wait_for 5 test -S "$TMP/$n.sock" || fail "listener $n did not start"
}
attach() {	# HELPER LISTENER [TIMEOUT]
	call "$1" "{\"execute\":\"helper-colo-phase-attach\",\"arguments\":{\"endpoint\":\"ipc://$TMP/$2.sock\"${3:+,\"timeout\":$3}}}"
}
colo() { call "$1" '{"execute":"helper-query-colo"}'; }

# in_order FILE PHASE...: FILE holds, checkpoint after checkpoint, the
# given phases in that order, seq rising by one; prints the count.
in_order() {
	local f=$1
	shift
	awk -v want="$*" 'BEGIN { n = split(want, ph, " ") }
		$1 == "exit" { next }
		{ i = (NR - 1) % n + 1
		  if ($1 != ph[i]) { print "line " NR ": " $0 " (want " ph[i] ")"; exit 1 }
		  if (i == 1 && last != "" && $2 != last + 1) { print "line " NR ": seq " $2 " after " last; exit 1 }
		  if (i > 1 && $2 != last) { print "line " NR ": seq " $2 " in checkpoint " last; exit 1 }
		  last = $2; c++ }
		END { print c / n }' "$f"
}

step "attach refuses what cannot work"
start_helpers a
listen lp
listen ls
r=$(call a-p '{"execute":"helper-colo-phase-attach","arguments":{"endpoint":"tcp://127.0.0.1:1"}}')
contains "$r" "must be ipc://"
r=$(call a-p "{\"execute\":\"helper-colo-phase-attach\",\"arguments\":{\"endpoint\":\"ipc://$TMP/nobody.sock\"}}")
contains "$r" '"error"'
r=$(attach a-p lp 5)
contains "$r" "timeout must be 10 to 60000 ms"
r=$(attach a-p lp 4294967396)
contains "$r" "timeout must be 10 to 60000 ms"
r=$(call a-p '{"execute":"helper-colo-phase-detach","arguments":{"endpoint":"ipc://nothing"}}')
contains "$r" "no phase listener ipc://nothing"

step "with listeners attached, every checkpoint is announced in order"
attach a-p lp | grep -q return || fail "attach lp"
attach a-s ls | grep -q return || fail "attach ls"
colo a-p | grep -q "\"phase-listeners\":\[\"ipc://$TMP/lp.sock\"\]" || fail "not listed: $(colo a-p)"
colo_start a "$SPORT"
call a-p '{"execute":"helper-colo-set","arguments":{"interval":1000000}}' >/dev/null
sleep 0.5	# the last checkpoint settles on both sides
# Checkpoint 0, the end of the initial migration, has a paused phase
# only: blkrep's first epoch boundary.
[ "$(head -1 "$TMP/lp.phases")" = "paused 0 primary - web" ] ||
	fail "no paused 0 first: $(head -2 "$TMP/lp.phases")"
np=$(in_order <(tail -n +2 "$TMP/lp.phases") paused committed) || fail "primary: $np"
ns=$(in_order "$TMP/ls.phases" loaded) || fail "secondary: $ns"
n=$(colo a-p | field checkpoints)
echo "   $n checkpoints; primary listener heard $np, secondary listener $ns"
[ "$np" -eq "$n" ] && [ "$ns" -eq "$n" ] || fail "checkpoints $n, heard $np / $ns"
grep -q '^paused 1 primary - web$' "$TMP/lp.phases" || fail "$(head -2 "$TMP/lp.phases")"
grep -q '^loaded 1 secondary - web$' "$TMP/ls.phases" || fail "$(head -2 "$TMP/ls.phases")"

step "netproxy's request API: a checkpoint asked for on a mismatch is recorded so"
c0=$(colo a-p | field checkpoints)
call a-p '{"execute":"helper-colo-checkpoint","arguments":{"mismatch":true}}' | grep -q return ||
	fail "request refused"
wait_for 10 bash -c "$CTL_RAW ipc://$TMP/a-p.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"last-trigger\":\"mismatch\"'" ||
	fail "not recorded as mismatch: $(colo a-p)"
wait_for 5 bash -c "$CTL_RAW ipc://$TMP/a-p.ctl '{\"execute\":\"helper-query-checkpoints\",\"arguments\":{\"since\":$c0}}' |
	grep -q '\"trigger\":\"mismatch\"'" || fail "no mismatch record"
wait_for 5 bash -c "[ \$(grep -c '^loaded' $TMP/ls.phases) -gt $c0 ]" || fail "not loaded"

step "the primary waits for every listener"
listen slow delay:paused:150
listen slow2 delay:paused:150
attach a-p slow | grep -q return || fail "attach slow"
attach a-p slow2 | grep -q return || fail "attach slow2"
c0=$(colo a-p | field checkpoints)
call a-p '{"execute":"helper-colo-checkpoint"}' >/dev/null
wait_for 10 bash -c "[ \$($CTL_RAW ipc://$TMP/a-p.ctl '{\"execute\":\"helper-query-colo\"}' |
	sed -n 's/.*\"checkpoints\":\\([0-9]*\\).*/\\1/p') -gt $c0 ]" || fail "no checkpoint"
p=$(colo a-p | field last-pause-us)
echo "   pause with two listeners that take 150 ms each: $((p / 1000)) ms"
# Never shorter than one listener's delay: the helper waited for it.
[ "$p" -ge 150000 ] || fail "the primary did not wait: pause $p us"
grep -q "^paused $((c0 + 1)) primary" "$TMP/slow2.phases" || fail "slow2 not told"
call a-p "{\"execute\":\"helper-colo-phase-detach\",\"arguments\":{\"endpoint\":\"ipc://$TMP/slow.sock\"}}" |
	grep -q return || fail "detach"
call a-p "{\"execute\":\"helper-colo-phase-detach\",\"arguments\":{\"endpoint\":\"ipc://$TMP/slow2.sock\"}}" >/dev/null

step "a listener refusing committed: the primary goes on alone, the secondary stands by"
k=$(($(colo a-p | field checkpoints) + 2))
kill "${CHILD_PIDS[2]}"	# lp, restarted with the rule
wait "${CHILD_PIDS[2]}" 2>/dev/null
listen lp "fail:committed:$k"
call a-p '{"execute":"helper-colo-set","arguments":{"interval":100}}' >/dev/null
wait_for 15 bash -c "$CTL_RAW ipc://$TMP/a-p.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":false'" ||
	fail "COLO did not stop (refusing $k): $(colo a-p); $(tail -4 "$TMP/lp.phases"); $(tail -5 "$TMP/a-p.log")"
colo a-p | grep -q "test listener refuses committed of checkpoint $k" || fail "error: $(colo a-p)"
wait_for 10 bash -c "$CTL_RAW ipc://$TMP/a-s.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"standby\":true'" ||
	fail "the secondary did not stand by: $(colo a-s)"
call a-s '{"execute":"helper-query"}' | grep -q '"state":"paused"' || fail "standby but running"
grep -q "^exit $((k - 1)) primary true web$" "$TMP/lp.phases" || fail "primary exit: $(tail -2 "$TMP/lp.phases")"
wait_for 5 grep -q "^exit [0-9]* secondary false web$" "$TMP/ls.phases" ||
	fail "secondary exit: $(tail -2 "$TMP/ls.phases")"
c0=$(grep -c "CHECK ok" "$TMP/a-p.con")
wait_for 10 bash -c "[ \$(grep -c 'CHECK ok' $TMP/a-p.con) -gt $((c0 + 2)) ]" ||
	fail "the primary's guest stopped"
call a-p '{"execute":"helper-quit"}' >/dev/null
call a-s '{"execute":"helper-quit"}' >/dev/null

step "a secondary listener that never answers loaded: standby, not takeover"
start_helpers b
listen lb hang:loaded:4
attach b-s lb 200 | grep -q return || fail "attach lb"
call b-p "{\"execute\":\"helper-colo-start\",\"arguments\":{\"host\":\"127.0.0.1\",\"port\":$SPORT,\"max-downtime\":300,\"interval\":100}}" |
	grep -q return || fail "colo-start"
wait_for 15 bash -c "$CTL_RAW ipc://$TMP/b-s.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"standby\":true'" ||
	fail "no standby: $(colo b-s)"
colo b-s | grep -q "no reply to colo-phase from ipc://$TMP/lb.sock within 200 ms" ||
	fail "error: $(colo b-s)"
wait_for 15 bash -c "$CTL_RAW ipc://$TMP/b-p.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":false'" ||
	fail "the primary still in COLO"
grep -q "^exit 3 secondary false web$" "$TMP/lb.phases" || fail "$(tail -3 "$TMP/lb.phases")"
call b-p '{"execute":"helper-query"}' | grep -q '"state":"running"' || fail "primary not running"
call b-p '{"execute":"helper-quit"}' >/dev/null
call b-s '{"execute":"helper-quit"}' >/dev/null

step "the primary dies: the secondary's listeners hear the takeover"
start_helpers c
listen lc
attach c-s lc | grep -q return || fail "attach lc"
colo_start c "$SPORT"
kill -9 "$(call c-p '{"execute":"helper-query"}' | field pid)"
wait_for 10 grep -q "^exit [0-9]* secondary true web$" "$TMP/lc.phases" ||
	fail "no exit: $(tail -2 "$TMP/lc.phases")"
wait_for 10 bash -c "$CTL_RAW ipc://$TMP/c-s.ctl '{\"execute\":\"helper-query\"}' | grep -q '\"state\":\"running\"'" ||
	fail "the secondary does not run"
call c-s '{"execute":"helper-quit"}' >/dev/null
echo ok
