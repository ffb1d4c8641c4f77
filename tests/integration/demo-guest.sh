#!/bin/bash
# The demo guest through colo-xl, with a tap in the namespaces of DESIGN
# §12: ping, redis-cli, INFO, redis-benchmark, persistence across destroy
# and create (torn tail, DEL, FLUSHALL), connection slots given back,
# save/restore in the middle of a benchmark, dirty mode across
# save/restore, and garbage through the tap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/demo-lib.sh"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
need_netns
need_cmd redis-cli
need_cmd redis-benchmark
need_cmd qemu-nbd
need_cmd ping
trap 'ns_cleanup; cleanup' EXIT

demo_setup
domain web kv >"$TMP/web.xml"

# The log's tail as this boot's replay found it.
log_tail() { sed -n 's/.*tail at \([0-9]*\) of.*/\1/p' "$CON" | tail -n 1; }

step "create through colo-xl"
create_web

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

step "INFO: uptime, memory, commands, keys"
up=$(info uptime_in_seconds)
[[ $up =~ ^[0-9]+$ ]] && [ "$up" -le $((SECONDS - created + 1)) ] ||
	fail "uptime_in_seconds '$up', created $((SECONDS - created)) s ago"
c1=$(info total_commands_processed)
c2=$(info total_commands_processed)
[[ $c1 =~ ^[0-9]+$ ]] && [ "$c2" -gt "$c1" ] ||
	fail "total_commands_processed does not rise: '$c1' then '$c2'"
[ "$(info keys)" = 2 ] && [ "$(rcli dbsize)" = 2 ] ||
	fail "keys '$(info keys)', DBSIZE $(rcli dbsize), want 2"
m1=$(info used_memory)
[ "$(rcli set big "$(printf "%020000d" 0)")" = OK ] || fail "SET of 20000 bytes"
m2=$(info used_memory)
[ "$(rcli del big)" = 1 ] || fail "DEL big"
m3=$(info used_memory)
[[ $m1 =~ ^[0-9]+$ ]] && [ "$m2" -ge $((m1 + 20000)) ] && [ "$m3" -lt "$m2" ] ||
	fail "used_memory does not follow a 20000-byte value: $m1, $m2, $m3"

step "redis-benchmark -c 50 -P 16"
# A multiple of -P, so the benchmark sends exactly this many of each.
n=100000
in_client redis-benchmark -h "$GUEST" -q -n $n -c 50 -P 16 -t set,get,incr \
	>"$TMP/bench" 2>&1 || fail "redis-benchmark: $(tail -5 "$TMP/bench")"
tr '\r' '\n' <"$TMP/bench" | grep -E "requests per second" | sed 's/^/   /'
! grep -qi "error" "$TMP/bench" || fail "benchmark errors: $(grep -i error "$TMP/bench" | head)"
[ "$(tr '\r' '\n' <"$TMP/bench" | grep -c 'requests per second')" -eq 3 ] ||
	fail "not all three tests completed"
# Without -r, the key is literally counter:__rand_int__: every INCR counts.
[ "$(rcli get counter:__rand_int__)" = $n ] ||
	fail "counter:__rand_int__ is $(rcli get counter:__rand_int__), want $n"

step "destroy, then create with the same disk: every key is there"
before=$(rcli dbsize)
[ "$(rcli set last-key last-value)" = OK ] || fail "SET"
expect_rc 0 xl a destroy web
create_web
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
wait_for 10 clients_are 1 ||
	fail "connected_clients $(info connected_clients) after 200 closed, want 1"

step "600 connections in turn: every slot comes back"
in_client python3 - "$GUEST" <<'PY' || fail "connection slots are not given back"
import socket, sys, time
ip = sys.argv[1]
def connect():
    return socket.create_connection((ip, 6379), timeout=10)
def read_all(s):
    got = b''
    while True:
        b = s.recv(4096)
        if not b:
            return got
        got += b
def clients():
    s = connect()
    s.sendall(b'INFO\r\n')
    hdr = b''
    while not hdr.endswith(b'\r\n'):
        hdr += s.recv(1)
    body = b''
    while len(body) < int(hdr[1:]) + 2:
        body += s.recv(4096)
    s.close()
    return int(body.split(b'connected_clients:')[1].split(b'\r\n')[0])
held = []
# More partial commands than the guest has slots (256): each must be
# given back once the client has closed.
for i in range(600):
    s = connect()
    if i % 6 == 0:
        # The guest closes first and this side never does: FIN_WAIT_2,
        # which must time out.
        s.sendall(b'QUIT\r\n')
        assert read_all(s) == b'+OK\r\n', i
        held.append(s)
        continue
    if i % 3 == 0:
        s.sendall(b'PING\r\n')
        assert s.recv(64) == b'+PONG\r\n', i
    elif i % 3 == 1:
        # A partial command, then gone.
        s.sendall(b'*2\r\n$4\r\nECHO\r\n$5\r\nab')
    else:
        # Half-closed with a partial command: the guest closes too.
        s.sendall(b'*2\r\n$4\r\nECHO\r\n$5\r\nab')
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b'', i
    s.close()
