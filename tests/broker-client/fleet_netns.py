#!/usr/bin/python3
"""fleet_netns.py - a fleet in network namespaces: one broker (a real
nanotimed with [broker]) and three real nanotimed members subscribed to it
with [broker_client], each in its own namespace, synchronising to a chronyd
time server in the broker's namespace.

  hub (10.207.0.1, bridge)  chronyd -x (local stratum 1), the broker
  ├── veth ── m1 (10.207.0.11)  nanotimed: NTP client of the hub, member m1
  ├── veth ── m2 (10.207.0.12)  nanotimed: member m2
  └── veth ── m3 (10.207.0.13)  nanotimed: member m3

Checked, as an operator sees it:
  1. certificates for the members issued with `nanotimectl certificate
     create` through the broker; every member subscribes; `nanotimectl
     fleet` lists the three, connected;
  2. every read view through `nanotimectl --broker ... --member mN` answers
     with that member's data (its own host name), and a monitor token is
     refused the management command (403, audited, nothing done);
  3. an operator's `makestep` through the broker is carried out by the
     member (its log names the broker's actor) and its result is in the
     audit log; an operator's `add server` on m3 runs there at once and is
     kept in m3's [control] sources_file;
  4. the broker is killed (SIGKILL) and restarted: during the outage every
     member keeps polling and keeps its source selected; after it every
     member is subscribed again, and the broker's state (members, tokens,
     audit) is intact; `delete` through it removes m3's added source.

Usage: fleet_netns.py NANOTIMED NANOTIMECTL WORKDIR SECCOMP. Needs root
(namespaces), ip, openssl, chronyd; exits 77 when one is missing. Addresses
only in the namespaces it creates; no process may set the clock (chronyd -x,
[clock] adjust = false, CAP_SYS_TIME dropped with setpriv).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

NET = "10.207.0"
HUB_IP = f"{NET}.1"
BROKER_NAME = "broker.test"
BROKER_PORT = 4461
MEMBERS = ("m1", "m2", "m3")
TAG = f"ntfl{os.getpid()}"
HUB = f"{TAG}h"
NOCLOCK = ["setpriv", "--bounding-set", "-sys_time", "--inh-caps", "-sys_time"]
VIEWS = ("status", "tracking", "sources", "sourcestats", "ntpdata", "selectdata", "activity",
         "serverstats", "kernel", "pps")

procs = {}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def sh(*args, ns=None, check_rc=True, **kw):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check_rc and r.returncode != 0:
        fail(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def member_ns(name):
    return f"{TAG}{name}"


def make_network():
    sh("ip", "netns", "add", HUB)
    sh("ip", "-n", HUB, "link", "set", "lo", "up")
    sh("ip", "-n", HUB, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", HUB, "addr", "add", f"{HUB_IP}/24", "dev", "br0")
    sh("ip", "-n", HUB, "link", "set", "br0", "up")
    for i, name in enumerate(MEMBERS, start=1):
        ns = member_ns(name)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", f"{TAG}v{i}", "netns", HUB, "type", "veth", "peer", "name",
           "eth0", "netns", ns)
        sh("ip", "-n", HUB, "link", "set", f"{TAG}v{i}", "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{NET}.{10 + i}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    # The broker's name in every namespace: `ip netns exec` binds
    # /etc/netns/NS/hosts over /etc/hosts.
    for ns in [HUB] + [member_ns(m) for m in MEMBERS]:
        os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
        with open(f"/etc/netns/{ns}/hosts", "w") as f:
            f.write(f"127.0.0.1 localhost\n{HUB_IP} {BROKER_NAME}\n")
        with open(f"/etc/netns/{ns}/hostname", "w") as f:
            f.write(ns + "\n")


def cleanup():
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in [HUB] + [member_ns(m) for m in MEMBERS]:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)


def openssl(work, *args):
    sh("openssl", *args, cwd=work)


def make_pki(work):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(work, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=fleet test CA", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl(work, "req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj",
            f"/CN={BROKER_NAME}")
    with open(f"{work}/broker.ext", "w") as f:
        f.write(f"subjectAltName=DNS:{BROKER_NAME}\nextendedKeyUsage=serverAuth\n")
    openssl(work, "x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "broker.ext", "-out", "broker.crt")


def write_configs(work, seccomp):
    with open(f"{work}/chronyd.conf", "w") as f:
        f.write(f"local stratum 1\nallow {NET}.0/24\nbindaddress {HUB_IP}\ncmdport 0\n"
                f"bindcmdaddress /\npidfile {work}/chronyd.pid\n")
    with open(f"{work}/broker.toml", "w") as f:
        f.write(f"""[clock]
