#!/usr/bin/env bash
# run-interop.sh SCENARIO BACKEND NANOTIMED NANOTIMECTL WORKDIR SECCOMP
#
# nanotimed against real NTP implementations from Debian, in two network
# namespaces this script creates and removes: "up" (10.201.0.1/24,
# fd00:201::1/64) and "dn" (10.201.0.2/24, fd00:201::2/64), joined by a veth
# pair. Nothing else is addressed, and no peer can touch the host's clock:
# every process runs without CAP_SYS_TIME (setpriv), chronyd with -x,
# ntpd with "disable ntp"/"disable kernel", nanotimed with clock.adjust = false.
#
# Scenarios (BACKEND: io_uring or poll, the nanotimed event loop):
#   chronyd-server  nanotimed (dn) synchronises to chronyd (up, local stratum 1)
#                   over IPv4 (by host name, from the namespace's own hosts
#                   file) and IPv6
#   ntpd-server     nanotimed (dn) synchronises to NTPsec's ntpd (up, orphan
#                   stratum 5)
#   chronyd-client  chronyd -Q (up) measures nanotimed (dn), which serves
#                   what it takes from chronyd (up)
#   ntpdig-client   ntpdig (up) queries nanotimed (dn), ditto
#   chronyd-xleave-server
#                   nanotimed (dn) with xleave = true follows chronyd (up):
#                   its newest samples must be interleaved, with kernel
#                   TX/RX stamps (nanotimectl sources)
#   chronyd-xleave-client
#                   a chronyd client (up) polls nanotimed (dn) every 0.25 s
#                   at two addresses, one with xleave: chronyc ntpdata must
#                   show the xleave one interleaved with kernel stamps, and
#                   nanotimed must count interleaved replies; the offset RMS
#                   and delay jitter of both (chronyd's measurements log)
#                   are printed side by side
#   chronyd-views   nanotimed (dn) and a chronyd stratum 2 beside it (dn,
#                   10.201.0.4) both follow chronyd (up); a chronyd client
#                   (up, 10.201.0.3) polls both. The root delay and
#                   dispersion nanotimed serves, as that client sees them
#                   (chronyc ntpdata), must be within 2x of the chronyd
#                   stratum 2's, and nanotimectl's sources, sourcestats and
#                   tracking must agree with chronyc's view of the same
#                   upstream from the stratum 2
# Every scenario captures the veth traffic in dn with tshark and requires
# that each packet decodes as NTP without malformed or warning-level expert
# items, in both directions. Figures (offsets, delays) are printed as
# "interop: ..." lines.
#
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or a peer is missing).
set -euo pipefail

scenario=$1 backend=$2 nanotimed=$3 nanotimectl=$4 workroot=$5 seccomp=${6:-enforce}
here=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=interop-common.sh
. "$here/interop-common.sh"

case $scenario in
chronyd-server | chronyd-client | ntpdig-client | ntpd-server | chronyd-views | \
	chronyd-xleave-server | chronyd-xleave-client) ;;
*) fail "unknown scenario $scenario" ;;
esac
if [ "$scenario" = ntpdig-client ]; then
	command -v ntpdig >/dev/null || skip "ntpdig not installed (Debian package ntpsec-ntpdig)"
fi

interop_prepare
make_namespaces

start_chronyd_server() {
	cat >"$work/chronyd-server.conf" <<-CONF
		local stratum 1
		allow 10.201.0.0/24
		allow fd00:201::/64
		cmdport 0
		bindcmdaddress /
		pidfile $work/chronyd-server.pid
	CONF
	start_chronyd "$ns_up" server
}

