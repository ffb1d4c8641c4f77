# Two COLO hosts for the COLO tests: namespaces hostA and hostB joined
# by the replication veth (198.51.100.1 / .2), a colod on each, and the
# dirty-page guest "web" started on A and put into COLO with B.  Sets
# A, B, G and CB (B's console log).  Source from the test script.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd sqlite3
trap 'ns_cleanup; cleanup' EXIT
A=hostA$NS_SUFFIX B=hostB$NS_SUFFIX
G=$TOP_BUILDDIR/tests/guests

ns_add "$A"
ns_add "$B"
ip link add "ca$NS_SUFFIX" type veth peer name "cb$NS_SUFFIX"
ip link set "ca$NS_SUFFIX" netns "$A"
ip link set "cb$NS_SUFFIX" netns "$B"
ip -n "$A" addr add 198.51.100.1/24 dev "ca$NS_SUFFIX"
ip -n "$B" addr add 198.51.100.2/24 dev "cb$NS_SUFFIX"
ip -n "$A" link set "ca$NS_SUFFIX" up
ip -n "$B" link set "cb$NS_SUFFIX" up
for h in a b; do
	ns=$([ $h = a ] && echo "$A" || echo "$B")
	ip=$([ $h = a ] && echo 198.51.100.1 || echo 198.51.100.2)
	mkdir -p "$TMP/$h"
	ip netns exec "$ns" "$COLOD" --state-dir "$TMP/$h/state" --run-dir "$TMP/$h/run" \
		--log "file:$TMP/$h/colod.log" --peer-listen "$ip:7788" || fail "colod $h"
done
expect_rc 0 xl a params checkpoint-interval=200
cat >"$TMP/web.xml" <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$TOP_BUILDDIR/guest/colo-kv.elf</kernel>
  <cmdline>mode=dirty dirty_mb=32 dirty_rate=3000 verify_ms=200</cmdline></os>
</domain>
XML
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

step "colo start"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 grep -q DIRTY-START "$TMP/a/state/console/web.log" || fail "guest"
expect_rc 0 xl a colo start web 198.51.100.2
contains "$OUT" "web: COLO primary, secondary on 198.51.100.2"
# B's colod learns that its VM runs from the helper's next event.
wait_for 5 bash -c "COLO_RUN_DIR=$TMP/b/run $XL list | grep -Eq '^web .* r----- .*secondary\$'" ||
	fail "no running secondary on B: $(xl b list)"
expect_rc 0 xl a list
echo "$OUT" | grep -Eq '^web .*primary$' || fail "A is not primary: $OUT"
