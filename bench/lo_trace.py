#!/usr/bin/python3
"""Where a -C transaction's latency goes: a packet trace on the loopback interface.

pgbench -C logs, per transaction, the time from the end of its connect to the
moment its thread's loop handles the result. This trace splits that time in two,
per TCP connection to PORT, from the packets themselves (AF_PACKET on `lo`, so it
needs root; each packet is seen once, as it is received):
  * answer: the client's Query ('Q') packet -> the first data packet back from
    PORT (what the server or pooler takes to answer);
  * pickup: that answer -> the client's FIN (pgbench closes the connection as soon
    as its loop has handled the result), i.e. how long the answer sat unread.
Connections without a Query, an answer and a FIN inside the trace are skipped.

  sudo /usr/bin/python3 bench/lo_trace.py PORT SECONDS    # while pgbench -C runs
router_bench.py --trace-connect runs it around every -S -C run.
"""
import os
import socket
import struct
import sys
import threading
import time

from benchlib import percentile

ETH_P_ALL = 0x0003


class LoopbackTrace:
    """Captures TCP packets to and from `port` on lo in a background thread
    between start() and stop(). Memory: one small tuple per packet."""

    def __init__(self, port):
        self.port = port
        self.packets = []  # (monotonic s, client port, from_client, flags, first byte)
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
        self._sock.bind(("lo", 0))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sock.close()
        return self

    def _run(self):
        port = self.port
        while not self._stop.is_set():
            try:
                pkt, addr = self._sock.recvfrom(256)  # headers + the first payload bytes
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:  # lo shows each packet twice
                continue
            # Ethernet (14) + IPv4 with protocol TCP (6)
            if len(pkt) < 54 or pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
                continue
            tcp = 14 + (pkt[14] & 15) * 4
            sport, dport = struct.unpack("!HH", pkt[tcp:tcp + 4])
            if port not in (sport, dport):
                continue
            data = tcp + (pkt[tcp + 12] >> 4) * 4
            total = struct.unpack("!H", pkt[16:18])[0] + 14  # IP total length + Ethernet
            first = pkt[data:data + 1] if total > data else b""
            from_client = dport == port
            self.packets.append((time.monotonic(), sport if from_client else dport,
                                 from_client, pkt[tcp + 13], first))

    def split(self):
        """[(answer ms, pickup ms)] per connection that has a Query, an answer and a FIN."""
        conns = {}
        for t, cport, from_client, flags, first in self.packets:
            c = conns.setdefault(cport, {})
            if from_client and first == b"Q" and "q" not in c:
                c["q"] = t
            elif not from_client and first and "q" in c and "a" not in c:
                c["a"] = t
            elif from_client and flags & 1 and "a" in c and "f" not in c:  # FIN
                c["f"] = t
        return [((c["a"] - c["q"]) * 1e3, (c["f"] - c["a"]) * 1e3)
                for c in conns.values() if "f" in c]


def summary(pairs):
    """'answer p50/p99/max ..., pickup p50/p99/max ...' in ms, for a list from split()."""
    def pcts(xs):
        xs = sorted(xs)
        if not xs:
            return "-"
        return f"{percentile(xs, 50):.2f} / {percentile(xs, 99):.2f} / {xs[-1]:.2f}"
    return (f"answer p50/p99/max {pcts([a for a, _ in pairs])} ms, "
            f"pickup {pcts([p for _, p in pairs])} ms ({len(pairs)} connections)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit("lo_trace: needs root (AF_PACKET on lo)")
    trace = LoopbackTrace(int(sys.argv[1])).start()
    time.sleep(float(sys.argv[2]))
    print(summary(trace.stop().split()))


if __name__ == "__main__":
    main()
