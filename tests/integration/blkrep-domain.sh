#!/bin/bash
# A domain whose disk is an image file: colod starts a colo-blkrep for
# it before the helper, the kv guest keeps its log on it (redis-cli
# through a tap), nbdinfo can look at the export meanwhile, destroy stops
# the blkrep (and the netproxy), a new create finds every key again, and a missing image
# file fails the create with a message that says where to look.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd redis-cli
need_cmd nbdinfo
trap 'ns_cleanup; cleanup' EXIT
HOST=hostA$NS_SUFFIX
GUEST=192.0.2.10
CON=$TMP/a/state/console/web.log

topo_lan
topo_host "$HOST" tapweb
truncate -s 64M "$TMP/disk.img"
mkdir -p "$TMP/a"
ip netns exec "$HOST" "$COLOD" --state-dir "$TMP/a/state" --run-dir "$TMP/a/run" \
	--log "file:$TMP/a/colod.log" || fail "colod"
domain() {	# IMAGE
	cat <<XML
<domain type='kvm'>
  <name>web</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$TOP_BUILDDIR/guest/colo-kv.elf</kernel>
  <cmdline>ip=$GUEST/24 mode=kv</cmdline></os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:12:34:56'/>
      <target dev='tapweb'/>
    </interface>
    <disk type='file' device='disk'>
      <source file='$1'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
}
rcli() { in_client redis-cli -h "$GUEST" "$@"; }
PIDF=$TMP/a/run/dom-web-disk0.pid

step "create: colod starts a blkrep for the image, the guest logs to it"
domain "$TMP/disk.img" >"$TMP/web.xml"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 grep -q "KV-READY" "$CON" || fail "guest not ready: $(cat "$CON")"
[ -s "$PIDF" ] && kill -0 "$(cat "$PIDF")" || fail "no blkrep running"
grep -q "KVLOG" "$CON" || fail "the guest found no disk: $(cat "$CON")"
for i in 1 2 3 4 5; do
	[ "$(rcli set "key$i" "value$i")" = OK ] || fail "SET key$i"
done
out=$(nbdinfo "nbd+unix:///?socket=$TMP/a/run/dom-web-disk0.sock" 2>&1) || fail "nbdinfo: $out"
echo "$out" | grep -q "67108864" || fail "nbdinfo size: $out"

step "destroy stops the blkrep; create again replays the log"
bpid=$(cat "$PIDF")
npid=$(cat "$TMP/a/run/dom-web-net0.pid")
expect_rc 0 xl a destroy web
wait_for 5 bash -c "! kill -0 $bpid 2>/dev/null" || fail "blkrep $bpid still runs"
# colod blocks its own signals; its children must not inherit that.
wait_for 5 bash -c "! kill -0 $npid 2>/dev/null" || fail "netproxy $npid still runs"
[ ! -e "$PIDF" ] || fail "pid file left behind"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 bash -c "[ \$(grep -c KV-READY $CON) -ge 2 ]" || fail "guest not ready again"
for i in 1 2 3 4 5; do
	[ "$(rcli get "key$i")" = "value$i" ] || fail "key$i lost across destroy/create"
done
grep KVLOG "$CON" | tail -n 1 | sed 's/^/   /'
expect_rc 0 xl a destroy web

step "a missing image: the create fails and says where to look"
domain "$TMP/nosuch.img" >"$TMP/bad.xml"
expect_rc 1 xl a create "$TMP/bad.xml"
contains "$ERR" "colo-blkrep for $TMP/nosuch.img did not start"
grep -q "nosuch.img" "$TMP/a/state/log/web-disk0.log" || fail "the blkrep log says nothing"
expect_rc 0 xl a list
! echo "$OUT" | grep -q "^web " || fail "a failed create left a domain: $OUT"
