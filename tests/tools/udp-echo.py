#!/usr/bin/env python3
"""A steady UDP echo load for the COLO tests (stdlib only).

    udp-echo.py HOST PORT COUNT RATE

Sends COUNT numbered datagrams at RATE per second, collects the echoes
for one more second, and prints "sent N echoed M unique U wrong W gaps G".
An echo must carry exactly what was sent, followed by " #K", K being the
guest's running count of UDP frames.  Each K must be new (else the echo is
wrong), and together they must run without a gap (G counts the missing):
the guest counted every frame once."""
import select
import socket
import sys
import time


def main():
    host, port, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    got, stamps, echoed, wrong = set(), set(), 0, 0
    t0 = time.monotonic()

    def drain(until):
        nonlocal echoed, wrong
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return
            data = s.recv(2048)
            echoed += 1
            try:
                n = int(data.split(b' ')[1])
            except (IndexError, ValueError):
                wrong += 1
                continue
            body, _, stamp = data.rpartition(b' #')
            if body != b'frame %d padding-to-make-it-longer' % n or \
                    not stamp.isdigit() or int(stamp) in stamps:
                wrong += 1
                continue
            stamps.add(int(stamp))
            got.add(n)

    for i in range(count):
        s.sendto(b'frame %d padding-to-make-it-longer' % i, (host, port))
        drain(t0 + (i + 1) / rate)
    drain(time.monotonic() + 1.0)
    gaps = max(stamps) - min(stamps) + 1 - len(stamps) if stamps else 0
    print('sent %d echoed %d unique %d wrong %d gaps %d' %
          (count, echoed, len(got), wrong, gaps))


if __name__ == '__main__':
    main()
