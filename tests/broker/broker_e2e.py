#!/usr/bin/env python3
"""End to end: the real nanotimed as broker on loopback, driven over TLS 1.3.

Bootstrap with `nanotimed --broker-token`, then through the API: tokens and
certificates created, a member subscribing with its issued certificate
(hello/welcome/state), its state read back, a command relayed to it and
answered, Server-Sent Events, the audit log; negative cases (no credentials,
a certificate from another CA, a monitor calling operator and admin
endpoints, a revoked certificate ending the subscription, malformed HTTP,
oversize header and body, slowloris); and the state surviving a restart.

usage: broker_e2e.py NANOTIMED WORKDIR SECCOMP   (exit 0 PASS, 1 FAIL, 77 skip)
"""
import http.client
import json
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

TIMEOUT_S = 1.5  # [broker] timeout


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    raise SystemExit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(work, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", f"{work}/{name}.key", "-out", f"{work}/{name}.crt")


def make_leaf(work, ca, name, usage):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", f"/CN={name}", "-keyout", f"{work}/{name}.key", "-out", f"{work}/{name}.csr")
    with open(f"{work}/{name}.ext", "w") as f:
        f.write(f"subjectAltName=DNS:localhost\nextendedKeyUsage={usage}\n")
    openssl("x509", "-req", "-in", f"{work}/{name}.csr", "-CA", f"{work}/{ca}.crt", "-CAkey",
            f"{work}/{ca}.key", "-days", "2", "-extfile", f"{work}/{name}.ext",
            "-out", f"{work}/{name}.crt")


class Broker:
    def __init__(self, nanotimed, work, seccomp):
        self.nanotimed, self.work = nanotimed, work
        self.port = free_port()
        self.conf = f"{work}/nanotimed.toml"
        with open(self.conf, "w") as f:
            f.write(f"""[clock]
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

[broker]
listen = ["127.0.0.1:{self.port}"]
certificate = "{work}/server.crt"
private_key = "{work}/server.key"
ca_certificate = "{work}/ca.crt"
ca_key = "{work}/ca.key"
database = "{work}/broker.db"
timeout = {TIMEOUT_S}
state_interval = 1
""")
        self.proc = None

    def mint(self, name, role):
        r = subprocess.run([self.nanotimed, "-c", self.conf, "--broker-token", name,
                            "--broker-role", role], capture_output=True, text=True)
        check(r.returncode == 0, "--broker-token: " + r.stderr)
        return r.stdout.strip()

    def start(self):
        self.proc = subprocess.Popen([self.nanotimed, "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(f"{self.work}/stderr", "a"))
        deadline = time.time() + 10
        while True:
            check(self.proc.poll() is None,
                  "nanotimed died: " + open(f"{self.work}/stderr").read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                check(time.time() < deadline, "the broker did not listen within 10 s")
                time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("nanotimed did not stop on SIGTERM")
        check(self.proc.returncode == 0, f"nanotimed exited with {self.proc.returncode}")

    def context(self, cert=None):
        ctx = ssl.create_default_context(cafile=f"{self.work}/ca.crt")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["http/1.1"])
        if cert:
            ctx.load_cert_chain(f"{self.work}/{cert}.crt", f"{self.work}/{cert}.key")
        return ctx

    def call(self, method, path, body=None, token=None, cert=None, headers=None):
        conn = http.client.HTTPSConnection("localhost", self.port, timeout=15,
                                           context=self.context(cert))
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        parsed = json.loads(raw) if r.getheader("Content-Type") == "application/json" else raw
        return r.status, dict(r.getheaders()), parsed

    def raw(self, cert=None):
        """A TLS socket to the broker."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        return self.context(cert).wrap_socket(sock, server_hostname="localhost")


def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack("!I", len(body)) + body


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(sock):
    head = read_exact(sock, 4)
    if head is None:
        return None
    return json.loads(read_exact(sock, struct.unpack("!I", head)[0]))


def read_http_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def subscribe(broker, cert, member):
    s = broker.raw(cert)
    s.sendall(b"GET /v1/subscribe HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
              b"Upgrade: nanotime-subscription/1\r\n\r\n" +
              frame({"type": "hello", "protocol": 1, "host": f"{member}.example",
                     "version": "e2e", "roles": ["server", "client"]}))
    head = read_http_head(s)
    check(head.startswith("HTTP/1.1 101 Switching Protocols"), "subscribe: " + head)
    welcome = read_frame(s)
    check(welcome == {"type": "welcome", "member": member, "state_interval": 1},
          f"welcome: {welcome}")
    return s


def run(broker):
    work = broker.work
    admin = broker.mint("root", "admin")
    check(admin.startswith("nt1."), "a token: " + admin)
    broker.start()

    # Authentication: none, another CA's certificate, a good token.
    status, headers, body = broker.call("GET", "/v1/members")
    check(status == 401 and "WWW-Authenticate" in headers, f"no credentials: {status} {body}")
    status, _, body = broker.call("GET", "/v1/members", cert="foreign")
    check(status == 401 and "not issued by this broker's CA" in body["error"],
          f"foreign certificate: {status} {body}")
    status, _, body = broker.call("GET", "/v1/whoami", token=admin)
    check(status == 200 and body["role"] == "admin", f"whoami: {status} {body}")

    # Tokens: a monitor and an operator; the monitor is refused admin and operator work.
    status, _, body = broker.call("POST", "/v1/tokens", {"name": "mon", "role": "monitor"},
                                  token=admin)
    check(status == 201, f"create token: {status} {body}")
    monitor = body["token"]
    status, _, body = broker.call("POST", "/v1/tokens", {"name": "op", "role": "operator"},
                                  token=admin)
    operator = body["token"]
    status, _, body = broker.call("POST", "/v1/tokens", {"name": "x", "role": "admin"},
                                  token=monitor)
    check(status == 403, f"monitor creating a token: {status} {body}")
    status, _, body = broker.call("GET", "/v1/tokens", token=admin)
    check(len(body["tokens"]) == 3, f"nothing created by the monitor: {body}")

    # A member certificate, issued by the broker's CA; the member subscribes.
    status, _, body = broker.call("POST", "/v1/certificates", {"name": "ntp1", "role": "member",
                                                               "days": 2}, token=admin)
    check(status == 201, f"issue certificate: {status} {body}")
    fingerprint = body["fingerprint"]
    with open(f"{work}/ntp1.crt", "w") as f:
        f.write(body["certificate"])
    with open(f"{work}/ntp1.key", "w") as f:
        f.write(body["private_key"])
    member = subscribe(broker, "ntp1", "ntp1")
    state = {"status": {"leap": 0, "stratum": 2}, "tracking": {"offset_s": 1.5e-6}}
    member.sendall(frame({"type": "state", "seq": 1, "data": state}))

    # Server-Sent Events: the monitor follows the fleet.
    events = broker.raw()
    events.sendall(f"GET /v1/events HTTP/1.1\r\nHost: localhost\r\n"
                   f"Authorization: Bearer {monitor}\r\n\r\n".encode())
    head = read_http_head(events)
    check(head.startswith("HTTP/1.1 200") and "text/event-stream" in head, "SSE: " + head)
    member.sendall(frame({"type": "event", "kind": "step", "text": "stepped 0.25 s"}))
    seen = b""
    deadline = time.time() + 5
    while b"stepped 0.25 s" not in seen and time.time() < deadline:
        seen += events.recv(4096)
    check(b"event: event\ndata: " in seen, f"SSE event: {seen!r}")
    events.close()

    deadline = time.time() + 5
    while True:
        status, _, body = broker.call("GET", "/v1/members/ntp1", token=monitor)
        if status == 200 and body.get("state") == state:
            break
        check(time.time() < deadline, f"member state: {status} {body}")
        time.sleep(0.1)
    check(body["connected"] and body["roles"] == ["server", "client"], f"member: {body}")

    # The relay: an operator's makestep reaches the member and its answer comes back.
    result = {}

    def relay():
        result["r"] = broker.call("POST", "/v1/members/ntp1/control", {"command": "makestep"},
                                  token=operator)
    t = threading.Thread(target=relay)
    t.start()
    command = read_frame(member)
    check(command["type"] == "command" and command["request"] == {"command": "makestep"},
          f"relayed command: {command}")
    answer = {"ok": True, "command": "makestep", "data": {"step_armed": True}}
    member.sendall(frame({"type": "result", "id": command["id"], "response": answer}))
    t.join(15)
    check(result["r"][0] == 200 and result["r"][2] == answer, f"relay: {result['r']}")
    status, _, body = broker.call("POST", "/v1/members/ntp1/control", {"command": "makestep"},
                                  token=monitor)
    check(status == 403, f"monitor relaying makestep: {status} {body}")

    # Audit: the denials and the management actions, for admins only.
    status, _, body = broker.call("GET", "/v1/audit?limit=1000", token=admin)
    results = [(e["action"], e["status"]) for e in body["entries"]]
    for want in [("GET /v1/members", 401), ("POST /v1/tokens", 403), ("POST /v1/tokens", 201),
                 ("POST /v1/certificates", 201), ("relay makestep", 200),
                 ("relay makestep", 403)]:
        check(want in results, f"audit lacks {want}: {results}")
    check(broker.call("GET", "/v1/audit", token=operator)[0] == 403, "audit for operators")

    # Prometheus: the daemon's own metrics and the fleet's, for monitors,
    # read by a real exposition parser.
    check(broker.call("GET", "/metrics")[0] == 401, "/metrics without credentials")
    status, headers, text = broker.call("GET", "/metrics", token=monitor)
    check(status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4"),
          f"/metrics: {status} {headers}")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        print("(python3-prometheus-client missing: /metrics not parsed)")
    else:
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text.decode())
                   for s in f.samples}
        check(samples.get(("nanotime_member_subscribed", (("member", "ntp1"),))) == 1,
              f"ntp1 subscribed in /metrics: {text.decode()[-1500:]}")
        check(samples.get(("nanotime_member_stratum", (("member", "ntp1"),))) == 2,
              "ntp1's stratum from its state")
        check(samples.get(("nanotime_member_offset_seconds", (("member", "ntp1"),))) == 0,
              "ntp1's offset from its state (tracking without system_offset_s: 0)")
        check(any(name == "nanotime_uptime_seconds" for name, _ in samples),
              "the daemon's own metrics are there too")

    # Revoking the member's certificate ends its subscription.
    status, _, body = broker.call("DELETE", f"/v1/certificates/{fingerprint}", token=admin)
    check(status == 200, f"revoke: {status} {body}")
    member.settimeout(5)
    try:
        while True:
            f = read_frame(member)
            if f is None:
                break
            check(f["type"] == "ping", f"after revocation: {f}")
    except (ssl.SSLError, ConnectionError):
        pass
    status, _, _ = broker.call("GET", "/v1/whoami", cert="ntp1")
    check(status == 401, f"revoked certificate: {status}")

    # Malformed HTTP, oversize header and body: clear errors.
    for request, want in [(b"NOT HTTP\r\n\r\n", "400"),
                          (b"GET /v1/whoami HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", "431"),
                          (b"POST /v1/tokens HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" +
                           b"{" * 100, "413")]:
        s = broker.raw()
        s.sendall(request)
        head = read_http_head(s)
        check(head.startswith(f"HTTP/1.1 {want}"), f"expected {want}: {head!r}")
        s.close()
    # Slowloris: a request that never ends is answered 408 at the timeout.
    s = broker.raw()
    s.sendall(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n")
    start = time.time()
    head = read_http_head(s)
    took = time.time() - start
    check(head.startswith("HTTP/1.1 408") and took < TIMEOUT_S + 2, f"slowloris: {head!r} {took}")
    s.close()
    check(broker.call("GET", "/v1/whoami", token=admin)[0] == 200, "still serving")

    # Restart: members, tokens and the audit log survive.
    audit_count = len(body_entries(broker, admin))
    broker.stop()
    broker.start()
    status, _, body = broker.call("GET", "/v1/members/ntp1", token=monitor)
    check(status == 200 and body["state"] == state and not body["connected"],
          f"after restart: {status} {body}")
    check(len(body_entries(broker, admin)) >= audit_count, "audit after restart")
    broker.stop()


def body_entries(broker, token):
    return broker.call("GET", "/v1/audit?limit=1000", token=token)[2]["entries"]


def main():
    nanotimed, workdir, seccomp = sys.argv[1:4]
    if shutil.which("openssl") is None:
        print("SKIP: no openssl command")
        raise SystemExit(77)
    os.makedirs(workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="broker-e2e-", dir=os.path.abspath(workdir))
    make_ca(work, "ca")
    make_leaf(work, "ca", "server", "serverAuth")
    make_ca(work, "other")
    make_leaf(work, "other", "foreign", "clientAuth")
    broker = Broker(nanotimed, work, seccomp)
    try:
        run(broker)
    finally:
        if broker.proc and broker.proc.poll() is None:
            broker.proc.kill()
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