# Checks nanotimed's view of its sources: |offset| < 1 ms (one host clock),
# delay < 10 ms, t1 from kernel TX timestamps; prints the figures.
check_sources() {
	ctl sources >"$work/sources.json"
	ctl sourcestats >"$work/sourcestats.json"
	ctl status >"$work/status.json"
	python3 - "$work/sources.json" "$work/sourcestats.json" "$work/status.json" \
		"$scenario/$backend" <<-'PY' || fail "source figures out of bounds"
		import json, sys
		src = json.load(open(sys.argv[1]))["sources"]
		stats = json.load(open(sys.argv[2]))["sourcestats"]
		st = json.load(open(sys.argv[3]))
		ok = True
		for s, t in zip(src, stats):
		    print(f"interop: {sys.argv[4]}: nanotimed -> {s['name']} ({s['address']}): state {s['state']}, "
		          f"stratum {s['stratum']}, offset {s['offset_s']*1e6:+.1f} us, "
		          f"delay {s['delay_s']*1e6:.1f} us, jitter {s['jitter_s']*1e6:.1f} us, "
		          f"{t['kernel_tx_timestamps']}/{t['requests']} requests with kernel TX stamps")
		    if abs(s["offset_s"]) > 1e-3 or not (0 <= s["delay_s"] < 0.01):
		        ok = False
		    if t["kernel_tx_timestamps"] == 0:
		        print("no kernel TX timestamp was used", file=sys.stderr)
		        ok = False
		if not any(s["state"] == "selected" for s in src):
		    print("no source selected", file=sys.stderr)
		    ok = False
		print(f"interop: {sys.argv[4]}: nanotimed stratum {st['stratum']}, refid {st['reference_id']}, "
		      f"io {st['io_backend']}, TAI-UTC {st['tai_offset']} s from the leap file")
		if st["io_backend"] != sys.argv[4].split("/")[1]:
		    print("wrong I/O backend", file=sys.stderr)
		    ok = False
		sys.exit(0 if ok else 1)
	PY
}

chronyd=
if [ "$scenario" != ntpd-server ]; then
	chronyd=$(peer_binary chronyd chrony) || skip "no chronyd (apt-get download chrony failed)"
fi

case $scenario in
chronyd-server)
	start_chronyd_server
	# A host name, so that the resolver thread runs (under seccomp).
	hosts_file "$ns_dn" "10.201.0.1 upstream.nanotime.test"
	start_nanotimed upstream.nanotime.test fd00:201::1
	wait_synchronised 2
	check_sources
	grep -q '"stratum": *2' "$work/status.json" || fail "nanotimed is not at stratum 2"
	;;
ntpd-server)
	start_ntpd_server
	start_nanotimed 10.201.0.1
	wait_synchronised 1
	check_sources
	grep -q '"stratum": *6' "$work/status.json" || fail "nanotimed is not at stratum 6"
	;;
chronyd-client)
	start_chronyd_server
	start_nanotimed 10.201.0.1
	wait_synchronised 1
	# chronyd -Q: measure, print, never set the clock; no server ports. It
	# sends from 10.201.0.3 so that its address is not nanotimed's refid.
	ip -n "$ns_up" addr add 10.201.0.3/24 dev veth-up
	cat >"$work/chronyd-client.conf" <<-CONF
		server 10.201.0.2 iburst minpoll 0 maxpoll 1
		bindacqaddress 10.201.0.3
		cmdport 0
		bindcmdaddress /
		pidfile $work/chronyd-client.pid
	CONF
	in_up "${noclock[@]}" timeout 30 "$chronyd" -Q -d -u root -f "$work/chronyd-client.conf" \
		>"$work/chronyd-client.log" 2>&1 || fail "chronyd -Q failed"
	line=$(grep -o 'System clock wrong by [-+0-9.e]* seconds' "$work/chronyd-client.log") ||
		fail "chronyd -Q measured nothing"
	offset=$(echo "$line" | awk '{print $5}')
	note "chronyd -Q -> nanotimed: offset $offset s"
	python3 -c "import sys; sys.exit(0 if abs(float('$offset')) < 1e-3 else 1)" ||
		fail "chronyd measured nanotimed $offset s off"
	;;
