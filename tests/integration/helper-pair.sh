# Two helpers for COLO without colod: a primary NAME-p running the
# counter guest and a secondary NAME-s waiting for it on loopback.
# Source after lib.sh.
HELPER=$TOP_BUILDDIR/colo-dom-helper
G=$TOP_BUILDDIR/tests/guests
cat >"$TMP/web.xml" <<XML
<domain type='kvm'><name>web</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type><kernel>$G/counter.elf</kernel>
<cmdline>pages=2000 per_tick=40 report=200 tick_us=1000</cmdline></os></domain>
XML
call() { "$CTL_RAW" "ipc://$TMP/$1.ctl" "$2"; }
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p"; }

# start_helpers NAME: both helpers up; the secondary's port in SPORT.
start_helpers() {
	local n=$1
	"$HELPER" --config "$TMP/web.xml" --ctl "ipc://$TMP/$n-p.ctl" \
		--console-log "$TMP/$n-p.con" --run-dir "$TMP" 2>"$TMP/$n-p.log" &
	CHILD_PIDS+=($!)
	"$HELPER" --config "$TMP/web.xml" --incoming tcp:127.0.0.1 \
		--ctl "ipc://$TMP/$n-s.ctl" --console-log "$TMP/$n-s.con" \
		--run-dir "$TMP" --status-fd 3 3>"$TMP/$n-s.status" 2>"$TMP/$n-s.log" &
	CHILD_PIDS+=($!)
	wait_for 10 grep -q "OK port=" "$TMP/$n-s.status" || fail "secondary did not start"
	wait_for 10 grep -q "COUNTER 200 " "$TMP/$n-p.con" || fail "primary not counting"
	SPORT=$(sed -n 's/OK port=//p' "$TMP/$n-s.status")
}

# colo_start NAME PORT: COLO to PORT every 100 ms; returns after 5.
colo_start() {
	call "$1-p" "{\"execute\":\"helper-colo-start\",\"arguments\":{\"host\":\"127.0.0.1\",\"port\":$2,\"max-downtime\":300,\"interval\":100}}" |
		grep -q return || fail "colo-start"
	wait_for 20 bash -c "[ \$($CTL_RAW ipc://$TMP/$1-p.ctl '{\"execute\":\"helper-query-colo\"}' |
		sed -n 's/.*\"checkpoints\":\\([0-9]*\\).*/\\1/p') -ge 5 ]" || fail "no checkpoints"
}
