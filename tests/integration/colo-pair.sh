# Two COLO hosts for the COLO tests: namespaces hostA and hostB joined
# by the replication veth (198.51.100.1 / .2), a colod on each, and the
# dirty-page guest "web" started on A and put into COLO with B (colo_up;
# sourcing does it unless COLO_PAIR_MANUAL is set).  Sets A, B, G, CA
# and CB (the console logs).  Source from the test script.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd sqlite3
trap 'ns_cleanup; cleanup' EXIT
A=hostA$NS_SUFFIX B=hostB$NS_SUFFIX
G=$TOP_BUILDDIR/tests/guests

# The primary helper's test knob (colo-dom-helper(8)): inert unless a
# test writes the file.
export COLO_TEST_KILL_FILE=$TMP/kill-at
ns_add "$A"
ns_add "$B"
topo_replication "$A" "$B"
for h in a b; do
	ns=$([ $h = a ] && echo "$A" || echo "$B")
	ip=$([ $h = a ] && echo 198.51.100.1 || echo 198.51.100.2)
	mkdir -p "$TMP/$h"
	# COLO_PAIR_CONF: a directory with a.conf and b.conf for the colods.
	ip netns exec "$ns" "$COLOD" --state-dir "$TMP/$h/state" --run-dir "$TMP/$h/run" \
		--log "file:$TMP/$h/colod.log" --peer-listen "$ip:7788" \
		${COLO_PAIR_CONF:+--config "$COLO_PAIR_CONF/$h.conf"} || fail "colod $h"
done
expect_rc 0 xl a params checkpoint-interval=200
cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$TOP_BUILDDIR/guest/colo-kv.elf</kernel>
  <cmdline>mode=dirty dirty_mb=32 dirty_rate=3000 verify_ms=200 report_ms=${COLO_PAIR_REPORT_MS:-500}</cmdline></os>
</domain>
XML
CA=$TMP/a/state/console/web.log
CB=$TMP/b/state/console/web.log

# same_ram_after_held_checkpoint WHAT: a checkpoint that leaves both VMs
# paused, then guest RAM hashed on both sides must be equal; both resume.
same_ram_after_held_checkpoint() {
	local ha hb i
	"$CTL_RAW" "ipc://$TMP/a/run/dom-web.ctl" \
		'{"execute":"helper-colo-checkpoint","arguments":{"hold":true}}' >/dev/null
	# Held means applied on B too: B's helper sends vmstate-loaded last.
	for ((i = 0; i < 40; i++)); do
		xl a list | grep -Eq '^web .* --p--- ' &&
			xl b list | grep -Eq '^web .* --p--- ' && break
		sleep 0.05
	done
	ha=$("$CTL_RAW" "$(ctl_ep a)" '{"execute":"x-domain-ram-hash","arguments":{"domain":"web"}}')
	hb=$("$CTL_RAW" "$(ctl_ep b)" '{"execute":"x-domain-ram-hash","arguments":{"domain":"web"}}')
	[ "${ha#*hash}" = "${hb#*hash}" ] || fail "$1: RAM differs: $ha / $hb"
	xl a unpause web >/dev/null
	xl b unpause web >/dev/null
}

# colo_up: creates web on A and protects it with B.
colo_up() {
	local n
	n=$(grep -c DIRTY-START "$CA" 2>/dev/null)
	expect_rc 0 xl a create "$TMP/web.xml"
	wait_for 20 bash -c "[ \$(grep -c DIRTY-START $CA) -gt ${n:-0} ]" || fail "guest"
	expect_rc 0 xl a colo start web 198.51.100.2
	contains "$OUT" "web: COLO primary, secondary on 198.51.100.2"
	# B's colod learns that its VM runs from the helper's next event.
	wait_for 5 bash -c "COLO_RUN_DIR=$TMP/b/run $XL list | grep -Eq '^web .* r----- .*secondary\$'" ||
		fail "no running secondary on B: $(xl b list)"
	expect_rc 0 xl a list
	echo "$OUT" | grep -Eq '^web .*primary$' || fail "A is not primary: $OUT"
}

if [ -z "${COLO_PAIR_MANUAL:-}" ]; then
	step "colo start"
	colo_up
fi