ntpdig-client)
	start_chronyd_server
	start_nanotimed 10.201.0.1
	wait_synchronised 1
	# ntpdig stamps in Python, so a loaded host adds milliseconds of noise to
	# one sample: three queries per address, every one within 10 ms and the
	# best within 1 ms.
	for server in 10.201.0.2 fd00:201::2; do
		: >"$work/ntpdig.json"
		for _ in 1 2 3; do
			in_up "${noclock[@]}" ntpdig -j -t 3 "$server" >>"$work/ntpdig.json" 2>"$work/ntpdig.log" ||
				fail "ntpdig $server failed"
		done
		python3 - "$work/ntpdig.json" "$scenario/$backend" "$server" <<-'PY' || fail "ntpdig: bad answer"
			import json, sys
			rs = [json.loads(l) for l in open(sys.argv[1]).read().split("\n") if l.strip()]
			offs = [r["offset"] for r in rs]
			print(f"interop: {sys.argv[2]}: ntpdig -> nanotimed [{sys.argv[3]}]: offsets "
			      + ", ".join(f"{o*1e6:+.1f}" for o in offs)
			      + f" us, stratum {rs[0]['stratum']}, leap {rs[0]['leap']}")
			ok = (len(rs) == 3 and all(r["stratum"] == 2 for r in rs)
			      and all(abs(o) < 10e-3 for o in offs) and min(abs(o) for o in offs) < 1e-3)
			sys.exit(0 if ok else 1)
		PY
	done
	;;
chronyd-xleave-server)
	start_chronyd_server
	nt_source_extra='xleave = true' nt_maxpoll=3 start_nanotimed 10.201.0.1
	wait_synchronised 1
	# Two more polls (8 s) so that the newest samples are interleaved ones.
	sleep 17
	ctl sources >"$work/sources.json"
	ctl sourcestats >"$work/sourcestats.json"
	in_dn "$nanotimectl" -s "$work/nanotimed.sock" sources | sed 's/^/interop: /'
	python3 - "$work/sources.json" "$work/sourcestats.json" "$scenario/$backend" <<-'PY' ||
		import json, sys
		s = json.load(open(sys.argv[1]))["sources"][0]
		t = json.load(open(sys.argv[2]))["sourcestats"][0]
		print(f"interop: {sys.argv[3]}: nanotimed xleave -> chronyd: {t['interleaved']} of "
		      f"{t['replies']} samples interleaved; newest: interleaved {s['last_interleaved']}, "
		      f"TX {s['tx_timestamp_source']}, RX {s['rx_timestamp_source']}, "
		      f"offset {s['offset_s'] * 1e6:+.1f} us, delay {s['delay_s'] * 1e6:.1f} us")
		ok = (t["interleaved"] >= 2 and s["last_interleaved"] and s["tx_timestamp_source"] == "kernel"
		      and s["rx_timestamp_source"] == "kernel" and abs(s["offset_s"]) < 1e-3)
		sys.exit(0 if ok else 1)
	PY
		fail "nanotimed's samples from chronyd are not interleaved"
	;;
