#!/usr/bin/env python3
"""A test peer for virtio-net's socket backend (4-byte big-endian length
framing).  Usage: netpeer.py SOCKET COMMAND...

  expect-hello        read one frame; it must start with HELLO
  echo TEXT           send a frame with TEXT, expect "ECHO TEXT" back
  bad-length          send a frame header with an impossible length
  quit                send a QUIT frame
Exits 0 when every command did what it should, 1 otherwise."""
import socket
import struct
import sys

MAC = bytes.fromhex('525400aabbcc')
SRC = bytes.fromhex('020000000001')
ETHERTYPE = b'\x88\xb5'


def recv_exact(s, n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError('connection closed')
        data += chunk
    return data


def recv_frame(s):
    (n,) = struct.unpack('>I', recv_exact(s, 4))
    return recv_exact(s, n)


def send_frame(s, payload):
    frame = MAC + SRC + ETHERTYPE + payload
    s.sendall(struct.pack('>I', len(frame)) + frame)


def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    args = sys.argv[2:]
    while args:
        cmd = args.pop(0)
        if cmd == 'expect-hello':
            f = recv_frame(s)
            if not f[14:].startswith(b'HELLO'):
                print('not a hello: %r' % f[14:])
                return 1
            print(f[14:].decode())
        elif cmd == 'echo':
            text = args.pop(0).encode()
            send_frame(s, text)
            f = recv_frame(s)
            if f[14:] != b'ECHO ' + text or f[:6] != SRC:
                print('bad echo: %r' % f)
                return 1
            print('echo ok')
        elif cmd == 'bad-length':
            s.sendall(struct.pack('>I', 0x7fffffff) + b'garbage')
            try:
                if s.recv(1) == b'':
                    print('closed as it should')
            except OSError:
                print('closed as it should')
            return 0
        elif cmd == 'quit':
            send_frame(s, b'QUIT')
        else:
            print('unknown command ' + cmd)
            return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
