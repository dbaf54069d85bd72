#!/usr/bin/env python3
"""Helpers of scripts/bench-report.sh (standard library only).

  bench-util.py gen FIRST COUNT SIZE
      writes to stdout, as RESP for `redis-cli --pipe`, the commands
      SET key:%012d <SIZE bytes> for key numbers FIRST .. FIRST+COUNT-1: exactly COUNT
      distinct keys, named as redis-benchmark's key:__rand_int__ names them, so that a
      benchmark run with -r FIRST+COUNT (FIRST = 0) finds every key it asks for.
  bench-util.py genz KEY FIRST COUNT PER [SCORE]
      writes ZADD KEY i m:%012d ... for member numbers FIRST .. FIRST+COUNT-1, PER members
      per command: score i for member i, so that ZRANK KEY m:__rand_int__ and
      ZRANGEBYSCORE KEY __rand_int__ ... find what they ask for; or score SCORE for all.
  bench-util.py waitget PORT KEY SIZE T0 [TIMEOUT]
      polls GET KEY on 127.0.0.1:PORT (new connection when refused or closed, every 2 ms)
      until the reply is a value of SIZE bytes; prints the seconds since T0 (a Unix time,
      as `date +%s.%N` prints it). Exits 1 after TIMEOUT seconds (default 3600).
  bench-util.py lag MASTER REPLICA
      replica lag: every 50 ms sets bench:lag on 127.0.0.1:MASTER to a fresh value and, once
      acknowledged, polls GET bench:lag on 127.0.0.1:REPLICA (every 0.5 ms) until it reads
      that value; until SIGTERM, then prints "p50 p99 max" of those delays in ms.
  bench-util.py subscribe PORT CHANNEL N
      opens N connections to 127.0.0.1:PORT, each SUBSCRIBEd to CHANNEL; prints "ready"
      once every confirmation came, then reads and drops whatever arrives until SIGTERM
      (or until every connection closed), and prints the bytes received.
"""
import os
import selectors
import signal
import socket
import sys
import time


def gen(first, count, size):
    out = sys.stdout.buffer
    val = b"x" * size
    tail = b"\r\n$%d\r\n%s\r\n" % (size, val)
    head = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:"
    chunk = []
    for i in range(first, first + count):
        chunk.append(head + b"%012d" % i + tail)
        if len(chunk) == 4096:
            out.write(b"".join(chunk))
            chunk = []
    out.write(b"".join(chunk))
    out.flush()


def genz(key, first, count, per, same=None):
    out = sys.stdout.buffer
    bkey = key.encode()
    i, end = first, first + count
    while i < end:
        n = min(per, end - i)
        parts = [b"*%d\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n" % (2 + 2 * n, len(bkey), bkey)]
        for j in range(i, i + n):
            score = b"%d" % (j if same is None else same)
            parts.append(b"$%d\r\n%s\r\n$14\r\nm:%012d\r\n" % (len(score), score, j))
        out.write(b"".join(parts))
        i += n
    out.flush()


def read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    if line[:1] == b"$":
        n = int(line[1:])
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    return line  # +status, -error (LOADING …), :int


def waitget(port, key, size, t0, timeout):
    req = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key.encode())
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                f = s.makefile("rb")
                while time.time() < deadline:
                    s.sendall(req)
                    r = read_reply(f)
                    if isinstance(r, bytes) and not r.startswith((b"-", b"+", b":")) \
                            and len(r) == size:
                        print("%.3f" % (time.time() - t0))
                        return 0
                    time.sleep(0.002)
        except (OSError, ConnectionError, ValueError):
            time.sleep(0.002)
    print("timeout", file=sys.stderr)
    return 1


def lag(mport, rport):
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    m = socket.create_connection(("127.0.0.1", mport))
    r = socket.create_connection(("127.0.0.1", rport))
    mf, rf = m.makefile("rb"), r.makefile("rb")
    get = b"*2\r\n$3\r\nGET\r\n$9\r\nbench:lag\r\n"
    delays, i = [], 0
    while not stop:
        i += 1
        v = b"%d" % i
        m.sendall(b"*3\r\n$3\r\nSET\r\n$9\r\nbench:lag\r\n$%d\r\n%s\r\n" % (len(v), v))
        read_reply(mf)
        t0 = time.time()
        while not stop:
            r.sendall(get)
            if read_reply(rf) == v:
                delays.append(1000 * (time.time() - t0))
                break
            time.sleep(0.0005)
        time.sleep(0.05)
    delays.sort()
    if not delays:
        print("0 0 0")
        return 0
    q = lambda f: delays[min(len(delays) - 1, int(f * len(delays)))]
    print("%.1f %.1f %.1f" % (q(0.5), q(0.99), delays[-1]), flush=True)
    return 0


def subscribe(port, channel, n):
    ch = channel.encode()
    req = b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(ch), ch)
    confirm = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(ch), ch)
    sel = selectors.DefaultSelector()
    got = 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        buf = b""
        while len(buf) < len(confirm):
            buf += s.recv(len(confirm) - len(buf))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print("ready", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    open_n = n
    while not stop and open_n:
        for key, _ in sel.select(0.2):
            try:
                d = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(key.fileobj)
                open_n -= 1
            got += len(d)
    print(got, flush=True)
    return 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "gen":
        gen(int(argv[2]), int(argv[3]), int(argv[4]))
        return 0
    if len(argv) >= 6 and argv[1] == "genz":
        genz(argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
             int(argv[6]) if len(argv) > 6 else None)
        return 0
    if len(argv) >= 6 and argv[1] == "waitget":
        return waitget(int(argv[2]), argv[3], int(argv[4]), float(argv[5]),
                       float(argv[6]) if len(argv) > 6 else 3600.0)
    if len(argv) >= 4 and argv[1] == "lag":
        return lag(int(argv[2]), int(argv[3]))
    if len(argv) >= 5 and argv[1] == "subscribe":
        return subscribe(int(argv[2]), argv[3], int(argv[4]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        os._exit(1)
