#!/bin/bash
# The demo guest through colo-xl, with a tap in the namespaces of DESIGN
# §12: ping, redis-cli, redis-benchmark, persistence across destroy and
# create, save/restore in the middle of a benchmark, dirty mode across
# save/restore, and garbage through the tap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd redis-cli
need_cmd redis-benchmark
need_cmd qemu-nbd
need_cmd ping
trap 'ns_cleanup; cleanup' EXIT
HOST=hostA$NS_SUFFIX
GUEST=192.0.2.10
CON=$TMP/a/state/console/web.log
KV=$TOP_BUILDDIR/guest/colo-kv.elf

topo_lan
topo_host "$HOST" tapweb
truncate -s 64M "$TMP/disk.raw"
qemu-nbd -f raw -k "$TMP/nbd.sock" -t "$TMP/disk.raw" &
CHILD_PIDS+=($!)
wait_for 10 test -S "$TMP/nbd.sock" || fail "qemu-nbd"

mkdir -p "$TMP/a"
ip netns exec "$HOST" "$COLOD" --state-dir "$TMP/a/state" --run-dir "$TMP/a/run" \
	--log "file:$TMP/a/colod.log" || fail "colod"
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
      <source protocol='nbd'><host transport='unix' socket='$TMP/nbd.sock'/></source>
    </disk>
  </devices>
</domain>
XML
}
domain web kv >"$TMP/web.xml"
rcli() { in_client redis-cli -h "$GUEST" "$@"; }

step "create through colo-xl"
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 grep -q "KV-READY" "$CON" || fail "guest not ready: $(cat "$CON")"

step "ping"
in_client ping -c 3 -i 0.2 -W 2 "$GUEST" >"$TMP/ping" || fail "ping: $(cat "$TMP/ping")"

step "redis-cli ping, set, get, incr"
[ "$(rcli ping)" = PONG ] || fail "PING"
[ "$(rcli set greeting hello)" = OK ] || fail "SET"
[ "$(rcli get greeting)" = hello ] || fail "GET"
[ "$(rcli incr counter)" = 1 ] && [ "$(rcli incr counter)" = 2 ] || fail "INCR"
[ "$(rcli exists greeting nope)" = 1 ] || fail "EXISTS"
rcli info | grep -q '^host_tsc:' || fail "INFO lacks the host-dependent field"
[ "$(rcli debug nondet)" != "$(rcli debug nondet)" ] || fail "DEBUG NONDET is constant"

step "redis-benchmark -c 50 -P 16"
in_client redis-benchmark -h "$GUEST" -q -n 100000 -c 50 -P 16 -t set,get,incr \
	>"$TMP/bench" 2>&1 || fail "redis-benchmark: $(tail -5 "$TMP/bench")"
tr '\r' '\n' <"$TMP/bench" | grep -E "requests per second" | sed 's/^/   /'
! grep -qi "error" "$TMP/bench" || fail "benchmark errors: $(grep -i error "$TMP/bench" | head)"
[ "$(tr '\r' '\n' <"$TMP/bench" | grep -c 'requests per second')" -eq 3 ] ||
	fail "not all three tests completed"

step "destroy, then create with the same disk: every key is there"
before=$(rcli dbsize)
[ "$(rcli set last-key last-value)" = OK ] || fail "SET"
expect_rc 0 xl a destroy web
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 bash -c "grep -c KV-READY $CON | grep -q 2" || fail "not ready again"
[ "$(rcli get last-key)" = last-value ] || fail "last write lost"
[ "$(rcli get greeting)" = hello ] || fail "early write lost"
[ "$(rcli dbsize)" = $((before + 1)) ] || fail "dbsize $(rcli dbsize), want $((before + 1))"

step "200 concurrent connections"
in_client python3 - "$GUEST" <<'PY' || fail "concurrent connections"
import socket, sys
conns = [socket.create_connection((sys.argv[1], 6379), timeout=10) for _ in range(200)]
for i, s in enumerate(conns):
    s.sendall(b'*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n' % (len(str(i)), i))
for i, s in enumerate(conns):
    want = b'$%d\r\n%d\r\n' % (len(str(i)), i)
    got = b''
    while len(got) < len(want):
        got += s.recv(64)
    assert got == want, (i, got)
for s in conns:
    s.close()
print('200 connections answered')
PY

step "a torn record at the log's tail is ignored at replay"
tail_at=$(sed -n 's/.*tail at \([0-9]*\) of.*/\1/p' "$CON" | tail -n 1)
expect_rc 0 xl a destroy web
# After the last record: a header promising 40 bytes, then half of them.
python3 - "$TMP/disk.raw" <<'PY'
import sys
f = open(sys.argv[1], 'r+b')
data = f.read()
# Find the end of the records the guest wrote: the first zero length.
off = 512
while True:
    n = int.from_bytes(data[off:off + 4], 'little')
    if n == 0:
        break
    off += 8 + n
