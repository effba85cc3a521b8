#!/usr/bin/env python3
"""End to end: nanotimed subscribed to a test broker on loopback.

e2e_broker_client.py NANOTIMED NANOTIMECTL WORKDIR SECCOMP

The broker here is a small one in Python (ssl, TLS 1.3, client certificates
from a CA made for the test, the upgrade and the length-prefixed JSON frames
of daemon/broker/PROTOCOL.md). nanotimed (clock.adjust = false: the host
clock is never touched) follows a stratum-1 responder on loopback, serves
NTP on loopback and subscribes with [broker_client]. Checked:
  1. upgrade request, hello (first, once), welcome, state messages at the
     welcome's interval with every view; pong; relayed `tracking` answered
     as the control socket would; relayed `makestep` and `reload` carried
     out (the daemon's log names the actor); allow_management's refusal is
     not checked here (unit tests).
  2. nanotimectl --broker: every view, `watch` (on a tmux terminal) and
     `fleet`, `token create` through
     the test broker's HTTPS API (bearer token and client certificate),
     the views relayed over the subscription to the daemon and formatted.
  3. the broker goes away and comes back on the same port: the daemon
     subscribes again, within its backoff.
  4. a broker that stops reading and sends commands for 8 s: the daemon's
     resident memory does not grow with the flood and its NTP answers stay
     prompt throughout (the 256 KiB bound itself: see the comment there).
"""
import http.server
import json
import os
import shlex
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

NTP_EPOCH = 2208988800


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


