#!/bin/bash
# Damaged checkpoint streams between two helpers in COLO, through a relay
# (tests/tools/stream-mangle) that spoils one record on demand.
#  - A corrupt record (CRC mismatch), an unknown record type or an
#    impossible length: the secondary rejects it, reports which record
#    and why, drops the partial checkpoint and stands by, paused at its
#    last consistent state (the primary is alive, so taking over would
#    make two primaries).  A failover then makes it take over, and its
#    guest runs on with its self-check clean.
#  - A stream cut in the middle of a record, as when the primary dies:
#    the secondary takes over at once from its last consistent state.
#  - The primary leaving COLO on purpose (failover on the primary): it
#    ends the stream with END, and the secondary stands by.
# The primary carries on alone in every case.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
. "$(dirname "$0")/helper-pair.sh"
MANGLE=$TOP_BUILDDIR/tests/tools/stream-mangle
colo_of() { call "$1" '{"execute":"helper-query-colo"}'; }
state_of() { call "$1" '{"execute":"helper-query"}' | field state | tr -d '"'; }

# pair NAME MODE TYPE: primary NAME-p and secondary NAME-s in COLO, the
# stream going through a relay that will damage a TYPE record by MODE.
pair() {
	local n=$1
	start_helpers "$n"
	"$MANGLE" "$TMP/$n.relay" "$SPORT" "$2" "$3" 2>"$TMP/$n.mangle" &
	RELAY=$!
	CHILD_PIDS+=($RELAY)
	wait_for 5 test -s "$TMP/$n.relay" || fail "relay did not start"
	colo_start "$n" "$(cat "$TMP/$n.relay")"
}

# runs_clean NAME-SIDE: its guest counts on with its self-check clean.
runs_clean() {
	local con=$TMP/$1.con c0
	c0=$(grep -c "CHECK ok" "$con")
	wait_for 10 bash -c "[ \$(grep -c 'CHECK ok' $con) -gt $((c0 + 2)) ]" ||
		fail "$1: the guest does not run on"
	! grep -q "GUEST-CHECK FAIL" "$con" || fail "$1: $(grep GUEST-CHECK "$con" | head -2)"
	[ "$(state_of "$1")" = running ] || fail "$1 is not running"
}

# primary_alone NAME: the primary left COLO and its guest runs.
primary_alone() {
	wait_for 15 bash -c "$CTL_RAW ipc://$TMP/$1-p.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":false'" ||
		fail "$1: the primary is still in COLO"
	runs_clean "$1-p"
}

# standby_case NAME MODE TYPE WHAT: the secondary rejects the record and
# stands by; WHAT is in its error.
standby_case() {
	local n=$1 st ck
	pair "$n" "$2" "$3"
	kill -USR1 "$RELAY"
	wait_for 10 bash -c "$CTL_RAW ipc://$TMP/$n-s.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"standby\":true'" ||
		fail "$n: the secondary does not stand by: $(colo_of "$n-s")"
	grep -q "mangled $3 $2" "$TMP/$n.mangle" || fail "$n: the relay did nothing"
	st=$(colo_of "$n-s")
	echo "$st" | grep -q '"active":false' || fail "$n: still active: $st"
	echo "$st" | grep -q "$4" || fail "$n: error does not say '$4': $st"
	echo "   $n: $(echo "$st" | sed -n 's/.*"error":"\([^"]*\)".*/\1/p')"
	[ "$(state_of "$n-s")" = paused ] || fail "$n: the secondary is not paused"
	ck=$(echo "$st" | field checkpoints)
	sleep 0.5
	[ "$(colo_of "$n-s" | field checkpoints)" = "$ck" ] ||
		fail "$n: a checkpoint was applied after the bad record"
	primary_alone "$n"
	# The decision it waited for: it takes over from where it stood.
	call "$n-s" '{"execute":"helper-colo-failover"}' | grep -q return ||
		fail "$n: failover refused"
	colo_of "$n-s" | grep -q '"standby":false' || fail "$n: still standing by"
	runs_clean "$n-s"
	call "$n-p" '{"execute":"helper-quit"}' >/dev/null
	call "$n-s" '{"execute":"helper-quit"}' >/dev/null
}

step "a PAGE_DATA record with a bad CRC: rejected, the secondary stands by"
standby_case crc flip 2 "PAGE_DATA record at offset [0-9]*: CRC mismatch"

step "a COLO_MESSAGE record turned to an unknown type: rejected, stands by"
standby_case type type 6 "unknown type 99"

step "a CHECKPOINT_END record with an impossible length: rejected, stands by"
standby_case len len 7 "CHECKPOINT_END record at offset [0-9]*: length"

step "a PAGE_DATA record cut short (the primary died mid-send): takeover"
pair cut cut 2
kill -USR1 "$RELAY"
wait_for 10 bash -c "$CTL_RAW ipc://$TMP/cut-s.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"active\":false'" ||
	fail "the secondary did not notice"
st=$(colo_of cut-s)
echo "$st" | grep -q '"standby":false' || fail "a truncated stream must not stand by: $st"
echo "$st" | grep -q "PAGE_DATA record at offset [0-9]*: truncated" || fail "error: $st"
echo "   cut: $(echo "$st" | sed -n 's/.*"error":"\([^"]*\)".*/\1/p')"
runs_clean cut-s
primary_alone cut
call cut-p '{"execute":"helper-quit"}' >/dev/null
call cut-s '{"execute":"helper-quit"}' >/dev/null

step "failover on the primary: END tells the secondary to stand by"
pair end flip 99
call end-p '{"execute":"helper-colo-failover"}' | grep -q return || fail "failover"
wait_for 10 bash -c "$CTL_RAW ipc://$TMP/end-s.ctl '{\"execute\":\"helper-query-colo\"}' | grep -q '\"standby\":true'" ||
	fail "the secondary does not stand by: $(colo_of end-s)"
colo_of end-s | grep -q "the primary stopped COLO and carries on alone" || fail "$(colo_of end-s)"
[ "$(state_of end-s)" = paused ] || fail "the secondary is not paused"
primary_alone end
echo ok
