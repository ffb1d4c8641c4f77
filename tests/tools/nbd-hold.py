#!/usr/bin/env python3
"""An NBD proxy that can hold back flushes (stdlib only).

    nbd-hold.py LISTEN UPSTREAM HOLDFILE

Listens on the Unix socket LISTEN and relays each connection to the NBD
server on the Unix socket UPSTREAM, byte for byte in both directions.  It
follows the client's side of the newstyle handshake and of the
transmission phase, so that it knows each request.  While HOLDFILE
exists, an NBD_CMD_FLUSH is not passed on (nor anything behind it), so its
reply cannot come: tests use that to see whether a client waits for a
flush.  Each flush is logged to stdout as "flush N held" and then
"flush N forwarded" once it has gone on."""
import os
import socket
import struct
import sys
import threading
import time

IHAVEOPT = b'IHAVEOPT'
REQUEST_MAGIC = 0x25609513
EXT_REQUEST_MAGIC = 0x21e41c71    # extended headers: a 64-bit length
CMD_WRITE = 1
CMD_FLUSH = 3
CMD_FLAG_PAYLOAD_LEN = 1 << 5
CHUNK = 65536

flushes = 0
lock = threading.Lock()


def log(msg):
    print(msg, flush=True)


class Reader:
    """Reads the client's stream in exact amounts."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def fill(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(max(CHUNK, n - len(self.buf)))
            if not data:
                raise EOFError
            self.buf += data

    def take(self, n):
        self.fill(n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def peek(self, n):
        self.fill(n)
        return self.buf[:n]


def relay_payload(rd, dst, n):
    while n:
        chunk = rd.take(min(n, CHUNK))
        dst.sendall(chunk)
        n -= len(chunk)


def hold_flush(hold):
    global flushes
    with lock:
        flushes += 1
        n = flushes
    if os.path.exists(hold):
        log('flush %d held' % n)
        while os.path.exists(hold):
            time.sleep(0.05)
    log('flush %d forwarded' % n)


def client_to_server(src, dst, hold):
    rd = Reader(src)
    dst.sendall(rd.take(4))                     # the client's flags
    while True:
        head = rd.peek(4)
        if head == IHAVEOPT[:4]:
            hdr = rd.take(16)
            if hdr[:8] != IHAVEOPT:
                raise ValueError('bad option magic %r' % hdr[:8])
            (length,) = struct.unpack('>I', hdr[12:16])
            dst.sendall(hdr)
            relay_payload(rd, dst, length)
            continue
        (magic,) = struct.unpack('>I', head)
        if magic == REQUEST_MAGIC:
            hdr = rd.take(28)
            flags, typ, length = struct.unpack('>HH8x8xI', hdr[4:])
        elif magic == EXT_REQUEST_MAGIC:
            hdr = rd.take(32)
            flags, typ, length = struct.unpack('>HH8x8xQ', hdr[4:])
        else:
            raise ValueError('bad request magic 0x%08x' % magic)
        if typ == CMD_FLUSH:
            hold_flush(hold)
        dst.sendall(hdr)
        if typ == CMD_WRITE or (magic == EXT_REQUEST_MAGIC and
                                flags & CMD_FLAG_PAYLOAD_LEN):
            relay_payload(rd, dst, length)


def server_to_client(src, dst):
    while True:
        data = src.recv(CHUNK)
        if not data:
            return
        dst.sendall(data)


def run(name, fn, a, b, *args):
    try:
        fn(a, b, *args)
    except EOFError:
        pass
    except (OSError, ValueError) as e:
        log('%s: %s' % (name, e))
    # Either side gone: so is the other.
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, upstream, hold):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.connect(upstream)
    except OSError as e:
        log('upstream: %s' % e)
        client.close()
        return
    up = threading.Thread(target=run, daemon=True,
                          args=('client', client_to_server, client, server,
                                hold))
    up.start()
    run('server', server_to_client, server, client)
    up.join()
    client.close()
    server.close()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    listen, upstream, hold = sys.argv[1:]
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(listen)
    ls.listen(8)
    while True:
        client, _ = ls.accept()
        threading.Thread(target=serve, args=(client, upstream, hold),
                         daemon=True).start()


if __name__ == '__main__':
    main()
