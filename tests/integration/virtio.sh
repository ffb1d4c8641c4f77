#!/bin/bash
# virtio-blk against qemu-nbd and nbdkit (read-write and read-only), and
# virtio-net against a peer on its socket: frames both ways, a peer that
# sends garbage is dropped and a new one served, device-model writes are
# in the dirty log, and the devices survive save and restore.
. "$(dirname "$0")/lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_cmd qemu-nbd
need_cmd nbdkit
need_cmd python3
G=$TOP_BUILDDIR/tests/guests
HELPER=$TOP_BUILDDIR/colo-dom-helper
PEER="python3 $TOP_SRCDIR/tests/tools/netpeer.py"

# xml NAME DISK_HOST_ELEMENT EXTRA_DISK_ELEMENT [CMDLINE]
xml() {
	cat <<XML
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><kernel>$G/virtio.elf</kernel>
  <cmdline>${4:-blk_seed=9}</cmdline></os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:aa:bb:cc'/>
      <source type='unix' path='$TMP/$1-net.sock'/>
    </interface>
    <disk type='network'>
      <source protocol='nbd' name='disk0'>$2</source>$3
    </disk>
  </devices>
</domain>
XML
}
call() { "$CTL_RAW" "ipc://$TMP/$1.ctl" "$2"; }
start_helper() {	# NAME XMLFILE [ARGS...]
	local n=$1 x=$2
	shift 2
	"$HELPER" --config "$x" --ctl "ipc://$TMP/$n.ctl" --console-log "$TMP/$n.con" \
		"$@" 2>>"$TMP/$n.log" &
	CHILD_PIDS+=($!)
	wait_for 10 test -S "$TMP/$n.ctl" || fail "$n: helper did not start: $(cat "$TMP/$n.log")"
}

step "qemu-nbd: write, flush, read back, out-of-range read refused"
truncate -s 8M "$TMP/disk.raw"
qemu-nbd -f raw -k "$TMP/qnbd.sock" -x disk0 -t "$TMP/disk.raw" &
CHILD_PIDS+=($!)
wait_for 10 test -S "$TMP/qnbd.sock" || fail "qemu-nbd did not start"
xml q "<host transport='unix' socket='$TMP/qnbd.sock'/>" "" >"$TMP/q.xml"
start_helper q "$TMP/q.xml" --paused
# Connected before the guest runs, the peer sees its first frame.
$PEER "$TMP/q-net.sock" expect-hello echo one echo two >"$TMP/peer.out" 2>&1 &
peer=$!
sleep 0.3
call q '{"execute":"helper-cont"}' >/dev/null
wait "$peer" || fail "net peer: $(cat "$TMP/peer.out")"
contains "$(cat "$TMP/peer.out")" "HELLO 52:54:00:aa:bb:cc"
wait_for 10 grep -q "BLK capacity 16384 seed 9 OK" "$TMP/q.con" || fail "blk: $(cat "$TMP/q.con")"
# The guest's bytes are in the image, where qemu-img can see them too.
python3 - "$TMP/disk.raw" <<'PY' || fail "the image does not hold the guest's pattern"
import sys
d = open(sys.argv[1], 'rb').read(4096)
sys.exit(0 if all(d[i] == (9 * 131 + i * 7) & 0xff for i in range(4096)) else 1)
PY

step "a peer that breaks the framing is dropped; the next one is served"
$PEER "$TMP/q-net.sock" bad-length >"$TMP/peer.out" 2>&1 || fail "bad-length peer: $(cat "$TMP/peer.out")"
contains "$(cat "$TMP/peer.out")" "closed as it should"
$PEER "$TMP/q-net.sock" echo three >"$TMP/peer.out" 2>&1 || fail "reconnect: $(cat "$TMP/peer.out")"
grep -q "frame length 2147483647 from the peer is invalid" "$TMP/q.log" || fail "not logged"

step "device-model writes are in the dirty log"
call q '{"execute":"x-helper-dirty-log","arguments":{"enable":true}}' >/dev/null
call q '{"execute":"x-helper-dirty-harvest"}' >/dev/null
call q '{"execute":"helper-console-write","arguments":{"data":"r"}}' >/dev/null
wait_for 10 grep -q "READBUF" "$TMP/q.con" || fail "no READBUF"
read -r _ lo hi _ st < <(grep READBUF "$TMP/q.con" | tail -n 1 | tr -d '\r')
[ "$st" = 0 ] || fail "read status $st"
pfns=$(call q '{"execute":"x-helper-dirty-harvest"}' | sed -n 's/.*"pfns":\[\([0-9,]*\)\].*/,\1,/p')
for p in $(seq "$lo" "$hi"); do
	case $pfns in *",$p,"*) ;; *) fail "page $p written by virtio-blk is not dirty" ;; esac