chronyd-xleave-client)
	rundir=$(mktemp -d /tmp/nt-iop.XXXXXX)
	mkdir -m 700 "$rundir/client"
	chmod 700 "$rundir"
	client_sock=$rundir/client/chronyd.sock
	ip -n "$ns_dn" addr add 10.201.0.5/24 dev veth-dn
	ip -n "$ns_up" addr add 10.201.0.3/24 dev veth-up
	start_chronyd_server
	# Two addresses, so that one chronyd polls the same server both ways;
	# 8 requests a second from one client: no rate limit.
	nt_listen='"10.201.0.2:123", "10.201.0.5:123"' nt_rate_limit='enabled = false' \
		start_nanotimed 10.201.0.1
	wait_synchronised 1
	cat >"$work/chronyd-client.conf" <<-CONF
		server 10.201.0.2 xleave minpoll -2 maxpoll -2
		server 10.201.0.5 minpoll -2 maxpoll -2
		bindacqaddress 10.201.0.3
		port 0
		cmdport 0
		bindcmdaddress $client_sock
		logdir $work
		log measurements
		pidfile $work/chronyd-client.pid
	CONF
	start_chronyd "$ns_up" client -4
	sleep 20
	in_up chronyc -h "$client_sock" -n ntpdata >"$work/ntpdata.txt" 2>>"$work/chronyc.log" ||
		fail "chronyc ntpdata failed"
	ctl serverstats >"$work/serverstats.json"
	python3 - "$work/ntpdata.txt" "$work/measurements.log" "$work/serverstats.json" \
		"$scenario/$backend" <<-'PY' || fail "no interleaved exchanges with nanotimed"
		import json, math, re, statistics, sys
		blocks = open(sys.argv[1]).read().split("\n\n")
		data = {}
		for b in blocks:
		    m = re.search(r"Remote address\s*:\s*(\S+)", b)
		    if m:
		        data[m.group(1)] = dict(re.findall(r"^(.+?)\s*:\s*(.*)$", b, re.M))
		tag = sys.argv[4]
		ok = True
		for addr, want in (("10.201.0.2", "Yes"), ("10.201.0.5", "No")):
		    d = data.get(addr, {})
		    print(f"interop: {tag}: chronyc ntpdata {addr}: Interleaved {d.get('Interleaved')}, "
		          f"TX timestamping {d.get('TX timestamping')}, RX timestamping {d.get('RX timestamping')}, "
		          f"valid RX {d.get('Total valid RX')}/{d.get('Total TX')}")
		    if d.get("Interleaved") != want:
		        print(f"{addr}: Interleaved is {d.get('Interleaved')}, want {want}", file=sys.stderr)
		        ok = False
		    if d.get("TX timestamping") != "Kernel":
		        print(f"{addr}: TX timestamping {d.get('TX timestamping')}", file=sys.stderr)
		        ok = False
		# measurements.log: date time address leap stratum tests(3) polls(2)
		# score offset delay dispersion root-delay root-dispersion refid
		# mode+B/I local-TX-source local-RX-source
		rows = {}
		for line in open(sys.argv[2]):
		    f = line.split()
		    if len(f) < 20 or not re.match(r"\d{4}-", f[0]):
		        continue
		    rows.setdefault(f[2], []).append((float(f[11]), float(f[12]), f[17][1:] + f[18]))
		for addr, name in (("10.201.0.5", "basic"), ("10.201.0.2", "interleaved")):
		    r = rows.get(addr, [])[4:]  # past the start
		    if len(r) < 20:
		        print(f"{addr}: {len(r)} measurements", file=sys.stderr)
		        ok = False
		        continue
		    offs = [x[0] for x in r]
		    dels = [x[1] for x in r]
		    modes = ",".join(sorted(set(x[2] for x in r)))
		    print(f"interop: {tag}: chronyd -> nanotimed {name} ({addr}): {len(r)} samples, modes {modes}, "
		          f"offset RMS {math.sqrt(sum(o * o for o in offs) / len(offs)) * 1e6:.2f} us, "
		          f"delay mean {statistics.mean(dels) * 1e6:.2f} us, "
		          f"delay jitter (std dev) {statistics.pstdev(dels) * 1e6:.2f} us")
		s = json.load(open(sys.argv[3]))
		print(f"interop: {tag}: nanotimed: {s['ntp_interleaved']} interleaved replies, "
		      f"{s['ntp_tx_stamps']} kernel TX stamps, {s['ntp_responded']} answered")
		if s["ntp_interleaved"] < 10 or s["ntp_tx_stamps"] < 10:
		    ok = False
		sys.exit(0 if ok else 1)
	PY
	;;
