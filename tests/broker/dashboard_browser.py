#!/usr/bin/env python3
"""The broker's dashboard in a real headless Chromium (Debian's), end to end.

A real nanotimed as broker on loopback (broker_e2e.py's set-up: its CA, a
bootstrap admin token), two fake members speaking PROTOCOL.md over mutual
TLS with certificates issued through the API and sending state with
changing offsets, and Chromium, through Selenium and chromedriver, opening
https://localhost:PORT/dashboard/ with the test CA trusted in a fresh NSS
database (no certificate errors ignored). The test types a monitor token
into the page and checks: a wrong token is refused; the fleet table lists
both members with their host, version, sync state, stratum, offset,
frequency, selected source and health; a new offset from a member shows in
the table and the chart live (the DOM changes, the new values are asserted);
a member that goes away turns offline; the page broke no Content-Security-
Policy rule. A screenshot goes to ARTIFACT.

usage: dashboard_browser.py NANOTIMED WORKDIR SECCOMP ARTIFACT
(exit 0 PASS, 1 FAIL, 77 skip: no chromium, chromedriver, selenium or certutil)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker_e2e as e2e  # noqa: E402  (the broker set-up and the frame helpers)
from broker_e2e import check, fail  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 10  # for any one DOM change


def skip(why):
    print("SKIP: " + why)
    raise SystemExit(77)


class FakeMember:
    """A member over mutual TLS: hello, then a state message every 0.3 s
    carrying the current tracking values, until stopped."""

    def __init__(self, broker, name, synchronized, offset_s, frequency_ppm):
        self.name = name
        self.lock = threading.Lock()
        self.synchronized = synchronized
        self.offset_s, self.frequency_ppm = offset_s, frequency_ppm
        self.sock = e2e.subscribe(broker, name, name)
        self.seq = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def set(self, offset_s, frequency_ppm):
        with self.lock:
            self.offset_s, self.frequency_ppm = offset_s, frequency_ppm

    def state(self):
        with self.lock:
            self.seq += 1
            return {"type": "state", "seq": self.seq, "data": {
                "status": {"synchronized": self.synchronized, "stratum": 2, "leap": "none",
                           "discipline": {"faults": []}},
                "tracking": {"reference_id": "192.0.2.1", "reference_name": "ref.example",
                             "stratum": 2, "system_offset_s": self.offset_s,
                             "frequency_ppm": self.frequency_ppm},
                "sources": {"sources": [
                    {"name": "other.example", "state": "candidate"},
                    {"name": f"gps-{self.name}", "state": "selected"}]}}}

    def run(self):
        while not self.stop.is_set():
            try:
                self.sock.sendall(e2e.frame(self.state()))
            except OSError:
                return
            self.stop.wait(0.3)

    def leave(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def trust_ca(home, ca_pem):
    """A fresh NSS database in HOME trusting the test CA for TLS servers:
    Chromium on Linux reads $HOME/.pki/nssdb."""
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", "nanotime test broker CA",
                    "-t", "C,,", "-i", ca_pem], check=True, capture_output=True)


def start_chromium(home):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", f"--user-data-dir={home}/profile", "--window-size=1400,1000",
                "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"]:
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = dict(os.environ, HOME=home)
    return webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=options)


def run(broker, artifact, home):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    admin = broker.mint("root", "admin")
    broker.start()
    status, _, body = broker.call("POST", "/v1/tokens", {"name": "wall", "role": "monitor"},
                                  token=admin)
    check(status == 201, f"monitor token: {status} {body}")
    monitor = body["token"]
    for name in ["ntp1", "ntp2"]:
        status, _, body = broker.call("POST", "/v1/certificates",
                                      {"name": name, "role": "member", "days": 2}, token=admin)
        check(status == 201, f"member certificate: {status} {body}")
        with open(f"{broker.work}/{name}.crt", "w") as f:
            f.write(body["certificate"])
        with open(f"{broker.work}/{name}.key", "w") as f:
            f.write(body["private_key"])
    ntp1 = FakeMember(broker, "ntp1", True, 1.5e-6, 12.25)
    ntp2 = FakeMember(broker, "ntp2", False, -0.0025, -3.5)

    trust_ca(home, f"{broker.work}/ca.crt")
    driver = start_chromium(home)
    try:
        wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.05)

        def cell(member, column):
            return driver.find_element(By.CSS_SELECTOR, f'tr[data-member="{member}"] td.{column}')

        def wait_for(what, predicate):
            try:
                return wait.until(lambda d: predicate())
            except Exception as e:  # TimeoutException, or the element not there yet
                fail(f"{what}: not within {WAIT_S} s ({type(e).__name__}); page: " +
                     driver.find_element(By.TAG_NAME, "body").text[:2000])

        def text_of(member, column):
            try:
                return cell(member, column).text
            except Exception:
                return None

        driver.get(f"https://localhost:{broker.port}/dashboard/")
        check(driver.title == "nanotime broker", f"title: {driver.title!r} (TLS trust?)")
        # No client certificate in this browser: the page asks for a token.
        login = driver.find_element(By.ID, "login")
        wait_for("the token form", login.is_displayed)
        driver.find_element(By.ID, "token").send_keys("nt1.1.wrong")
        driver.find_element(By.ID, "login-button").click()
        wait_for("a wrong token refused",
                 lambda: "refused" in driver.find_element(By.ID, "login-error").text)
        driver.find_element(By.ID, "token").send_keys(monitor)
        driver.find_element(By.ID, "login-button").click()
        wait_for("the live stream", lambda: driver.find_element(By.ID, "connection")
                 .get_attribute("data-state") == "live")
        check(driver.find_element(By.ID, "whoami").text == "wall (monitor)",
              "whoami: " + driver.find_element(By.ID, "whoami").text)

        # The fleet table: both members and everything they reported.
        wait_for("ntp1's offset", lambda: text_of("ntp1", "offset") == "+1.500 µs")
        wait_for("ntp2's offset", lambda: text_of("ntp2", "offset") == "−2.500 ms")
        expected = {
            "ntp1": {"host": "ntp1.example", "version": "e2e", "sync": "synchronised",
                     "stratum": "2", "frequency": "+12.250 ppm", "source": "gps-ntp1",
                     "health": "ok"},
            "ntp2": {"host": "ntp2.example", "version": "e2e", "sync": "unsynchronised",
                     "stratum": "2", "frequency": "−3.500 ppm", "source": "gps-ntp2",
                     "health": "unsynchronised"},
        }
        for member, columns in expected.items():
            for column, want in columns.items():
                wait_for(f"{member} {column} = {want!r} (is {text_of(member, column)!r})",
                         lambda: text_of(member, column) == want)
            check(text_of(member, "seen").startswith("connected"),
                  f"{member} seen: {text_of(member, 'seen')}")
        names = [r.get_attribute("data-member")
                 for r in driver.find_elements(By.CSS_SELECTOR, "#fleet-body tr")]
        check(names == ["ntp1", "ntp2"], f"table rows: {names}")

        # Live: a new offset and frequency from ntp1 reach the table and the charts.
        chart = driver.find_element(By.CSS_SELECTOR,
                                    '.chart-card[data-member="ntp1"] svg.chart.offset')
        points_before = int(chart.get_attribute("data-points"))
        check(points_before >= 1, f"the offset chart has {points_before} points")
        ntp1.set(-4.75e-6, 12.5)
        wait_for("ntp1's new offset in the table",
                 lambda: text_of("ntp1", "offset") == "−4.750 µs")
        check(cell("ntp1", "offset").get_attribute("data-value") == "-0.00000475",
              "data-value: " + cell("ntp1", "offset").get_attribute("data-value"))
        wait_for("ntp1's new frequency", lambda: text_of("ntp1", "frequency") == "+12.500 ppm")
        wait_for("ntp1's offset chart", lambda: chart.get_attribute("data-last") == "-0.00000475")
        freq_chart = driver.find_element(By.CSS_SELECTOR,
                                         '.chart-card[data-member="ntp1"] svg.chart.frequency')
        wait_for("ntp1's frequency chart", lambda: freq_chart.get_attribute("data-last") == "12.5")
        check(int(chart.get_attribute("data-points")) > points_before, "the chart grew")
        trace = chart.find_element(By.CSS_SELECTOR, "polyline.trace").get_attribute("points")
        check(len(trace.split()) == int(chart.get_attribute("data-points")),
              f"the trace has a point per sample: {trace}")
        check(chart.find_element(By.CSS_SELECTOR, "text.min").text == "−4.750 µs",
              "chart minimum label: " + chart.find_element(By.CSS_SELECTOR, "text.min").text)

        # A member that goes away turns offline.
        ntp2.leave()
        wait_for("ntp2 offline", lambda: text_of("ntp2", "health") == "offline")
        check(text_of("ntp2", "seen").startswith("last seen"),
              f"ntp2 seen: {text_of('ntp2', 'seen')}")
        check("ntp2 disconnected" in driver.find_element(By.ID, "events").text,
              "events: " + driver.find_element(By.ID, "events").text)

        os.makedirs(os.path.dirname(artifact), exist_ok=True)
        check(driver.save_screenshot(artifact), "screenshot")
        violations = [e["message"] for e in driver.get_log("browser")
                      if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
        check(not violations, f"CSP violations: {violations}")
    finally:
        driver.quit()
        ntp1.leave()
    broker.stop()


def main():
    nanotimed, workdir, seccomp, artifact = sys.argv[1:5]
    for program in [CHROMIUM, CHROMEDRIVER]:
        if not os.access(program, os.X_OK):
            skip(f"no {program} (apt-get install chromium chromium-driver)")
    for program in ["openssl", "certutil"]:
        if shutil.which(program) is None:
            skip(f"no {program} command")
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip("no selenium (apt-get install python3-selenium)")
    started = time.monotonic()
    os.makedirs(workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="dashboard-", dir=os.path.abspath(workdir))
    home = os.path.join(work, "home")
    e2e.make_ca(work, "ca")
    e2e.make_leaf(work, "ca", "server", "serverAuth")
    broker = e2e.Broker(nanotimed, work, seccomp)
    try:
        run(broker, artifact, home)
    finally:
        if broker.proc and broker.proc.poll() is None:
            broker.proc.kill()
    shutil.rmtree(work, ignore_errors=True)
    print(f"PASS in {time.monotonic() - started:.1f} s; screenshot {artifact}")


if __name__ == "__main__":
    main()
