#!/usr/bin/env python3
"""The broker benchmark's API client (broker-subscribers.sh, README.md here).

  broker-probe.py count   PORT CA CERT KEY
      GET /v1/members once: members, connected ones, and the sum of their
      state_seq (the states the broker has stored: counted at the broker),
      with the request's time. One JSON line.
  broker-probe.py latency PORT CA CERT KEY SECONDS MEMBER
      For SECONDS, one keep-alive connection asks GET /v1/members and
      GET /v1/members/MEMBER in turn (one request at a time, 50 ms apart)
      while a second connection follows GET /v1/events (Server-Sent Events)
      and counts the events; p50/p99/max latency per endpoint in ms. One
      JSON line.

The client authenticates with a certificate (CERT, KEY), not a token: a
bearer token costs the broker an scrypt hash (~50 ms) per request, which
would be all this measured.
"""
import http.client
import json
import socket
import ssl
import sys
import threading
import time


def context(ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert, key)
    return ctx


def connection(port, ctx):
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=ctx)


def get(conn, path):
    start = time.monotonic()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    took = time.monotonic() - start
    if r.status != 200:
        raise SystemExit(f"broker-probe: GET {path}: {r.status} {body[:200]!r}")
    return took, body


def count(port, ctx):
    conn = connection(port, ctx)
    took, body = get(conn, "/v1/members")
    members = json.loads(body)["members"]
    print(json.dumps({"members": len(members),
                      "connected": sum(1 for m in members if m["connected"]),
                      "seq_sum": sum(m["state_seq"] for m in members),
                      "ms": took * 1e3, "bytes": len(body), "time": time.time()}))


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1e3


def latency(port, ctx, seconds, member):
    events = {"n": 0, "bytes": 0, "error": None}
    stop = threading.Event()

    def follow():
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="broker")
            s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: broker\r\n\r\n")
            tail = b""
            while not stop.is_set():
                try:
                    chunk = s.recv(1 << 16)
                except (TimeoutError, socket.timeout):
                    continue
                if not chunk:
                    events["error"] = "closed by the broker"
                    return
                events["bytes"] += len(chunk)
                tail = tail[-16:] + chunk
                events["n"] += (tail.count(b"\nevent: ") if len(tail) > len(chunk)
                                else chunk.count(b"event: "))
        except (OSError, ssl.SSLError) as e:
            events["error"] = str(e)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    conn = connection(port, ctx)
    lists, singles = [], []
    list_bytes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        took, body = get(conn, "/v1/members")
        lists.append(took)
        list_bytes = len(body)
        time.sleep(0.05)
        took, _ = get(conn, f"/v1/members/{member}")
        singles.append(took)
        time.sleep(0.05)
    stop.set()
    follower.join(2)

    def summary(v):
        return {"n": len(v), "p50_ms": percentile(v, 0.5), "p99_ms": percentile(v, 0.99),
                "max_ms": max(v) * 1e3 if v else None}
    print(json.dumps({"members_list": summary(lists), "member": summary(singles),
                      "list_bytes": list_bytes, "sse_events": events["n"],
                      "sse_bytes": events["bytes"], "sse_error": events["error"]}))


def main():
    mode, port, ca, cert, key = sys.argv[1:6]
    ctx = context(ca, cert, key)
    if mode == "count":
        count(int(port), ctx)
    elif mode == "latency":
        latency(int(port), ctx, float(sys.argv[6]), sys.argv[7])
    else:
        raise SystemExit("broker-probe: mode is count or latency")


if __name__ == "__main__":
    main()