f.seek(off)
f.write((40).to_bytes(4, 'little') + (0x12345678).to_bytes(4, 'little') + b'torn' * 5)
PY
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 bash -c "grep -c KV-READY $CON | grep -q 3" || fail "not ready after a torn tail"
[ "$(rcli get last-key)" = last-value ] || fail "records before the torn tail lost"
[ "$(rcli set after-torn yes)" = OK ] || fail "cannot write after a torn tail"
expect_rc 0 xl a destroy web
expect_rc 0 xl a create "$TMP/web.xml"
wait_for 20 bash -c "grep -c KV-READY $CON | grep -q 4" || fail "not ready"
[ "$(rcli get after-torn)" = yes ] || fail "the write after the torn tail was lost"
[ -n "$tail_at" ] || fail "no tail reported"

step "save and restore in the middle of a redis-benchmark run"
in_client redis-benchmark -h "$GUEST" -q -n 200000 -c 20 -P 4 -t set,get \
	>"$TMP/bench2" 2>&1 &
bench=$!
sleep 1.5
expect_rc 0 xl a save web "$TMP/web.save"
expect_rc 0 xl a restore "$TMP/web.save"
wait "$bench" || fail "the benchmark failed across save/restore: $(tail -5 "$TMP/bench2")"
! grep -qi "error" "$TMP/bench2" || fail "benchmark errors across save/restore"
[ "$(tr '\r' '\n' <"$TMP/bench2" | grep -c 'requests per second')" -eq 2 ] ||
	fail "the benchmark did not complete: $(tail -3 "$TMP/bench2")"
[ "$(rcli get last-key)" = last-value ] || fail "data lost across save/restore"

step "garbage through the tap leaves the guest serving"
in_client python3 - "$GUEST" <<'PY' || fail "garbage injection failed"
import socket, struct, sys, os
ip = sys.argv[1]
# RESP garbage on real connections.
bad = [b'*9999999\r\n', b'*2\r\n$-5\r\n', b'$3\r\nfoo\r\n', b'*1\r\n$3\r\nab',
       os.urandom(4096), b'A' * 70000, b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999\r\n']
for b in bad:
    s = socket.create_connection((ip, 6379), timeout=5)
    try:
        s.sendall(b)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
# Raw frames: bad IP checksums, truncated headers, fragments, bogus TCP.
r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
r.bind(('eth0', 0))
src = r.getsockname()[4]
dst = bytes.fromhex('525400123456')
def eth(payload, typ=0x0800):
    return dst + src + struct.pack('>H', typ) + payload
def iphdr(length, proto, csum=None, frag=0, ihl=5):
    h = struct.pack('>BBHHHBBH4s4s', 0x40 | ihl, 0, length, 1, frag, 64, proto,
                    0, socket.inet_aton('192.0.2.1'), socket.inet_aton(ip))
    if csum is None:
        s = sum(struct.unpack('>10H', h))
        s = (s & 0xffff) + (s >> 16)
        csum = ~s & 0xffff
    return h[:10] + struct.pack('>H', csum) + h[12:]
frames = [eth(b''), eth(b'\x45'), eth(iphdr(60000, 6)), eth(iphdr(40, 6, csum=1) + b'x' * 20),
          eth(iphdr(40, 6, frag=0x2000) + b'y' * 20), eth(iphdr(40, 6, ihl=15) + b'z' * 20),
          eth(iphdr(40, 6) + struct.pack('>HHIIBBHHH', 1, 6379, 0, 0, 0xf0, 2, 0, 0, 0)),
          eth(iphdr(28, 1) + b'\x08\x00\x00\x00\x00\x00\x00\x00'),
          eth(iphdr(30, 17) + b'\x00\x07\x00\x07\xff\xff\x00\x00\x00\x00'),
          eth(os.urandom(40), typ=0x0806), eth(os.urandom(1400))]
for _ in range(50):
    for f in frames:
        r.send(f)
print('sent', 50 * len(frames), 'bad frames and', len(bad), 'bad RESP streams')
PY
[ "$(rcli ping)" = PONG ] || fail "the guest stopped serving"
[ "$(rcli get greeting)" = hello ] || fail "data damaged"
in_client ping -c 2 -W 2 "$GUEST" >/dev/null || fail "ping after garbage"
expect_rc 0 xl a list web
echo "$OUT" | grep -Eq '^web .* r-----' || fail "web not running: $OUT"
expect_rc 0 xl a destroy web

step "dirty mode: the self-check passes across save and restore"
domain dirty dirty "dirty_mb=32 dirty_rate=5000 verify_ms=300" >"$TMP/dirty.xml"
DCON=$TMP/a/state/console/dirty.log
expect_rc 0 xl a create "$TMP/dirty.xml"
wait_for 20 grep -q "DIRTY-START" "$DCON" || fail "dirty guest: $(cat "$DCON")"
sleep 1
expect_rc 0 xl a save dirty "$TMP/dirty.save"
expect_rc 0 xl a restore "$TMP/dirty.save"
n=$(grep -c "DIRTY written" "$DCON")
wait_for 30 bash -c "[ \$(grep -c 'DIRTY written' $DCON) -gt $((n + 1)) ]" ||
	fail "the restored dirty guest does not report: $(tail -3 "$DCON")"
! grep -q "GUEST-CHECK FAIL" "$DCON" || fail "$(grep GUEST-CHECK "$DCON" | head -3)"
grep "DIRTY written" "$DCON" | tail -n 1 | sed 's/^/   /'
expect_rc 0 xl a destroy dirty
echo ok
