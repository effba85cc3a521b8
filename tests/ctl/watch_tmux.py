#!/usr/bin/env python3
"""`nanotimectl watch` on a real terminal: tmux (detached, fixed size).

watch_tmux.py NANOTIMED NANOTIMECTL WORKDIR SECCOMP

A real nanotimed (clock.adjust = false: the host clock is never touched)
with two sources, a stratum-1 responder on loopback (tests/broker-client's)
and a silent address, and a control socket in WORKDIR. nanotimectl watch
runs in a detached tmux session on its own tmux server; the screen is read
with `tmux capture-pane -p`. Checked: the header, every tracking label
`nanotimectl tracking` prints and both source rows; a new time on each
refresh; the daemon killed (the not-answering line, retrying) and
restarted (the views again); `q` exits 0 with the terminal restored (main
screen, cursor shown, `stty -g` as before). With --interval 30: no refresh
before its time; a smaller window laid out again at once (lines cut, the
hidden rows counted) and back, without asking the daemon; `r` refreshes at
once; SIGTERM restores the terminal too and ends by the signal (status 143
in the shell). Refused: stdout not a terminal, and --json. About 7 s.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "broker-client"))
from e2e_broker_client import Responder, check, fail, free_port  # noqa: E402

WIDE = (110, 45)   # columns, rows: the whole screen fits
SMALL = (50, 12)   # cuts lines and hides rows


class Tmux:
    """A tmux server of our own (-L), so that no user's session is touched."""

    def __init__(self, work):
        self.name = f"nanotime-watch-{os.getpid()}"
        # Its socket in the test's directory, not /tmp.
        self.env = dict(os.environ, TMUX_TMPDIR=work)
        self.conf = os.path.join(work, "tmux.conf")
        with open(self.conf, "w") as f:
            f.write("set -g default-terminal screen\n")

    def run(self, *args):
        got = subprocess.run(["tmux", "-L", self.name, "-f", self.conf, *args],
                             capture_output=True, text=True, env=self.env)
        check(got.returncode == 0, f"tmux {' '.join(args)}: {got.stderr}")
        return got.stdout

    def start(self, session, size, command):
        self.run("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
                 command)

    def screen(self, session):
        return self.run("capture-pane", "-p", "-t", session)

    def pane(self, session, fmt):
        return self.run("display-message", "-p", "-t", session, fmt).strip()

    def wait_for(self, session, predicate, what, timeout=10):
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(session)
            if predicate(text):
                return text
            time.sleep(0.1)
        fail(f"{what}: not on the screen within {timeout} s; it shows:\n{text}")

    def start_watch(self, session, work, watch):
        """@watch under a shell that notes the terminal's settings before and
        after it, prints its exit status and stays, so that the terminal it
        left is there to be read."""
        self.start(session, WIDE,
                   f"stty -g > {work}/{session}.before; {watch}; echo \"watch exit status $?\"; "
                   f"stty -g > {work}/{session}.after; exec sleep 60")

    def check_restored(self, session, work, status):
        """After watch ended with exit @status: the main screen, the cursor
        shown, the terminal's settings as before."""
        text = self.wait_for(session, lambda t: "watch exit status" in t, "watch's end", 5)
        check(f"watch exit status {status}" in text, f"watch's exit status is not {status}:\n{text}")
        check("Reference ID" not in text, f"the watch screen is left behind:\n{text}")
        flags = self.pane(session, "#{alternate_on} #{cursor_flag}")
        check(flags == "0 1", f"after watch: alternate screen {flags[0]}, cursor shown {flags[2]}")
        time.sleep(0.2)
        with open(f"{work}/{session}.before") as before, open(f"{work}/{session}.after") as after:
            check(before.read() == after.read(), "the terminal's settings (stty -g) changed")

    def watch_pid(self, session):
        shell = self.pane(session, "#{pane_pid}")
        got = subprocess.run(["pgrep", "-P", shell, "-x", "nanotimectl"], capture_output=True,
                             text=True)
        check(got.returncode == 0, f"no nanotimectl under the pane's shell {shell}")
        return int(got.stdout.split()[0])

    def kill(self):
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True,
                       env=self.env)


def header_time(text):
    m = re.search(r"\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d) UTC", text)
    check(m is not None, f"no time in the header:\n{text}")
    return m.group(1)