done

step "save and restore with live virtio devices"
call q '{"execute":"helper-save","arguments":{"path":"'"$TMP/q.save"'","continue":false}}' |
	grep -q '"return"' || fail "save failed: $(tail -3 "$TMP/q.log")"
call q '{"execute":"helper-quit"}' >/dev/null
sleep 0.3
"$HELPER" --restore "$TMP/q.save" --ctl "ipc://$TMP/r.ctl" --console-log "$TMP/r.con" \
	2>>"$TMP/r.log" &
CHILD_PIDS+=($!)
wait_for 10 test -S "$TMP/q-net.sock" || fail "restored helper has no NIC socket"
sleep 0.3
$PEER "$TMP/q-net.sock" echo after-restore >"$TMP/peer.out" 2>&1 ||
	fail "net after restore: $(cat "$TMP/peer.out") $(tail -3 "$TMP/r.log")"
call r '{"execute":"helper-console-write","arguments":{"data":"r"}}' >/dev/null
wait_for 10 grep -q "READBUF .* status 0" "$TMP/r.con" || fail "blk after restore: $(cat "$TMP/r.con")"
$PEER "$TMP/q-net.sock" quit
sleep 0.3

step "nbdkit, read-only: the guest's write is refused"
nbdkit -U "$TMP/kit.sock" --exit-with-parent memory 4M &
CHILD_PIDS+=($!)
wait_for 10 test -S "$TMP/kit.sock" || fail "nbdkit did not start"
xml k "<host transport='unix' socket='$TMP/kit.sock'/>" "<readonly/>" >"$TMP/k.xml"
start_helper k "$TMP/k.xml"
wait_for 10 grep -q "BLK RO write refused" "$TMP/k.con" || fail "ro: $(cat "$TMP/k.con")"
call k '{"execute":"helper-quit"}' >/dev/null

step "nbdkit over TCP, read-write"
port=$((20000 + RANDOM % 20000))
# The log filter records each request the server gets, the flush too.
nbdkit -i 127.0.0.1 -p "$port" --exit-with-parent --filter=log memory 4M \
	logfile="$TMP/kit-requests.log" &
CHILD_PIDS+=($!)
sleep 0.5
xml t "<host name='127.0.0.1' port='$port'/>" "" >"$TMP/t.xml"
start_helper t "$TMP/t.xml"
wait_for 10 grep -q "BLK capacity 8192 seed 9 OK" "$TMP/t.con" || fail "tcp: $(cat "$TMP/t.con")"
grep -q "Flush" "$TMP/kit-requests.log" ||
	fail "the guest's flush never reached the NBD server"

step "an idle guest costs the host little"
# The guest's idle loop yields through the PV idle port; without it the
# vCPU thread would spin at a full core.
hpid=$(call t '{"execute":"helper-query"}' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
[ -n "$hpid" ] || fail "helper-query gave no pid"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
c0=$(cpu_ticks "$hpid")
sleep 2
c1=$(cpu_ticks "$hpid")
pct=$(( (c1 - c0) * 100 / (2 * $(getconf CLK_TCK)) ))
echo "   the idle helper used $pct% of a CPU"
[ "$pct" -lt 25 ] || fail "an idle guest keeps the helper at $pct% of a CPU"

step "a descriptor loop breaks only the device"
call t '{"execute":"helper-console-write","arguments":{"data":"L"}}' >/dev/null
wait_for 10 grep -q "BLK loop" "$TMP/t.con" || fail "no verdict: $(tail -3 "$TMP/t.con")"
grep -q "BLK loop NEEDS-RESET" "$TMP/t.con" ||
	fail "the device did not ask for a reset: $(grep 'BLK loop' "$TMP/t.con")"
grep -q "virtio-blk at .*broke a virtqueue; device needs reset" "$TMP/t.log" ||
	fail "the helper did not log the broken queue"
call t '{"execute":"helper-query"}' | grep -q '"return"' ||
	fail "the helper stopped answering after the loop"
call t '{"execute":"helper-quit"}' >/dev/null

step "an unreachable NBD server is a clear start-up error"
xml u "<host transport='unix' socket='$TMP/nobody.sock'/>" "" >"$TMP/u.xml"
expect_rc 1 "$HELPER" --config "$TMP/u.xml"
contains "$ERR" "disk vda: cannot connect to nbd+unix:///disk0?socket=$TMP/nobody.sock"
echo ok
