#!/usr/bin/env python3
"""End to end: nanotimed with [metrics] on loopback, scraped and validated.

e2e_metrics.py NANOTIMED WORKDIR SECCOMP

nanotimed (clock.adjust = false: the host clock is never touched) follows a
stratum-1 responder on loopback (this script), serves NTP and NTS-KE on
loopback, and has a second source that is itself over NTS (so NTS-KE
handshakes, cookies and NTS server counters move). /metrics is parsed with
python3-prometheus-client's parser and `promtool check metrics` (the
installed one, else Debian's prometheus package fetched with apt-get download
and unpacked under WORKDIR once: installing it would also start a Prometheus
server on the test host); the metrics ntpd-rs's exporter has, and those it has not, must be
there with sane values. Then the HTTP side: 404, 405, 431, HEAD, and a
slowloris connection answered 408 and closed at the [metrics] timeout while
another scrape still works. Last, a second nanotimed with only [metrics]
and a certificate: scraped over HTTPS (TLS 1.3). Exit 77: skipped (no prometheus_client).
"""
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("python3-prometheus-client is not installed: skipped")
    sys.exit(77)

def promtool(root):
    """promtool: installed, or from Debian's prometheus package unpacked under
    root (kept for later runs)."""
    installed = shutil.which("promtool")
    if installed:
        return installed
    unpacked = os.path.join(root, "pkg-prometheus", "root", "usr", "bin", "promtool")
    if not os.access(unpacked, os.X_OK):
        pkg = os.path.join(root, "pkg-prometheus")
        shutil.rmtree(pkg, ignore_errors=True)
        os.makedirs(pkg)
        got = subprocess.run(["apt-get", "download", "-q", "prometheus"], cwd=pkg,
                             capture_output=True)
        debs = [f for f in os.listdir(pkg) if f.endswith(".deb")]
        if got.returncode != 0 or not debs:
            fail("no promtool: apt-get download prometheus failed: " +
                 (got.stdout + got.stderr).decode())
        subprocess.run(["dpkg", "-x", debs[0], "root"], cwd=pkg, check=True)
    return unpacked


NTP_EPOCH = 2208988800
TIMEOUT_S = 1.5  # [metrics] timeout


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    raise SystemExit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ntp_stamp(t):
    secs = int(t) + NTP_EPOCH
    return struct.pack("!II", secs & 0xFFFFFFFF, int((t % 1) * 2**32) & 0xFFFFFFFF)


class Responder(threading.Thread):
    """A stratum-1 NTP server on loopback: the system clock, reference GPS."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                req, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            rx = time.time()
            if len(req) < 48 or req[0] & 7 != 3:
                continue
            head = struct.pack("!BBbb", (4 << 3) | 4, 1, req[2], -20)
            reply = (head + struct.pack("!II", 0, 16) + b"GPS\0" + ntp_stamp(rx) + req[40:48]
                     + ntp_stamp(rx) + ntp_stamp(time.time()))
            self.sock.sendto(reply, peer)


def scrape(port, method="GET", path="/metrics", headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} and {family: type}."""
    values, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types


def value(values, metric, /, **labels):
    key = (metric, frozenset(labels.items()))
    check(key in values, f"{metric}{labels} missing")
    return values[key]


def by_name(values, name):
    return [(dict(k[1]), v) for k, v in values.items() if k[0] == name]