adjust = false
drift_file = ""

[control]
socket = "{work}/broker.sock"

[log]
level = "info"
file = "{work}/broker.log"

[service]
user = ""
seccomp = "{seccomp}"

[broker]
listen = ["{HUB_IP}:{BROKER_PORT}"]
certificate = "{work}/broker.crt"
private_key = "{work}/broker.key"
ca_certificate = "{work}/ca.crt"
ca_key = "{work}/ca.key"
database = "{work}/broker.db"
state_interval = 1
""")
    for name in MEMBERS:
        with open(f"{work}/{name}.toml", "w") as f:
            f.write(f"""[clock]
adjust = false
drift_file = ""

[[source]]
server = "{HUB_IP}"
minpoll = 3
maxpoll = 3
iburst = true

[control]
socket = "{work}/{name}.sock"
sources_file = "{work}/{name}-sources.toml"

[log]
level = "info"
file = "{work}/{name}.log"

[service]
user = ""
seccomp = "{seccomp}"

[broker_client]
url = "https://{BROKER_NAME}:{BROKER_PORT}"
certificate = "{work}/{name}.crt"
private_key = "{work}/{name}.key"
trusted_ca = "{work}/ca.crt"
""")


def start(key, ns, args, log):
    procs[key] = subprocess.Popen(["ip", "netns", "exec", ns] + NOCLOCK + args,
                                  stdout=subprocess.DEVNULL, stderr=open(log, "a"))


def start_broker(nanotimed, work):
    start("broker", HUB, [nanotimed, "-c", f"{work}/broker.toml"], f"{work}/broker.stderr")
    deadline = time.time() + 15
    probe = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)"
             "\nexcept OSError:\n sys.exit(1)\n")
    while sh(sys.executable, "-c", probe, HUB_IP, str(BROKER_PORT), ns=HUB,
             check_rc=False).returncode != 0:
        check(procs["broker"].poll() is None,
              "the broker died: " + open(f"{work}/broker.stderr").read()[-2000:])
        check(time.time() < deadline, "the broker did not listen within 15 s")
        time.sleep(0.1)


class Ctl:
    """nanotimectl in the hub, through the broker, with one credential."""

    def __init__(self, nanotimectl, work, token):
        self.base = [nanotimectl, "--broker", f"https://{BROKER_NAME}:{BROKER_PORT}",
                     "--cacert", f"{work}/ca.crt", "--token", token]

    def run(self, *args, ok=True):
        r = sh(*self.base, *args, ns=HUB, check_rc=False)
        if ok:
            check(r.returncode == 0, f"nanotimectl {' '.join(args)}: exit {r.returncode}: "
                  f"{r.stderr.strip()}")
        return r

    def json(self, *args):
        return json.loads(self.run("--json", *args).stdout)


def local_view(nanotimectl, work, name, view):
    r = sh(nanotimectl, "--socket", f"{work}/{name}.sock", "--json", view, check_rc=False)
    check(r.returncode == 0, f"{name} {view} on its own socket: {r.stderr.strip()}")
    return json.loads(r.stdout)


def selected_source(sources):
    for s in sources["sources"]:
        if s.get("state") in ("*", "selected", "sys.peer"):
            return s
    return None


def wait(what, predicate, timeout):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        check(time.time() < deadline, f"{what} within {timeout} s")
        time.sleep(0.2)


def fleet(ctl):
    return {m["name"]: m for m in ctl.json("fleet")["members"]}


def audit(ctl):
    r = ctl.run("--json", "audit", "--limit", "1000", ok=False)
    if r.returncode == 0:
        return json.loads(r.stdout)["entries"]
    return None


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    nanotimed, nanotimectl, work, seccomp = argv[1:]
    if os.geteuid() != 0:
        skip("needs root for network namespaces")
    for tool in ("ip", "openssl", "chronyd", "setpriv"):
        if shutil.which(tool) is None:
            skip(f"{tool} not installed")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    make_pki(work)
    write_configs(work, seccomp)
    try:
        make_network()
        return run(nanotimed, nanotimectl, work)
    finally:
        cleanup()


def run(nanotimed, nanotimectl, work):
    start("chronyd", HUB, ["chronyd", "-x", "-d", "-u", "root", "-f", f"{work}/chronyd.conf"],
          f"{work}/chronyd.log")
    tokens = {}
    for name, role in (("admin", "admin"), ("ops", "operator"), ("watch", "monitor")):
        r = sh(nanotimed, "-c", f"{work}/broker.toml", "--broker-token", name, "--broker-role",
               role)
        tokens[role] = r.stdout.strip()
    start_broker(nanotimed, work)
    admin = Ctl(nanotimectl, work, tokens["admin"])
    operator = Ctl(nanotimectl, work, tokens["operator"])
    monitor = Ctl(nanotimectl, work, tokens["monitor"])

    # 1. Member certificates through nanotimectl; the members subscribe.
    for name in MEMBERS:
        issued = admin.json("certificate", "create", "--name", name, "--role", "member",
                            "--days", "2")
        with open(f"{work}/{name}.crt", "w") as f:
            f.write(issued["certificate"])
        with open(f"{work}/{name}.key", "w") as f:
            f.write(issued["private_key"])
        os.chmod(f"{work}/{name}.key", 0o600)
        start(name, member_ns(name), [nanotimed, "-c", f"{work}/{name}.toml"],
              f"{work}/{name}.stderr")
    members = wait("three members connected",
                   lambda: (lambda f: f if all(f.get(m, {}).get("connected") for m in MEMBERS)
                            else None)(fleet(monitor)), 20)
    table = monitor.run("fleet").stdout
    for name in MEMBERS:
        check(name in table, f"`nanotimectl fleet` lists {name}:\n{table}")
    print(f"subscribed: {sorted(members)}")

    # Each member synchronises to chronyd in the hub.
    for name in MEMBERS:
        wait(f"{name} selects the hub's chronyd",
             lambda: selected_source(local_view(nanotimectl, work, name, "sources")), 30)

    # 2. Every view through the broker, with that member's own data.
    for name in MEMBERS:
        for view in VIEWS:
            data = monitor.json("--member", name, view)
            check(isinstance(data, dict) and data, f"{name} {view} through the broker: {data}")
        tracking = monitor.json("--member", name, "tracking")
        check(tracking.get("stratum") == 2, f"{name} tracking through the broker: {tracking}")
        sources = monitor.json("--member", name, "sources")
        check(selected_source(sources) is not None and
              selected_source(sources).get("address", HUB_IP).startswith(HUB_IP),
              f"{name} sources through the broker: {sources}")
        text = monitor.run("--member", name, "tracking").stdout
        check("Stratum" in text or "stratum" in text, f"{name} tracking table: {text}")
    # A monitor may not manage: 403, audited, nothing done.
    r = monitor.run("--member", "m1", "makestep", ok=False)
    check(r.returncode != 0 and ("403" in r.stderr or "role" in r.stderr or
                                 "forbidden" in r.stderr.lower()),
          f"a monitor's makestep is refused: {r.returncode} {r.stderr}")
    print("views through the broker: every member, every view; monitor refused makestep")

    # 3. An operator's makestep, carried out and audited.
    operator.run("--member", "m2", "makestep")
    wait("m2 arms the step, naming the operator",
         lambda: "step armed by broker (token:" in open(f"{work}/m2.log").read(), 10)
    entries = audit(admin)
    check(entries is not None, "the audit log through nanotimectl")
    made = [e for e in entries if e["action"] == "relay makestep" and e["target"] == "m2"]
    check(len(made) == 1 and made[0]["result"] == "ok" and made[0]["status"] == 200 and
          made[0]["actor"] == "token:2", f"m2's makestep and its result in the audit log: {made}")
    denied = [e for e in entries if e["action"] == "relay makestep" and e["target"] == "m1"]
    check(len(denied) == 1 and denied[0]["status"] == 403 and
          denied[0]["result"].startswith("denied"),
          f"the monitor's refused makestep is audited: {entries[-5:]}")
    print(f"audit: {len(entries)} entries; m2's makestep: {made[-1]}")
    # A source added at run time through the broker: an address in the
    # test's own network where no host answers (it stays unreachable).
    spare = f"{NET}.250"
    r = operator.run("--member", "m3", "add", "server", spare, "minpoll", "3", "maxpoll", "4")
    check(f"added server {spare}, kept in {work}/m3-sources.toml" in r.stdout,
          f"add through the broker: {r.stdout} {r.stderr}")
    names = [s["name"] for s in monitor.json("--member", "m3", "sources")["sources"]]
    check(spare in names and HUB_IP in names, f"m3 runs the added source: {names}")
    check(spare in open(f"{work}/m3-sources.toml").read(), "m3 keeps the added source")
    added = [e for e in audit(admin) if e["action"] == "relay add" and e["target"] == "m3"]
    check(len(added) == 1 and added[0]["result"] == "ok", f"the add in the audit log: {added}")

    # 4. Kill the broker; the members keep time; restart it.
    before = {m: local_view(nanotimectl, work, m, "sources") for m in MEMBERS}
    procs["broker"].send_signal(signal.SIGKILL)
    procs["broker"].wait()
    killed = time.monotonic()
    # Longer than one poll (8 s): every member must take a new sample.
    time.sleep(9)
    for name in MEMBERS:
        check(procs[name].poll() is None, f"{name} still running while the broker is down")
        now = local_view(nanotimectl, work, name, "sources")
        src, old = selected_source(now), selected_source(before[name])
        check(src is not None, f"{name} keeps its source selected without the broker: {now}")
        check(src["sample_time_s"] > old["sample_time_s"],
              f"{name} keeps polling without the broker: {src} (before: {old})")
    start_broker(nanotimed, work)
    back = wait("every member subscribed again",
                lambda: (lambda f: f if all(f.get(m, {}).get("connected") for m in MEMBERS)
                         else None)(fleet(monitor)), 30)
    print(f"broker killed and restarted: members back {time.monotonic() - killed:.1f} s after "
          f"the kill")
    # The state survived: the tokens still work (the monitor just listed the
    # fleet), the members are the same, the audit log still has the makestep.
    check(sorted(back) == sorted(members), f"members after the restart: {sorted(back)}")
    after = audit(admin)
    check(after is not None and len(after) >= len(entries) and
          any(e["action"] == "relay makestep" and e["target"] == "m2" for e in after),
          "the audit log survives the restart")
    for name in MEMBERS:
        tracking = monitor.json("--member", name, "tracking")
        check(tracking.get("stratum") == 2, f"{name} through the restarted broker: {tracking}")
        check(procs[name].poll() is None, f"{name} still running")
    r = operator.run("--member", "m3", "delete", spare)
    check(f"{spare}: added at run time, removed from {work}/m3-sources.toml" in r.stdout,
          f"delete through the broker: {r.stdout} {r.stderr}")
    names = [s["name"] for s in monitor.json("--member", "m3", "sources")["sources"]]
    check(spare not in names and HUB_IP in names, f"m3 after the delete: {names}")
    check(spare not in open(f"{work}/m3-sources.toml").read(), "m3's file after the delete")
    print(f"add and delete of {spare} on m3 through the broker: done, kept, audited")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