def start_daemon(nanotimed, conf, work):
    return subprocess.Popen([nanotimed, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=open(f"{work}/stderr", "a"))


def wait_answering(ctl, sock, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = subprocess.run([ctl, "-s", sock, "tracking"], capture_output=True, text=True)
        if got.returncode == 0:
            return got.stdout
        time.sleep(0.1)
    fail(f"nanotimed did not answer on {sock} within {timeout} s")


def main():
    nanotimed, ctl, workdir, seccomp = sys.argv[1:5]
    if shutil.which("tmux") is None:
        fail("tmux is not installed (scripts/packages.txt)")
    os.makedirs(workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="watch-", dir=os.path.abspath(workdir))
    sock = f"{work}/ctl.sock"
    responder = Responder()
    responder.start()
    silent_port = free_port(socket.SOCK_DGRAM)
    conf = f"{work}/nanotimed.toml"
    with open(conf, "w") as f:
        f.write(f"""[[source]]
server = "127.0.0.1"
port = {responder.port}
iburst = true
minpoll = 3
maxpoll = 3

[[source]]
server = "127.0.0.2"
port = {silent_port}
minpoll = 3
maxpoll = 3

[clock]
adjust = false
drift_file = ""

[control]
socket = "{sock}"

[log]
level = "info"
file = "{work}/log"

[service]
user = ""
seccomp = "{seccomp}"
""")
    started = time.monotonic()
    daemon = start_daemon(nanotimed, conf, work)
    tmux = Tmux(work)
    try:
        run_checks(tmux, nanotimed, ctl, conf, sock, work, daemon)
    finally:
        tmux.kill()
        for d in run_checks.daemons:
            if d.poll() is None:
                d.terminate()
                d.wait(10)
        responder.stop = True
    shutil.rmtree(work, ignore_errors=True)
    print(f"PASS in {time.monotonic() - started:.1f} s")


def run_checks(tmux, nanotimed, ctl, conf, sock, work, daemon):
    run_checks.daemons = [daemon]
    tracking = wait_answering(ctl, sock)
    labels = [line.split(":")[0].rstrip() for line in tracking.splitlines()]
    check(len(labels) >= 10, f"tracking has few lines:\n{tracking}")

    # stdout not a terminal: refused, and nothing drawn.
    got = subprocess.run([ctl, "-s", sock, "watch"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    check(got.returncode == 2 and "watch needs a terminal" in got.stderr and got.stdout == "",
          f"watch without a terminal: status {got.returncode}, {got.stderr!r} {got.stdout!r}")

    got = subprocess.run([ctl, "-s", sock, "--json", "watch"], capture_output=True, text=True)
    check(got.returncode == 2 and "--json tracking" in got.stderr,
          f"watch --json: status {got.returncode}, {got.stderr!r}")

    # The whole screen: header, the tracking view's labels, both sources.
    tmux.start_watch("main", work, f"{ctl} -s {sock} watch")
    text = tmux.wait_for("main", lambda t: "127.0.0.2" in t and "Leap status" in t,
                         "the tracking and sources views")
    check(socket.gethostname() in text.splitlines()[0], f"no host in the header:\n{text}")
    check(re.search(r"^nanotimed \S+  (not synchronised|synchronised to)", text, re.M),
          f"no daemon version and state in the header:\n{text}")
    for label in labels:
        check(re.search(r"^" + re.escape(label) + r"\s*:", text, re.M),
              f"tracking label {label!r} is not on the screen:\n{text}")
    check(re.search(r"^S Name/address\s+Kind", text, re.M), f"no sources table:\n{text}")
    for address in ("127.0.0.1", "127.0.0.2"):
        check(re.search(r"^[*+\-x?~] " + re.escape(address) + r"\s+server", text, re.M),
              f"no source row for {address}:\n{text}")

    # Refreshed: the header's time moves on.
    first = header_time(text)
    tmux.wait_for("main", lambda t: header_time(t) != first, "a refresh (a new time)", 4)

    # The daemon goes away: said, and retried until it is back.
    daemon.kill()
    daemon.wait(10)
    text = tmux.wait_for("main", lambda t: "daemon not answering: " in t,
                         "the not-answering line", 4)
    said = text.replace("\n", "")  # the reason is wrapped, not cut
    check(f"cannot connect to {sock}: Connection refused" in said or "No such file" in said,
          f"no reason:\n{text}")
    check("Reference ID" not in text, f"stale views shown as current:\n{text}")
    daemon = start_daemon(nanotimed, conf, work)
    run_checks.daemons.append(daemon)
    tmux.wait_for("main", lambda t: "Reference ID" in t and "not answering" not in t,
                  "the views after the daemon's restart", 10)

    # q: status 0, the terminal as it was (main screen, cursor shown).
    tmux.run("send-keys", "-t", "main", "q")
    tmux.check_restored("main", work, 0)

    # --interval 30: a resize re-lays out without asking the daemon; r asks at
    # once; SIGTERM: the terminal restored, then the signal.
    tmux.start_watch("slow", work, f"{ctl} -s {sock} watch --interval 30")
    text = tmux.wait_for("slow", lambda t: "Reference ID" in t, "the views (--interval 30)")
    first = header_time(text)
    time.sleep(1.1)
    check(header_time(tmux.screen("slow")) == first, "refreshed before --interval 30")
    # A smaller window: laid out again at once (not at the next refresh, 30 s
    # away), every line cut to it, the rows that do not fit counted.
    tmux.run("resize-window", "-t", "slow", "-x", str(SMALL[0]), "-y", str(SMALL[1]))
    text = tmux.wait_for("slow", lambda t: "more lines" in t, "the small layout", 4)
    lines = text.splitlines()
    check(len(lines) <= SMALL[1] and all(len(line) <= SMALL[0] for line in lines),
          f"the screen is larger than {SMALL}:\n{text}")
    check(lines[0].startswith(socket.gethostname()[:SMALL[0]]), f"the header is gone:\n{text}")
    tmux.run("resize-window", "-t", "slow", "-x", str(WIDE[0]), "-y", str(WIDE[1]))
    text = tmux.wait_for("slow", lambda t: "127.0.0.2" in t and "more lines" not in t,
                         "the wide layout again", 4)
    check(header_time(text) == first, f"asked the daemon again, not laid out again:\n{text}")
    tmux.run("send-keys", "-t", "slow", "r")
    tmux.wait_for("slow", lambda t: header_time(t) != first, "a refresh after r", 2)
    os.kill(tmux.watch_pid("slow"), signal.SIGTERM)
    tmux.check_restored("slow", work, 128 + signal.SIGTERM)


if __name__ == "__main__":
    main()