def main():
    nanotimed, workdir, seccomp = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="metrics-e2e-", dir=os.path.abspath(workdir))
    responder = Responder()
    responder.start()
    server_port, ke_port, metrics_port = free_port(socket.SOCK_DGRAM), free_port(), free_port()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{work}/key.pem", "-out",
                    f"{work}/cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    conf = f"{work}/nanotimed.toml"
    with open(conf, "w") as f:
        f.write(f"""[[source]]
server = "127.0.0.1"
port = {responder.port}
iburst = true
minpoll = 3
maxpoll = 3

[[source]]
server = "localhost"
port = {server_port}
nts = true
nts_port = {ke_port}
minpoll = 3
maxpoll = 3

[server]
listen = ["127.0.0.1:{server_port}"]
allow = ["127.0.0.0/8"]

[nts_ke]
listen = ["127.0.0.1:{ke_port}"]
certificate = "{work}/cert.pem"
private_key = "{work}/key.pem"

[nts]
trusted_ca = "{work}/cert.pem"
key_file = "{work}/nts-keys"

[clock]
adjust = false
drift_file = ""

[control]
socket = ""

[log]
level = "info"
file = "{work}/log"

[service]
user = ""
seccomp = "{seccomp}"

[metrics]
listen = ["127.0.0.1:{metrics_port}"]
timeout = {TIMEOUT_S}
max_connections = 8
""")
    daemon = subprocess.Popen([nanotimed, "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=open(f"{work}/stderr", "w"))
    try:
        run_checks(metrics_port, server_port, work, daemon)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
        responder.stop = True
    check(daemon.returncode == 0, f"nanotimed exited with {daemon.returncode}")
    tls_alone(nanotimed, work, seccomp)
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")


def tls_alone(nanotimed, work, seccomp):
    """[metrics] with a certificate and nothing else: HTTPS, TLS 1.3."""
    port = free_port()
    conf = f"{work}/tls.toml"
    with open(conf, "w") as f:
        f.write(f"""[clock]
adjust = false
drift_file = ""

[control]
socket = ""

[service]
user = ""
seccomp = "{seccomp}"

[metrics]
listen = ["127.0.0.1:{port}"]
certificate = "{work}/cert.pem"
private_key = "{work}/key.pem"
""")
    daemon = subprocess.Popen([nanotimed, "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=open(f"{work}/tls-stderr", "w"))
    try:
        ctx = ssl.create_default_context(cafile=f"{work}/cert.pem")
        deadline = time.time() + 10
        while True:
            try:
                with urllib.request.urlopen(f"https://localhost:{port}/metrics", context=ctx,
                                            timeout=5) as r:
                    text = r.read().decode()
                    check(r.status == 200, f"HTTPS status {r.status}")
                    break
            except (OSError, urllib.error.URLError) as e:
                check(daemon.poll() is None, "nanotimed (TLS) died: " +
                      open(f"{work}/tls-stderr").read())
                check(time.time() < deadline, f"no HTTPS scrape within 10 s: {e}")
                time.sleep(0.2)
        values, _ = samples(text)
        check(value(values, "nanotime_system_stratum") == 16, "unsynchronised, alone")
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                check(tls.version() == "TLSv1.3", f"TLS version {tls.version()}")
        print("HTTPS scrape: TLSv1.3, valid exposition")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)
    check(daemon.returncode == 0, f"nanotimed (TLS) exited with {daemon.returncode}")


def run_checks(port, server_port, work, daemon):
    # Synchronised to the responder, the NTS source keyed (cookies, KE).
    deadline = time.time() + 40
    values = {}
    while time.time() < deadline:
        check(daemon.poll() is None, "nanotimed died: " + open(f"{work}/stderr").read())
        try:
            status, _, text = scrape(port)
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            values, _ = samples(text)
            synced = values.get(("nanotime_system_synchronized", frozenset())) == 1
            cookies = [v for _, v in by_name(values, "nanotime_source_nts_cookies")]
            updates = values.get(("nanotime_clock_update_offset_seconds_count", frozenset()), 0)
            if synced and cookies and cookies[0] > 0 and updates >= 1:
                break
        time.sleep(0.5)
    else:
        fail("not synchronised with an NTS source keyed within 40 s:\n" +
             open(f"{work}/log").read()[-3000:])

    status, headers, text = scrape(port)
    check(status == 200, f"GET /metrics: {status}")
    check(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          f"Content-Type {headers.get('Content-Type')}")
    values, types = samples(text)
    r = subprocess.run([promtool(os.path.dirname(work)), "check", "metrics"], input=text.encode(),
                       capture_output=True)
    check(r.returncode == 0, "promtool check metrics: " + (r.stdout + r.stderr).decode())
    print("promtool check metrics: clean")

    # System (ntpd-rs: ntp_system_*, ntp_uptime_seconds).
    check(value(values, "nanotime_system_stratum") == 2, "stratum 2 behind a stratum 1")
    check(value(values, "nanotime_system_leap_indicator") == 0, "leap indicator")
    check(0 <= value(values, "nanotime_system_root_delay_seconds") < 0.1, "root delay")
    check(0 <= value(values, "nanotime_system_root_dispersion_seconds") < 1, "root dispersion")
    check(value(values, "nanotime_system_steps_total") == 0, "steps (adjust = false)")
    check(value(values, "nanotime_system_accumulated_steps_seconds") == 0, "accumulated steps")
    uptime = by_name(values, "nanotime_uptime_seconds")
    check(len(uptime) == 1 and uptime[0][1] > 0 and "version" in uptime[0][0], "uptime")

    # Per source (ntpd-rs: ntp_source_*).
    plain = {"name": "127.0.0.1", "address": "127.0.0.1"}
    nts = {"name": "localhost", "address": "127.0.0.1"}
    check(value(values, "nanotime_source_poll_interval_seconds", **plain) == 8, "poll 2^3 s")
    check(value(values, "nanotime_source_unanswered_polls", **plain) == 0, "unanswered polls")
    check(abs(value(values, "nanotime_source_offset_seconds", **plain)) < 0.05, "source offset")
    check(0 < value(values, "nanotime_source_delay_seconds", **plain) < 0.05, "source delay")
    check(value(values, "nanotime_source_uncertainty_seconds", **plain) >= 0, "uncertainty")
    check(value(values, "nanotime_source_root_delay_seconds", **plain) == 0, "source root delay")
    check(abs(value(values, "nanotime_source_root_dispersion_seconds", **plain) - 16 / 65536)
          < 1e-9, "source root dispersion (16/65536 s from the responder)")
    check(value(values, "nanotime_source_nts_cookies", **nts) >= 1, "NTS cookies")
    check(value(values, "nanotime_source_nts_key_exchanges_total", result="ok", **nts) >= 1,
          "NTS-KE by the source")
    check(value(values, "nanotime_source_sample_offset_seconds_count", **plain) >= 1,
          "per-source offset histogram")

    # Server (ntpd-rs: ntp_server_*), NTS-KE, histograms.
    received = value(values, "nanotime_server_received_packets_total")
    accepted = value(values, "nanotime_server_accepted_packets_total")
    check(received >= 1 and accepted >= 1 and accepted <= received, "server counters")
    for name in ("denied", "ignored", "rate_limited"):
        check(value(values, f"nanotime_server_{name}_packets_total") >= 0, name)
    check(value(values, "nanotime_server_nts_accepted_packets_total") >= 1, "NTS answered")
    check(value(values, "nanotime_server_nts_nak_packets_total") == 0, "NTS NAKs")
    check(value(values, "nanotime_nts_ke_handshakes_total") >= 1, "NTS-KE handshakes")
    check(value(values, "nanotime_nts_ke_failures_total", reason="tls_failed") == 0,
          "NTS-KE failures by reason")
    check(types.get("nanotime_server_request_latency_seconds") == "histogram", "latency type")
    lat_count = value(values, "nanotime_server_request_latency_seconds_count")
    check(lat_count == accepted, f"one latency per answer ({lat_count} vs {accepted})")
    lat_inf = value(values, "nanotime_server_request_latency_seconds_bucket", le="+Inf")
    check(lat_inf == lat_count, "+Inf bucket = count")
    check(0 < value(values, "nanotime_server_request_latency_seconds_sum") / lat_count < 0.01,
          "mean request latency under 10 ms")
    buckets = sorted((float(l["le"]), v) for l, v in
                     by_name(values, "nanotime_server_request_latency_seconds_bucket"))
    check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "cumulative buckets")
    check(value(values, "nanotime_clock_update_offset_seconds_count") >= 1, "offset histogram")

    # Kernel clock and PPS (CLOCK_REALTIME read with adjtimex).
    info = by_name(values, "nanotime_kernel_clock_info")
    check(len(info) == 1 and info[0][0]["clock"].startswith("CLOCK_REALTIME"), f"kernel clock {info}")
    check(value(values, "nanotime_kernel_max_error_seconds") >= 0, "kernel max error")
    check(value(values, "nanotime_pps_signal") in (0, 1), "PPS signal")

    # The HTTP side.
    status, _, _ = scrape(port, path="/nothing")
    check(status == 404, f"unknown path: {status}")
    status, headers, _ = scrape(port, method="POST")
    check(status == 405 and "GET" in headers.get("Allow", ""), f"POST: {status} {headers}")
    status, headers, body = scrape(port, method="HEAD")
    check(status == 200 and body == "" and int(headers["Content-Length"]) > 1000, "HEAD")
    status, _, _ = scrape(port, headers={"X-Big": "a" * 20000})
    check(status == 431, f"oversize header: {status}")

    slow = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    for _ in range(2):  # a byte now and then does not extend the deadline
        time.sleep(TIMEOUT_S / 3)
        slow.sendall(b"X")
    status, _, text = scrape(port)  # another client is served meanwhile
    check(status == 200 and "nanotime_system_stratum" in text, "scrape beside a slowloris")
    slow.settimeout(TIMEOUT_S + 3)
    answer = b""
    while True:
        chunk = slow.recv(4096)
        if not chunk:
            break
        answer += chunk
    took = time.monotonic() - start
    check(answer.startswith(b"HTTP/1.1 408 "), f"slowloris answer {answer[:40]!r}")
    check(TIMEOUT_S - 0.05 <= took <= TIMEOUT_S + 1.0, f"slowloris closed after {took:.2f} s")
    print(f"slowloris: 408 and closed after {took:.2f} s (timeout {TIMEOUT_S} s)")


if __name__ == "__main__":
    main()