# Only the connection asking remains, while those in FIN_WAIT_2 are held.
deadline = time.time() + 10
while clients() != 1:
    assert time.time() < deadline, 'connected_clients stays at %d' % clients()
    time.sleep(0.5)
print('600 connections, %d left in FIN_WAIT_2, all given back' % len(held))
PY
[ "$(rcli ping)" = PONG ] || fail "not serving after 600 connections"

step "a torn record at the log's tail is ignored at replay"
keys=(greeting counter last-key key:__rand_int__ counter:__rand_int__)
dbsize=$(rcli dbsize)
for k in "${keys[@]}"; do echo "$k=$(rcli get "$k")"; done >"$TMP/before"
expect_rc 0 xl a destroy web
# After the last record: an 'S' record for torn-key whose length and CRC
# are right, but only half of whose payload reached the disk.
torn_at=$(python3 - "$TMP/disk.raw" <<'PY'
import sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1))
    return crc ^ 0xffffffff
def u32(b):
    return int.from_bytes(b, 'little')
f = open(sys.argv[1], 'r+b')
data = f.read()
# Find the end of the records the guest wrote: the first zero length.
off, last = 512, None
while u32(data[off:off + 4]):
    last = off
    off += 8 + u32(data[off:off + 4])
# The guest's CRC is this one, or the torn header would not be right.
n = u32(data[last:last + 4])
assert crc32c(data[last + 8:last + 8 + n]) == u32(data[last + 4:last + 8])
key, val = b'torn-key', b'v' * 64
rec = (b'S' + len(key).to_bytes(4, 'little') + key +
       len(val).to_bytes(4, 'little') + val)
half = len(rec) // 2
f.seek(off)
f.write(len(rec).to_bytes(4, 'little') + crc32c(rec).to_bytes(4, 'little') +
        rec[:half] + bytes(len(rec) - half))
print(off)
PY
) || fail "cannot write a torn record"
create_web
[ "$(rcli exists torn-key)" = 0 ] || fail "the torn record was replayed"
[ "$(log_tail)" = "$torn_at" ] || fail "tail at $(log_tail), the torn record is at $torn_at"
[ "$(rcli dbsize)" = "$dbsize" ] || fail "dbsize $(rcli dbsize), want $dbsize"
for k in "${keys[@]}"; do echo "$k=$(rcli get "$k")"; done >"$TMP/after"
diff "$TMP/before" "$TMP/after" >&2 || fail "records before the torn tail lost"
[ "$(rcli set after-torn yes)" = OK ] || fail "cannot write after a torn tail"
expect_rc 0 xl a destroy web
create_web
[ "$(rcli get after-torn)" = yes ] || fail "the write after the torn tail was lost"

step "save and restore in the middle of a redis-benchmark run"
in_client redis-benchmark -h "$GUEST" -q -n 400000 -c 20 -P 4 -t set,get \
	>"$TMP/bench2" 2>&1 &
bench=$!
# Saved as soon as it reports progress, well before its 800000 requests end.
wait_for 10 grep -q "rps=" "$TMP/bench2" ||
	fail "the benchmark made no progress: $(tail -3 "$TMP/bench2")"
kill -0 $bench || fail "the benchmark ended before the save: $(tail -3 "$TMP/bench2")"
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
    except OSError:
        pass    # the guest closed, and stopped reading, first
    # Whatever it made of the input, the guest ends the connection: an
    # EOF or a reset, never silence (a timeout fails the step).
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
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
# The guest's FIN_WAIT_2 timeout (5 s) ends any a stalled client left.
wait_for 10 clients_are 1 ||
	fail "connected_clients $(info connected_clients) after garbage, want 1"
expect_rc 0 xl a list web
echo "$OUT" | grep -Eq '^web .* r-----' || fail "web not running: $OUT"

step "DEL and FLUSHALL are replayed"
for k in a b c; do
	[ "$(rcli set "del-$k" "$k")" = OK ] || fail "SET del-$k"
done
[ "$(rcli del del-b nope)" = 1 ] || fail "DEL del-b"
expect_rc 0 xl a destroy web
create_web
[ "$(rcli get del-a)" = a ] && [ "$(rcli get del-c)" = c ] || fail "DEL took other keys"
[ "$(rcli exists del-b)" = 0 ] || fail "a deleted key came back"
[ "$(rcli flushall)" = OK ] && [ "$(rcli dbsize)" = 0 ] || fail "FLUSHALL"
[ "$(rcli set del-d d)" = OK ] || fail "SET del-d"
expect_rc 0 xl a destroy web
create_web
[ "$(rcli dbsize)" = 1 ] && [ "$(rcli get del-d)" = d ] ||
	fail "after FLUSHALL: dbsize $(rcli dbsize), del-d '$(rcli get del-d)'"
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
