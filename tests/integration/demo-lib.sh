# The demo guest as domain "web" in hostA, through colo-xl, with a tap in
# the namespaces of DESIGN §12 and its log on a disk that qemu-nbd serves.
# Source after lib.sh and netns.sh, then call demo_setup.
HOST=hostA$NS_SUFFIX
GUEST=192.0.2.10
CON=$TMP/a/state/console/web.log
KV=$TOP_BUILDDIR/guest/colo-kv.elf
# The NBD server the domain's disk points at: a test may put a proxy here.
DISK_SOCK=$TMP/nbd.sock

# demo_setup: the namespaces, qemu-nbd serving $TMP/disk.raw on
# $TMP/nbd.sock, and colod in hostA.
demo_setup() {
	topo_lan
	topo_host "$HOST" tapweb
	truncate -s 64M "$TMP/disk.raw"
	qemu-nbd -f raw -k "$TMP/nbd.sock" -t "$TMP/disk.raw" &
	CHILD_PIDS+=($!)
	wait_for 10 test -S "$TMP/nbd.sock" || fail "qemu-nbd"
	mkdir -p "$TMP/a"
	ip netns exec "$HOST" "$COLOD" --state-dir "$TMP/a/state" \
		--run-dir "$TMP/a/run" --log "file:$TMP/a/colod.log" ||
		fail "colod"
}

domain() {	# NAME MODE EXTRA-CMDLINE
	cat <<XML
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$KV</kernel>
  <cmdline>ip=$GUEST/24 mode=$2 ${3:-}</cmdline></os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:12:34:56'/>
      <target dev='tapweb'/>
    </interface>
    <disk type='network'>
      <source protocol='nbd'><host transport='unix' socket='$DISK_SOCK'/></source>
    </disk>
  </devices>
</domain>
XML
}
rcli() { in_client redis-cli -h "$GUEST" "$@"; }
info() { rcli info | tr -d '\r' | sed -n "s/^$1://p"; }
clients_are() { [ "$(info connected_clients)" = "$1" ]; }

# create_web: creates web from $TMP/web.xml and waits for this boot's
# KV-READY (the console log keeps the lines of every boot).  $created is
# when, in $SECONDS.
boots=0
create_web() {
	boots=$((boots + 1))
	created=$SECONDS
	expect_rc 0 xl a create "$TMP/web.xml"
	wait_for 30 bash -c "[ \$(grep -c KV-READY '$CON') -ge $boots ]" ||
		fail "boot $boots not ready: $(tail -n 3 "$CON")"
}