def ntp_query(port, timeout=1.0):
    """One mode-3 request to the daemon; the round trip in seconds, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        req = bytes([(4 << 3) | 3]) + bytes(39) + ntp_stamp(time.time())
        start = time.monotonic()
        s.sendto(req, ("127.0.0.1", port))
        try:
            reply, _ = s.recvfrom(512)
        except socket.timeout:
            return None
        took = time.monotonic() - start
        return took if len(reply) >= 48 and reply[24:32] == req[40:48] else None


def make_pki(work):
    def run(*args):
        subprocess.run(list(args), check=True, capture_output=True, cwd=work)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=test broker CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    for name, san in (("broker", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("member", "subjectAltName=DNS:member1")):
        run("openssl", "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
            f"/CN={name}")
        with open(f"{work}/{name}.ext", "w") as f:
            f.write(san + "\n")
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext")


class Broker:
    """One listening socket; each accepted subscription is a Member."""

    def __init__(self, work, port, rcvbuf=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(f"{work}/broker.pem", f"{work}/broker.key")
        self.ctx.load_verify_locations(f"{work}/ca.pem")
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(4)

    def accept(self, timeout):
        self.sock.settimeout(timeout)
        raw, _ = self.sock.accept()
        raw.settimeout(10)
        tls = self.ctx.wrap_socket(raw, server_side=True)
        return Member(tls)

    def close(self):
        self.sock.close()


class Member:
    def __init__(self, tls):
        self.tls = tls
        self.buf = b""
        check(tls.version() == "TLSv1.3", f"TLS version {tls.version()}")
        check(tls.selected_alpn_protocol() == "http/1.1", "ALPN http/1.1")
        peer = tls.getpeercert()
        check(peer is not None, "the member sent its certificate")

    def recv_some(self):
        data = self.tls.recv(65536)
        if not data:
            raise EOFError("member closed")
        self.buf += data

    def upgrade(self):
        while b"\r\n\r\n" not in self.buf:
            self.recv_some()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        check(lines[0] == "GET /v1/subscribe HTTP/1.1", f"request line {lines[0]!r}")
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        check(headers.get("upgrade") == "nanotime-subscription/1", f"Upgrade {headers}")
        check(headers.get("connection", "").lower() == "upgrade", f"Connection {headers}")
        check("host" in headers, "Host header")
        self.tls.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         b"Upgrade: nanotime-subscription/1\r\n\r\n")

    def send(self, message):
        body = json.dumps(message).encode()
        self.tls.sendall(struct.pack("!I", len(body)) + body)

    def recv(self):
        while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack("!I", self.buf[:4])[0]:
            self.recv_some()
        n = struct.unpack("!I", self.buf[:4])[0]
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return json.loads(body)

    def recv_type(self, wanted, timeout=10):
        """The next message of type @wanted; others (states, events) are kept."""
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            m = self.recv()
            if m["type"] == wanted:
                return m, seen
            seen.append(m)
        fail(f"no {wanted} within {timeout} s (saw {[m['type'] for m in seen]})")

    def close(self):
        try:
            self.tls.close()
        except OSError:
            pass


def subscribe(broker, interval=1):
    member = broker.accept(20)
    member.upgrade()
    hello = member.recv()
    check(hello["type"] == "hello" and hello["protocol"] == 1, f"hello first: {hello}")
    check("client" in hello["roles"] and "server" in hello["roles"], f"roles {hello}")
    member.send({"type": "welcome", "member": "member1", "state_interval": interval})
    return member, hello


def log_text(work):
    with open(f"{work}/log") as f:
        return f.read()


def wait_for_log(work, text, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in log_text(work):
            return
        time.sleep(0.1)
    fail(f"'{text}' not in the log within {timeout} s:\n" + log_text(work)[-2000:])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def relay_and_views(member):
    state, _ = member.recv_type("state")
    for view in ("status", "tracking", "sources", "serverstats", "kernel", "pps"):
        check(view in state["data"], f"state has {view}: {list(state['data'])}")
    second, _ = member.recv_type("state", timeout=3)
    check(second["seq"] > state["seq"], "state sequence rises")
    t0 = time.monotonic()
    third, _ = member.recv_type("state", timeout=3)
    gap = time.monotonic() - t0
    check(0.5 <= gap <= 2.0, f"states every ~1 s (the welcome's interval): {gap:.2f} s")
    member.send({"type": "ping", "id": 41})
    pong, _ = member.recv_type("pong")
    check(pong["id"] == 41, f"pong {pong}")
    member.send({"type": "command", "id": 1, "actor": "alice",
                 "request": {"command": "tracking", "id": "t"}})
    result, _ = member.recv_type("result")
    check(result["id"] == 1, f"result id {result}")
    r = result["response"]
    check(r["ok"] is True and r["command"] == "tracking" and r["id"] == "t", f"tracking {r}")
    check("reference_id" in r["data"] and "stratum" in r["data"], f"tracking data {r['data']}")
    print(f"relayed tracking: stratum {r['data']['stratum']}, reference {r['data']['reference_id']}")
    for i, command in ((2, "makestep"), (3, "reload")):
        member.send({"type": "command", "id": i, "actor": "alice", "request": {"command": command}})
        result, _ = member.recv_type("result")
        check(result["id"] == i and result["response"]["ok"] is True, f"{command}: {result}")
    member.send({"type": "command", "id": 4, "actor": "alice", "request": {"command": "nosuch"}})
    result, _ = member.recv_type("result")
    check(result["response"]["ok"] is False, f"unknown command refused: {result}")


class Api(threading.Thread):
    """The broker's HTTPS API, enough for nanotimectl: the relay (POST
    /v1/members/member1/control, forwarded as a command frame over the live
    subscription), GET /v1/members and POST /v1/tokens."""

    TOKEN = "s3cret-token"

    def __init__(self, work, member):
        super().__init__(daemon=True)
        self.member = member
        self.lock = threading.Lock()
        self.next_id = 100
        self.seen = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def authorised(self):
                if self.headers.get("Authorization") == "Bearer " + Api.TOKEN:
                    return "token"
                if self.connection.getpeercert():
                    return "certificate"
                return None

            def reply(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def body(self):
                n = int(self.headers.get("Content-Length", "0"))
                return json.loads(self.rfile.read(n)) if n else None

            def do_GET(self):
                who = self.authorised()
                api.seen.append(("GET", self.path, who))
                if not who:
                    return self.reply(401, {"error": "no credentials"})
                if self.path == "/v1/members":
                    return self.reply(200, {"members": [{
                        "name": "member1", "host": "h1", "version": "0.1.0", "roles": ["client"],
                        "connected": True, "state_time": int(time.time()) - 2, "state_seq": 7}]})
                self.reply(404, {"error": "no such path"})

            def do_POST(self):
                who = self.authorised()
                body = self.body()
                api.seen.append(("POST", self.path, who, body))
                if not who:
                    return self.reply(401, {"error": "no credentials"})
                if self.path == "/v1/tokens":
                    return self.reply(201, {"id": 5, "name": body["name"], "role": body["role"],
                                            "token": "t-new"})
                if self.path != "/v1/members/member1/control":
                    return self.reply(404, {"error": "no member named that"})
                with api.lock:
                    api.next_id += 1
                    api.member.send({"type": "command", "id": api.next_id, "actor": "token:ops",
                                     "request": body})
                    result, _ = api.member.recv_type("result")
                check(result["id"] == api.next_id, f"relayed result id {result}")
                self.reply(200, result["response"])

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(f"{work}/broker.pem", f"{work}/broker.key")
        ctx.load_verify_locations(f"{work}/ca.pem")
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]

    def run(self):
        self.server.serve_forever(poll_interval=0.1)


def watch_through_broker(token, work, port):
    """nanotimectl watch --member on a tmux terminal (tests/ctl/watch_tmux.py's):
    the member's views, under a header naming the member and the broker."""
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ctl"))
    from watch_tmux import Tmux  # noqa: E402 (it imports this file's helpers)
    tmux = Tmux(work)
    try:
        tmux.start_watch("broker", work, shlex.join(token + ["--member", "member1", "watch"]))
        text = tmux.wait_for("broker", lambda t: "Reference ID" in t and "S Name/address" in t,
                             "watch's views through the broker")
        check(text.startswith(f"member member1 via https://127.0.0.1:{port}  "),
              f"watch's header through the broker:\n{text}")
        tmux.run("send-keys", "-t", "broker", "q")
        tmux.check_restored("broker", work, 0)
    finally:
        tmux.kill()


def nanotimectl_through_broker(nanotimectl, work, member):
    api = Api(work, member)
    api.start()
    base = [nanotimectl, "--broker", f"https://127.0.0.1:{api.port}", "--cacert",
            f"{work}/ca.pem"]
    token = base + ["--token", Api.TOKEN]
    try:
        for view in ("status", "tracking", "sources", "sourcestats", "authdata", "serverstats",
                     "clients", "kernel", "pps"):
            r = subprocess.run(token + ["--member", "member1", view], capture_output=True,
                               text=True, timeout=20)
            check(r.returncode == 0, f"nanotimectl --broker {view}: {r.returncode} {r.stderr}")
            check(r.stdout.strip() != "", f"{view}: formatted output")
        r = subprocess.run(token + ["--member", "member1", "tracking"], capture_output=True,
                           text=True, timeout=20)
        local = "Reference ID"
        check(local in r.stdout, f"tracking formatted as locally: {r.stdout}")
        watch_through_broker(token, work, api.port)
        r = subprocess.run(token + ["--member", "member1", "--json", "tracking"],
                           capture_output=True, text=True, timeout=20)
        check("stratum" in json.loads(r.stdout), f"--json tracking: {r.stdout}")
        r = subprocess.run(base + ["--cert", f"{work}/member.pem", "--key", f"{work}/member.key",
                                   "--member", "member1", "status"], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 0, f"with a client certificate: {r.stderr}")
        check(api.seen[-1][2] == "certificate", f"authenticated by certificate: {api.seen[-1]}")
        r = subprocess.run(token + ["fleet"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 0 and "member1" in r.stdout and "yes" in r.stdout,
              f"fleet: {r.returncode} {r.stdout} {r.stderr}")
        r = subprocess.run(token + ["token", "create", "--name", "ops", "--role", "operator"],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0 and json.loads(r.stdout)["token"] == "t-new", f"token: {r.stdout}")
        check(api.seen[-1][3] == {"name": "ops", "role": "operator"}, f"token body {api.seen[-1]}")
        r = subprocess.run(base + ["--member", "member1", "status"], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 2 and "401" in r.stderr, f"no credentials: {r.returncode} {r.stderr}")
        r = subprocess.run([nanotimectl, "fleet"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and "--broker" in r.stderr, f"fleet without --broker: {r.stderr}")
        print("nanotimectl --broker: 8 views, watch, fleet, token create; token and certificate "
              "auth")
    finally:
        api.server.shutdown()


def main():
    global seccomp
    nanotimed, nanotimectl, workdir, seccomp = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="broker-client-e2e-", dir=os.path.abspath(workdir))
    make_pki(work)
    responder = Responder()
    responder.start()
    ntp_port, broker_port = free_port(socket.SOCK_DGRAM), free_port()
    broker = Broker(work, broker_port)
    conf = f"{work}/nanotimed.toml"
    with open(conf, "w") as f:
        f.write(f"""[[source]]
server = "127.0.0.1"
port = {responder.port}
iburst = true
minpoll = 3
maxpoll = 3

[server]
listen = ["127.0.0.1:{ntp_port}"]
allow = ["127.0.0.0/8"]

[server.rate_limit]
enabled = false

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

[broker_client]
url = "https://127.0.0.1:{broker_port}"
certificate = "{work}/member.pem"
private_key = "{work}/member.key"
trusted_ca = "{work}/ca.pem"
""")
    daemon = subprocess.Popen([nanotimed, "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=open(f"{work}/stderr", "w"))
    try:
        member, hello = subscribe(broker)
        print(f"subscribed: hello from {hello['host']} version {hello['version']}")
        relay_and_views(member)
        wait_for_log(work, "step armed by broker (alice)", 5)
        wait_for_log(work, "reload requested by broker (alice)", 5)
        wait_for_log(work, "subscribed to https://127.0.0.1", 5)
        nanotimectl_through_broker(nanotimectl, work, member)

        # 3. The broker restarts on the same port.
        member.close()
        broker.close()
        went = time.monotonic()
        time.sleep(1.5)  # one refused attempt or more in between
        broker = Broker(work, broker_port)
        member, _ = subscribe(broker)
        back = time.monotonic() - went
        member.recv_type("state")
        check(back < 8, f"back within the backoff: {back:.1f} s")
        print(f"broker restart: subscribed again after {back:.1f} s")
        member.close()
        broker.close()

        # 4. A broker that stops reading and floods commands.
        broker = Broker(work, broker_port, rcvbuf=4096)
        member, _ = subscribe(broker)
        member.recv_type("state")
        before = rss_kib(daemon.pid)
        worst = 0.0
        sent = 0
        start = time.monotonic()
        left = False
        while time.monotonic() - start < 8:
            try:
                for _ in range(10):
                    member.send({"type": "command", "id": sent, "actor": "flood",
                                 "request": {"command": "status"}})
                    sent += 1
            except (OSError, ssl.SSLError):
                left = True
            rtt = ntp_query(ntp_port)
            check(rtt is not None, "an NTP answer during the flood")
            worst = max(worst, rtt)
            if left or "the broker is not reading" in log_text(work):
                left = True
                break
            time.sleep(0.25)
        after = rss_kib(daemon.pid)
        for _ in range(20):
            rtt = ntp_query(ntp_port)
            check(rtt is not None, "an NTP answer after the flood")
            worst = max(worst, rtt)
        # Every request answered within ntp_query's 1 s. The worst round trip
        # is printed: in the sanitized Debug build on a loaded 2-core host it
        # reached 0.36 s, not yet explained (the relayed commands run on the
        # NTP loop, 40 snapshots a second here); a Release measurement is owed.
        # ASan's quarantine keeps freed memory resident (the sanitized build
        # runs with seccomp "log"): the bound is checked in the plain build.
        if seccomp != "log":
            check(after - before < 8192, f"resident memory {before} -> {after} KiB")
        # The 256 KiB bound on unsent bytes is reached only once the kernel's
        # socket buffers (autotuned up to tcp_wmem's maximum) are full, which
        # 8 s of this flood may not do: reported, not required.
        print(f"non-reading broker: {sent} commands in {time.monotonic() - start:.1f} s, "
              f"left: {left}, RSS {before} -> {after} KiB, "
              f"worst NTP round trip {worst * 1000:.2f} ms")
        member.close()
        broker.close()
        check(daemon.poll() is None, "nanotimed still running")
    except EOFError as e:
        fail(f"{e}:\n" + log_text(work)[-3000:] + open(f"{work}/stderr").read()[-2000:])
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
        responder.stop = True
    check(daemon.returncode == 0, f"nanotimed exited with {daemon.returncode}: " +
          open(f"{work}/stderr").read()[-2000:])
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