chronyd-views)
	t0=$SECONDS
	# chronyd's command sockets: in directories only root may enter (chronyd
	# insists), under a short path (chronyc binds DIR/chronyc.PID/RANDOM/sock,
	# which must fit in 108 bytes).
	rundir=$(mktemp -d /tmp/nt-iop.XXXXXX)
	mkdir -m 700 "$rundir/s2" "$rundir/client"
	chmod 700 "$rundir"
	s2_sock=$rundir/s2/chronyd.sock
	client_sock=$rundir/client/chronyd.sock
	ip -n "$ns_dn" addr add 10.201.0.4/24 dev veth-dn
	ip -n "$ns_up" addr add 10.201.0.3/24 dev veth-up
	start_chronyd_server
	# Both followers poll the upstream every 8 s.
	nt_maxpoll=3 start_nanotimed 10.201.0.1
	# The chronyd stratum 2: -x (the host clock is shared), IPv4 only, its
	# own address, so that its server socket and nanotimed's do not meet.
	cat >"$work/chronyd-s2.conf" <<-CONF
		server 10.201.0.1 iburst minpoll 3 maxpoll 3
		bindaddress 10.201.0.4
		bindacqaddress 10.201.0.4
		allow 10.201.0.0/24
		cmdport 0
		bindcmdaddress $s2_sock
		pidfile $work/chronyd-s2.pid
	CONF
	start_chronyd "$ns_dn" s2 -4
	# Their client, polling both as often as they poll the upstream. It
	# serves nothing (port 0).
	cat >"$work/chronyd-client.conf" <<-CONF
		server 10.201.0.2 iburst minpoll 3 maxpoll 3
		server 10.201.0.4 iburst minpoll 3 maxpoll 3
		bindacqaddress 10.201.0.3
		port 0
		cmdport 0
		bindcmdaddress $client_sock
		pidfile $work/chronyd-client.pid
	CONF
	start_chronyd "$ns_up" client -4
	wait_synchronised 1
	# For ~45 s after nanotimed synchronised, every 2 s: what the client
	# received last from each (one reading per reply, told apart by the
	# reply count), and what each would serve now (their tracking views,
	# before the wire's 2^-16 s rounding).
	: >"$work/ntpdata.txt"
	: >"$work/chronyc-tracking-series.csv"
	end=$((SECONDS + 45)) i=0
	while [ "$SECONDS" -lt "$end" ]; do
		in_up chronyc -h "$client_sock" -n ntpdata >>"$work/ntpdata.txt" 2>>"$work/chronyc.log" || true
		echo "==" >>"$work/ntpdata.txt"
		ctl tracking >"$work/tracking-$i.json" 2>/dev/null || rm -f "$work/tracking-$i.json"
		in_dn chronyc -h "$s2_sock" -n -c tracking >>"$work/chronyc-tracking-series.csv" \
			2>>"$work/chronyc.log" || true
		i=$((i + 1))
		sleep 2
	done
	# The views of both followers of the upstream, back to back.
	ctl sources >"$work/sources.json"
	ctl sourcestats >"$work/sourcestats.json"
	ctl tracking >"$work/tracking.json"
	ctl status >"$work/status.json"
	ctl kernel >"$work/kernel.json"
	for v in sources sourcestats tracking; do
		in_dn chronyc -h "$s2_sock" -n -c "$v" >"$work/chronyc-$v.csv" 2>>"$work/chronyc.log" ||
			fail "chronyc $v on the chronyd stratum 2 failed"
	done
	in_up chronyc -h "$client_sock" -n ntpdata >>"$work/ntpdata.txt" 2>>"$work/chronyc.log" || true
	in_dn "$nanotimectl" -s "$work/nanotimed.sock" sources | sed 's/^/interop: /'
	in_dn "$nanotimectl" -s "$work/nanotimed.sock" sourcestats | sed 's/^/interop: /'
	in_dn "$nanotimectl" -s "$work/nanotimed.sock" tracking | sed 's/^/interop: /'
	python3 - "$work" "$scenario/$backend" <<-'PY' || fail "nanotimed's served or shown figures disagree with chronyd's"
		import csv, json, re, statistics, sys
		work, tag = sys.argv[1], sys.argv[2]
		ok = True
		def say(msg):
		    print(f"interop: {tag}: {msg}")
		def bad(msg):
		    global ok
		    ok = False
		    print(f"interop: {tag}: FAIL {msg}", file=sys.stderr)
		us = lambda s: f"{s * 1e6:.1f} us"

		# (a) Served root delay and dispersion, as the chronyd client saw
		# each reply of either server (chronyc ntpdata, one reading per
		# reply), synchronised replies only.
		replies = {"10.201.0.2": {}, "10.201.0.4": {}}
		for block in re.split(r"\n\s*\n|==\n", open(f"{work}/ntpdata.txt").read()):
		    f = dict(re.findall(r"^([A-Za-z][A-Za-z .]*?)\s*: (.*)$", block, re.M))
		    addr = f.get("Remote address", "").split(" ")[0]
		    if addr not in replies or "Total RX" not in f:
		        continue
		    if int(f["Stratum"]) != 2 or f["Leap status"] != "Normal":
		        continue
		    replies[addr][int(f["Total RX"])] = (float(f["Root delay"].split()[0]),
		                                         float(f["Root dispersion"].split()[0]))
		nt, s2 = list(replies["10.201.0.2"].values()), list(replies["10.201.0.4"].values())
		if len(nt) < 3 or len(s2) < 3:
		    bad(f"too few synchronised replies seen by the client: nanotimed {len(nt)}, chronyd {len(s2)}")
		    sys.exit(1)
		def series(name, values):
		    say(f"{name}: " + ", ".join(f"{v * 1e6:.0f}" for v in values) + " us")
		for i, what in ((0, "root delay"), (1, "root dispersion")):
		    a = [v[i] for v in nt]
		    b = [v[i] for v in s2]
		    series(f"served {what}, nanotimed (all {len(a)} replies)", a)
		    series(f"served {what}, chronyd stratum 2 (all {len(b)} replies)", b)
		    ma, mb = statistics.median(a), statistics.median(b)
		    say(f"served {what}: median nanotimed {us(ma)}, chronyd stratum 2 {us(mb)}, "
		        f"ratio {ma / mb:.2f}; max {us(max(a))} vs {us(max(b))}")
		    # Within 2x of chronyd both ways (the wire's 15.3 us unit of
		    # slack: both are rounded to it).
		    q = 1 / 65536
		    if not (mb / 2 - q <= ma <= 2 * mb + q):
		        bad(f"{what}: nanotimed serves {us(ma)}, not within 2x of chronyd's {us(mb)}")
		    if max(a) > 2 * max(b) + q:
		        bad(f"{what}: nanotimed's worst {us(max(a))} beyond 2x chronyd's worst {us(max(b))}")
		    if max(a) >= 5e-3:
		        bad(f"{what}: nanotimed served {us(max(a))}: the old 5 ms floor")

		# The same, unrounded: what each would serve at the same moments
		# (nanotimectl tracking, chronyc tracking), over the second half of
		# the window: chronyd's own first minute serves hundreds of us.
		ours = []
		for k in range(1000):
		    try:
		        t = json.load(open(f"{work}/tracking-{k}.json"))
		    except (OSError, ValueError):
		        continue
		    if t["stratum"] == 2:
		        ours.append((t["root_delay_s"], t["root_dispersion_s"]))
		theirs = [(float(r[10]), float(r[11])) for r in csv.reader(open(f"{work}/chronyc-tracking-series.csv"))
		          if len(r) > 13 and r[2] == "2" and r[13] == "Normal"]
		ours, theirs = ours[len(ours) // 2:], theirs[len(theirs) // 2:]
		if len(ours) < 5 or len(theirs) < 5:
		    bad(f"too few tracking readings: nanotimed {len(ours)}, chronyd {len(theirs)}")
		    sys.exit(1)
		for i, what in ((0, "root delay"), (1, "root dispersion")):
		    a = [v[i] for v in ours]
		    b = [v[i] for v in theirs]
		    series(f"{what} served now, nanotimed (last {len(a)} readings)", a)
		    series(f"{what} served now, chronyd stratum 2 (last {len(b)} readings)", b)
		    ma, mb = statistics.median(a), statistics.median(b)
		    say(f"{what} served now: median nanotimed {us(ma)}, chronyd stratum 2 {us(mb)}, ratio {ma / mb:.2f}")
		    # The same slack of one wire unit (15.3 us) as above: a few
		    # microseconds either way cannot reach a client. nanotimed's
		    # dispersion holds its offset estimate's standard deviation,
		    # chronyd's does not; on a loaded CI machine (sanitizer build)
		    # that alone doubled a 5 us figure (seen: 11.6 us against 5.1
		    # us), still far below one unit.
		    q = 1 / 65536
		    if not (mb / 2 - q <= ma <= 2 * mb + q):
		        bad(f"{what}: nanotimed would serve {us(ma)}, not within 2x of chronyd's {us(mb)}")

		# (b) nanotimectl against chronyc, both following the same
		# upstream on the same host clock. chronyc's offsets and source
		# frequencies are local minus source: the sign is flipped here.
		src = json.load(open(f"{work}/sources.json"))["sources"][0]
		sst = json.load(open(f"{work}/sourcestats.json"))["sourcestats"][0]
		trk = json.load(open(f"{work}/tracking.json"))
		st = json.load(open(f"{work}/status.json"))
		kern = json.load(open(f"{work}/kernel.json"))
		c_src = next(r for r in csv.reader(open(f"{work}/chronyc-sources.csv")) if r[2] == "10.201.0.1")
		c_sst = next(r for r in csv.reader(open(f"{work}/chronyc-sourcestats.csv")) if r[0] == "10.201.0.1")
		c_trk = next(csv.reader(open(f"{work}/chronyc-tracking.csv")))
		c_lastrx, c_meas = float(c_src[6]), -float(c_src[8])
		c_np, c_span, c_freq, c_skew, c_off, c_sd = (int(c_sst[1]), float(c_sst[3]), -float(c_sst[4]),
		                                            float(c_sst[5]), -float(c_sst[6]), float(c_sst[7]))
		c_last, c_tfreq, c_resid, c_tskew = -float(c_trk[5]), -float(c_trk[7]), -float(c_trk[8]), float(c_trk[9])
		c_rdelay, c_rdisp = float(c_trk[10]), float(c_trk[11])
		poll = 8.0

		say(f"sources: newest sample offset nanotimed {us(src['offset_s'])} (LastRx {src['last_rx_ago_s']:.1f} s), "
		    f"chronyd {us(c_meas)} (LastRx {c_lastrx:.0f} s)")
		# One sample each: their jitter, plus what queueing can do to one
		# sample (half its delay above the path's minimum), plus 20 us.
		noise = max(src["jitter_s"], sst["std_dev_s"]) + c_sd
		queued = max(0.0, src["delay_s"] - sst["min_delay_s"]) / 2
		if abs(src["offset_s"] - c_meas) > noise + queued + 20e-6:
		    bad(f"newest offsets differ by {us(src['offset_s'] - c_meas)} (> {us(noise + queued + 20e-6)})")
		if not (0 <= src["last_rx_ago_s"] <= poll + 1.5):
		    bad(f"nanotimed shows a sample {src['last_rx_ago_s']:.1f} s old: older than the last poll")
		if abs(src["last_rx_ago_s"] - c_lastrx) > poll + 1:
		    bad("LastRx differs by more than a poll")

		say(f"sourcestats: NP {sst['samples']} vs {c_np}, span {sst['span_s']:.0f} vs {c_span:.0f} s, "
		    f"frequency {sst['frequency_ppm']:+.3f} vs {c_freq:+.3f} ppm, skew {sst['skew_ppm']:.3f} vs {c_skew:.3f} ppm, "
		    f"offset {us(sst['offset_s'])} vs {us(c_off)}, std dev {us(sst['std_dev_s'])} vs {us(c_sd)}")
		skews = sst["skew_ppm"] + c_skew
		if abs(sst["frequency_ppm"] - c_freq) > 3 * skews + 0.05:
		    bad(f"residual frequencies differ by {sst['frequency_ppm'] - c_freq:+.3f} ppm (> 3 skews {3 * skews:.3f})")
		if abs(sst["offset_s"] - c_off) > sst["std_dev_s"] + c_sd + 20e-6:
		    bad(f"estimated offsets differ by {us(sst['offset_s'] - c_off)}")
		if not (sst["samples"] >= 4 and sst["span_s"] > 0):
		    bad("nanotimed's estimator holds too few samples")
		# Skew from ~6-10 samples over 45 s is itself noisy: on a loaded
		# machine (the suite runs tests in parallel) either daemon's may be
		# a few tenths of a ppm off while the other's is not; 0.5 ppm of
		# slack both ways (two helpers saw this fail once each under load).
		if not (c_skew / 20 - 0.5 <= sst["skew_ppm"] <= 20 * c_skew + 0.5):
		    bad(f"skew {sst['skew_ppm']:.3f} ppm is not within 20x (+-0.5 ppm) of chronyd's {c_skew:.3f}")
		if abs(sst["std_dev_s"] - c_sd) > 20e-6:
		    bad(f"std dev {us(sst['std_dev_s'])} vs chronyd's {us(c_sd)}")

		# chronyd -x starts from frequency 0 where the kernel's clock runs;
		# nanotimed's frequency is absolute: compare what each adds.
		t_freq = trk["frequency_ppm"] - kern["frequency_ppm"]
		say(f"tracking: system offset {us(trk['system_offset_s'])} ({trk['system_offset_age_s']:.1f} s ago) vs chronyd "
		    f"last offset {us(c_last)}; frequency {t_freq:+.3f} vs {c_tfreq:+.3f} ppm (over the kernel's), "
		    f"residual {trk['residual_frequency_ppm']:+.3f} vs {c_resid:+.3f} ppm, skew {trk['skew_ppm']:.3f} vs "
		    f"{c_tskew:.3f} ppm; root delay {us(trk['root_delay_s'])} vs {us(c_rdelay)}, root dispersion "
		    f"{us(trk['root_dispersion_s'])} vs {us(c_rdisp)} (as each serves it now)")
		if abs(trk["system_offset_s"] - c_last) > noise + 20e-6:
		    bad(f"system offsets differ by {us(trk['system_offset_s'] - c_last)}")
		if not (0 <= trk["system_offset_age_s"] <= poll + 1.5):
		    bad(f"the system offset is {trk['system_offset_age_s']:.1f} s old: older than the last poll")
		tskews = trk["skew_ppm"] + c_tskew
		if abs(t_freq - c_tfreq) > 3 * tskews + 0.05:
		    bad(f"tracking frequencies differ by {t_freq - c_tfreq:+.3f} ppm (> 3 skews {3 * tskews:.3f})")
		# The tracking view's root figures are the served ones: the last
		# reply the client saw carried them (wire unit and growth since).
		last = replies["10.201.0.2"][max(replies["10.201.0.2"])]
		grown = trk["root_dispersion_rate_ppm"] * 1e-6 * (poll + 4)
		q = 1 / 65536 + 1e-6
		say(f"tracking root delay {us(trk['root_delay_s'])}, dispersion {us(trk['root_dispersion_s'])}; "
		    f"the client's last reply from nanotimed {us(last[0])}, {us(last[1])}")
		if abs(trk["root_delay_s"] - last[0]) > q:
		    bad("tracking's root delay is not what nanotimed served")
		if not (last[1] - q - grown <= trk["root_dispersion_s"] <= last[1] + grown + q):
		    bad("tracking's root dispersion is not what nanotimed served")
		d = st["discipline"]
		say(f"status: discipline adjusting {d['adjusting']}, {d['updates']} updates, last {d['last_update_age_s']:.1f} s ago, "
		    f"faults {d['faults'] or 'none'}")
		if d["adjusting"] or d["faults"] or d["updates"] == 0:
		    bad("the discipline's status is not the watching, healthy one expected")
		sys.exit(0 if ok else 1)
	PY
	note "took $((SECONDS - t0)) s to here"
	;;
esac

check_capture
stop_nanotimed
echo "PASS: $scenario ($backend)"
