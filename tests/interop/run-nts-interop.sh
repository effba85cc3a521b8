#!/usr/bin/env bash
# run-nts-interop.sh SCENARIO BACKEND NANOTIMED NANOTIMECTL WORKDIR SECCOMP
#
# nanotimed's NTS (RFC 8915: NTS-KE over TLS 1.3, then authenticated NTP)
# against chronyd 4.3 and NTPsec 1.2.2's ntpd, in the two network namespaces
# of interop-common.sh: "up" (10.201.0.1) and "dn" (10.201.0.2, nanotimed).
# The test makes one self-signed P-256 certificate for the names
# upstream.nanotime.test (10.201.0.1) and nanotimed.nanotime.test
# (10.201.0.2), which each namespace's own hosts file resolves; it is every
# peer's trust anchor. No process can touch the host's clock (see
# interop-common.sh).
#
# Scenarios (BACKEND: io_uring or poll, the nanotimed event loop):
#   nts-chronyd-server  chronyd (up, local stratum 1, NTS-KE + NTS) serves
#                       nanotimed (dn, NTS client): nanotimed synchronises;
#                       chronyc serverstats counts NTS-KE connections
#                       accepted and authenticated NTP packets
#   nts-chronyd-client  nanotimed (dn; NTS-KE + NTS server, following a
#                       plain chronyd on dn's loopback) serves chronyd (up,
#                       NTS client): chronyc authdata shows NTS with cookies
#                       and chronyc sources shows nanotimed selected
#   nts-ntpd-server     NTPsec ntpd (up, orphan stratum 5, nts enable)
#                       serves nanotimed (dn, NTS client): nanotimed
#                       synchronises at stratum 6; ntpd logs the NTS-KE
#   nts-ntpd-client     nanotimed as in nts-chronyd-client serves NTPsec
#                       ntpd (up, "server ... nts"): ntpd's peer status
#                       (peerstats) says authentic and system peer
#   nts-tamper          chronyd as NTS server with its NTP answered through
#                       a UDP relay (up, 10.201.0.9, named by chronyd's
#                       ntsntpserver) that flips one octet of the
#                       authenticator's tag in some replies and sends an
#                       old reply again before others: nanotimed counts each
#                       as rejected (authdata), uses none of them, and takes a
#                       sample from every other reply (also one that came
#                       right after a replay), synchronised
#   nts-rekey           chronyd as NTS server is restarted with new master
#                       keys (its ntsdumpdir emptied): nanotimed gets NTSN
#                       (authdata naks), runs NTS-KE again (key_exchanges >= 2)
#                       and goes on taking samples, synchronised
# Every scenario captures NTP on the veth in dn with tshark: every packet
# must decode as NTP without errors and carry an NTS authenticator, but for
# the NTSN replies of nts-rekey (unauthenticated, RFC 8915 §5.7), which
# must be there.
#
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or a peer is missing).
set -euo pipefail

scenario=$1 backend=$2 nanotimed=$3 nanotimectl=$4 workroot=$5 seccomp=${6:-enforce}
here=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=interop-common.sh
. "$here/interop-common.sh"

case $scenario in
nts-chronyd-server | nts-chronyd-client | nts-ntpd-server | nts-ntpd-client | nts-tamper | nts-rekey) ;;
*)
	echo "FAIL: unknown scenario $scenario" >&2
	exit 1
	;;
esac
command -v openssl >/dev/null || skip "openssl not installed"

interop_prepare
make_namespaces
hosts_file "$ns_dn" "10.201.0.1 upstream.nanotime.test"
hosts_file "$ns_up" "10.201.0.2 nanotimed.nanotime.test"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
	-out "$work/cert.pem" -days 2 -subj "/CN=nanotime.test" \
	-addext "subjectAltName=DNS:upstream.nanotime.test,DNS:nanotimed.nanotime.test" \
	>"$work/openssl.log" 2>&1 || fail "openssl could not make the certificate"
# chronyd's command sockets: in directories only root may enter (chronyd
# insists), under a short path (chronyc binds DIR/chronyc.PID/RANDOM/sock,
# which must fit in 108 bytes).
rundir=$(mktemp -d /tmp/nt-nts.XXXXXX)
chmod 700 "$rundir"
mkdir -m 700 "$rundir/server" "$rundir/client"

chronyd=$(peer_binary chronyd chrony) || skip "no chronyd (apt-get download chrony failed)"
chronyc=$(command -v chronyc || echo "$(dirname "$chronyd")/../bin/chronyc")

# nanotimed as an NTS client of upstream.nanotime.test (NTS-KE on 4460),
# trusting the test's certificate; polls every 8 s.
start_nanotimed_nts_client() {
	nt_maxpoll=3 nt_source_extra='nts = true' \
		nt_extra=$(printf '[nts]\ntrusted_ca = "%s"\nkey_file = "%s"\n' "$work/cert.pem" "$work/nts-keys") \
		start_nanotimed upstream.nanotime.test
}

# nanotimed as an NTS-KE (10.201.0.2:4460) and NTS server, following a
# plain chronyd (local stratum 1) on dn's loopback, port 11123.
start_nanotimed_nts_server() {
	cat >"$work/chronyd-upstream.conf" <<-CONF
		local stratum 1
		port 11123
		bindaddress 127.0.0.1
		allow 127.0.0.1
		cmdport 0
		bindcmdaddress /
		pidfile $work/chronyd-upstream.pid
	CONF
	start_chronyd "$ns_dn" upstream
	nt_source_extra='port = 11123' \
		nt_extra=$(printf '[nts_ke]\nlisten = ["10.201.0.2:4460"]\ncertificate = "%s"\nprivate_key = "%s"\n\n[nts]\nkey_file = "%s"\n' \
			"$work/cert.pem" "$work/key.pem" "$work/nts-keys") \
		start_nanotimed 127.0.0.1
}

# chronyd (up) as an NTS-KE and NTS server, local stratum 1, its master
# keys saved in $work/chrony-keys; EXTRA: more configuration lines.
start_chronyd_nts_server() {
	mkdir -p "$work/chrony-keys"
	cat >"$work/chronyd-server.conf" <<-CONF
		local stratum 1
		allow 10.201.0.0/24
		ntsserverkey $work/key.pem
		ntsservercert $work/cert.pem
		ntsdumpdir $work/chrony-keys
		cmdport 0
		bindcmdaddress $rundir/server/chronyd.sock
		pidfile $work/chronyd-server.pid
		${1:-}
	CONF
	start_chronyd "$ns_up" server
	chronyd_server_pid=$chronyd_pid
}

# The NTS counters (nanotimectl authdata) and the sample count of
# nanotimed's only source, as "rejected naks key_exchanges replies".
nts_counters() {
	ctl authdata >"$work/authdata.json"
	ctl sourcestats >"$work/sourcestats.json"
	python3 - "$work/authdata.json" "$work/sourcestats.json" <<-'PY'
		import json, sys
		a = json.load(open(sys.argv[1]))["authdata"][0]
		t = json.load(open(sys.argv[2]))["sourcestats"][0]
		print(a["rejected"], a["naks"], a["key_exchanges"], t["replies"])
	PY
}

# check_nts_source STRATUM [BOUND]: nanotimed's view of its one NTS source:
# selected, newest sample within 1 ms (or half its delay: one host clock),
# estimate and std dev within BOUND (default 1 ms), delay < 10 BOUND;
# authdata: NTS with AES-SIV-CMAC-256 (15), cookies, at least one NTS-KE;
# nanotimed at STRATUM. Prints the figures.
check_nts_source() {
	ctl sources >"$work/sources.json"
	ctl sourcestats >"$work/sourcestats.json"
	ctl status >"$work/status.json"
	ctl authdata >"$work/authdata.json"
	python3 - "$work/sources.json" "$work/sourcestats.json" "$work/status.json" \
		"$scenario/$backend" "$1" "$work/authdata.json" "${2:-1e-3}" <<-'PY' || fail "source figures out of bounds"
		import json, sys
		s = json.load(open(sys.argv[1]))["sources"][0]
		t = json.load(open(sys.argv[2]))["sourcestats"][0]
		st = json.load(open(sys.argv[3]))
		a = json.load(open(sys.argv[6]))["authdata"][0]
		print(f"interop: {sys.argv[4]}: nanotimed -> {s['name']} ({s['address']}): state {s['state']}, "
		      f"stratum {s['stratum']}, offset {s['offset_s']*1e6:+.1f} us, delay {s['delay_s']*1e6:.1f} us; "
		      f"{t['replies']}/{t['requests']} requests answered with a sample; NTS: "
		      f"mode {a['mode']}, AEAD {a['aead']}, {a['cookies']} cookies, "
		      f"{a['key_exchanges']} key exchanges, {a['rejected']} rejected, {a['naks']} NTSN; "
		      f"estimate {t['offset_s']*1e6:+.1f} us, std dev {t['std_dev_s']*1e6:.1f} us, "
		      f"{t['outliers']} outliers")
		bound = float(sys.argv[7])
		# One host clock: a sample is off by at most half its round trip.
		ok = (s["state"] == "selected" and 0 <= s["delay_s"] < 10 * bound
		      and abs(s["offset_s"]) < max(1e-3, s["delay_s"] / 2 + 1e-4)
		      and abs(t["offset_s"]) < bound and t["std_dev_s"] < bound
		      and s["nts"] and a["mode"] == "NTS" and a["aead"] == 15 and a["cookies"] > 0
		      and a["key_exchanges"] >= 1 and st["stratum"] == int(sys.argv[5]))
		sys.exit(0 if ok else 1)
	PY
}

# nanotimed's serverstats as an NTS server: NTS-KE connections accepted and
# keys issued, NTS requests answered with an authenticator, none dropped.
check_nts_serving() {
	ctl serverstats >"$work/serverstats.json"
	python3 - "$work/serverstats.json" "$scenario/$backend" <<-'PY' || fail "nanotimed's serverstats show no NTS served"
		import json, sys
		s = json.load(open(sys.argv[1]))
		print(f"interop: {sys.argv[2]}: nanotimed serverstats: NTS-KE {s['ke_accepted']} accepted, "
		      f"{s['ke_keys_issued']} keys issued; NTS {s['nts_authentic']} authentic replies, "
		      f"{s['nts_nak']} NTSN, {s['nts_dropped']} dropped; {s['keys_held']} master keys")
		ok = (s["nts_ke"] and s["ke_accepted"] >= 1 and s["ke_keys_issued"] >= 1
		      and s["nts_authentic"] > 0 and s["nts_dropped"] == 0 and s["nts_nak"] == 0)
		sys.exit(0 if ok else 1)
	PY
}

case $scenario in
nts-chronyd-server)
	start_chronyd_nts_server
	start_nanotimed_nts_client
	wait_synchronised 1
	check_nts_source 2
	in_up "$chronyc" -h "$rundir/server/chronyd.sock" serverstats >"$work/serverstats.txt" ||
		fail "chronyc serverstats failed"
	sed 's/^/interop: chronyd /' "$work/serverstats.txt"
	python3 - "$work/serverstats.txt" <<-'PY' || fail "chronyd counted no NTS-KE connection or authenticated packet"
		import re, sys
		f = dict(re.findall(r"^(.*?)\s*: (\d+)$", open(sys.argv[1]).read(), re.M))
		sys.exit(0 if int(f["NTS-KE connections accepted"]) >= 1
		         and int(f["Authenticated NTP packets"]) > 0 else 1)
	PY
	;;
nts-chronyd-client)
	start_nanotimed_nts_server
	wait_synchronised 1
	# The client: NTS to nanotimed by name, polling every second, serving
	# nothing (port 0).
	cat >"$work/chronyd-client.conf" <<-CONF
		server nanotimed.nanotime.test nts iburst minpoll 0 maxpoll 0
		ntstrustedcerts $work/cert.pem
		port 0
		cmdport 0
		bindcmdaddress $rundir/client/chronyd.sock
		pidfile $work/chronyd-client.pid
	CONF
	start_chronyd "$ns_up" client -4
	deadline=$((SECONDS + 30))
	while :; do
		in_up "$chronyc" -h "$rundir/client/chronyd.sock" -n -c sources >"$work/chronyc-sources.csv" 2>/dev/null || true
		in_up "$chronyc" -h "$rundir/client/chronyd.sock" -n -c authdata >"$work/chronyc-authdata.csv" 2>/dev/null || true
		# sources: mode, state, address; authdata: address, mode, key id,
		# type, key length, last, cookie length, NAK, cookies
		if grep -q '^\^,\*,10\.201\.0\.2,' "$work/chronyc-sources.csv" &&
			awk -F, '$1 == "10.201.0.2" && $2 == "NTS" && $9 > 0 { ok = 1 } END { exit !ok }' \
				"$work/chronyc-authdata.csv"; then
			break
		fi
		[ "$SECONDS" -lt "$deadline" ] ||
			fail "chronyd did not select nanotimed over NTS within 30 s: $(cat "$work/chronyc-sources.csv" "$work/chronyc-authdata.csv")"
		sleep 1
	done
	in_up "$chronyc" -h "$rundir/client/chronyd.sock" -n sources | sed 's/^/interop: chronyd /'
	in_up "$chronyc" -h "$rundir/client/chronyd.sock" -n authdata | sed 's/^/interop: chronyd /'
	check_nts_serving
	;;
nts-ntpd-server)
	start_ntpd_server "$(printf 'nts enable\nnts cert %s\nnts key %s\nnts cookie %s' \
		"$work/cert.pem" "$work/key.pem" "$work/ntpd-nts-keys")"
	start_nanotimed_nts_client
	wait_synchronised 1
	check_nts_source 6
	grep 'NTSs' "$work/ntpd.log" | tail -n 3 | sed 's/^/interop: ntpd /'
	grep -q 'NTSs: NTS-KE from 10.201.0.2' "$work/ntpd.log" || fail "ntpd logged no NTS-KE from nanotimed"
	;;
nts-ntpd-client)
	start_nanotimed_nts_server
	wait_synchronised 1
	# ntpd follows nanotimed over NTS, every 8 s, and records each update of
	# its peer status word (peerstats).
	cat >"$work/ntpd.conf" <<-CONF
		server nanotimed.nanotime.test nts ca $work/cert.pem iburst minpoll 3 maxpoll 3
		restrict default nomodify noquery
		disable ntp
		disable kernel
		statsdir $work/
		statistics peerstats
		filegen peerstats file peerstats type none enable
		nts cookie $work/ntpd-nts-keys
	CONF
	start_ntpd
	# peerstats: MJD, seconds, peer, status word, offset, delay, dispersion,
	# jitter. Status word, high octet: 0x20 authentic (the NTS check
	# passed), low 3 bits 6 = system peer (ntpq's '*').
	deadline=$((SECONDS + 40))
	while :; do
		if [ -f "$work/peerstats" ] && python3 - "$work/peerstats" <<-'PY'; then
			import sys
			for line in open(sys.argv[1]):
			    f = line.split()
			    if len(f) >= 8 and f[2] == "10.201.0.2":
			        hi = int(f[3], 16) >> 8
			        if hi & 0x20 and hi & 7 == 6:
			            sys.exit(0)
			sys.exit(1)
		PY
			break
		fi
		[ "$SECONDS" -lt "$deadline" ] || fail "ntpd did not select nanotimed as an authentic NTS peer within 40 s"
		sleep 1
	done
	tail -n 2 "$work/peerstats" | sed 's/^/interop: ntpd peerstats /'
	grep 'NTSc' "$work/ntpd.log" | tail -n 3 | sed 's/^/interop: ntpd /'
	check_nts_serving
	;;
nts-tamper)
	# chronyd answers NTP on 10.201.0.1 only and tells NTS-KE clients to
	# send it to the relay on 10.201.0.9.
	ip -n "$ns_up" addr add 10.201.0.9/24 dev veth-up
	start_chronyd_nts_server "$(printf 'bindaddress 10.201.0.1\nntsntpserver 10.201.0.9')"
	ip netns exec "$ns_up" python3 "$here/nts_tamper_relay.py" 10.201.0.9 10.201.0.1 "$work/relay.json" \
		>"$work/relay.log" 2>&1 &
	pids+=($!)
	relay_pid=$!
	for _ in $(seq 1 100); do
		[ -f "$work/relay.json" ] && break
		sleep 0.1
	done
	[ -f "$work/relay.json" ] || fail "the relay did not start"
	start_nanotimed_nts_client
	wait_synchronised 1
	# Synchronised, and both kinds of tampered reply and a replay sent.
	deadline=$((SECONDS + 30))
	until python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))
sys.exit(0 if c["tampered"] >= 2 and c["replayed"] >= 1 else 1)' "$work/relay.json" 2>/dev/null; do
		kill -0 "$relay_pid" 2>/dev/null || fail "the relay exited"
		[ "$SECONDS" -lt "$deadline" ] || fail "the relay sent too few tampered or replayed replies within 30 s"
		sleep 1
	done
	# The relay's counts before and after nanotimed's bracket what it saw.
	cp "$work/relay.json" "$work/relay-before.json"
	read -ra counters <<<"$(nts_counters)"
	cp "$work/relay.json" "$work/relay-after.json"
	python3 - "$work/relay-before.json" "$work/relay-after.json" "$scenario/$backend" "${counters[@]}" <<-'PY' ||
		import json, sys
		a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
		rejected, naks, exchanges, replies = map(int, sys.argv[4:8])
		print(f"interop: {sys.argv[3]}: relay: {b['requests']} requests, {b['forwarded']} replies forwarded, "
		      f"{b['tampered']} tampered, {b['replayed']} replayed; nanotimed: {replies} samples, "
		      f"{rejected} NTS-rejected, {naks} NTSN, {exchanges} key exchanges")
		# Every reply that went through unchanged is a sample, even one a
		# replay arrived just before; no spoilt one is.
		ok = (a["tampered"] + a["replayed"] <= rejected <= b["tampered"] + b["replayed"]
		      and a["forwarded"] <= replies <= b["forwarded"] and naks == 0 and exchanges == 1)
		sys.exit(0 if ok else 1)
	PY
		fail "nanotimed did not reject exactly the tampered and replayed replies and use all the others"
	# The relay is Python: on a busy host it adds milliseconds to a round
	# trip. What matters here is that no spoilt reply (0.5 s) was used.
	check_nts_source 2 0.02
	;;
nts-rekey)
	start_chronyd_nts_server
	start_nanotimed_nts_client
	wait_synchronised 1
	read -r _ naks0 exchanges0 replies0 <<<"$(nts_counters)"
	[ "$naks0" = 0 ] && [ "$exchanges0" = 1 ] || fail "NTSN or a second NTS-KE before the keys changed"
	# New master keys: chronyd restarted without the ones it saved.
	stop_pids "$chronyd_server_pid"
	find "$work/chrony-keys" -type f -printf 'interop: chronyd saved keys: %f\n'
	rm -rf "$work/chrony-keys"
	start_chronyd_nts_server
	note "chronyd restarted with new keys after $replies0 samples"
	deadline=$((SECONDS + 35))
	while :; do
		read -r rejected naks exchanges replies <<<"$(nts_counters)"
		[ "$naks" -ge 1 ] && [ "$exchanges" -ge 2 ] && [ "$replies" -ge $((replies0 + 2)) ] && break
		[ "$SECONDS" -lt "$deadline" ] ||
			fail "no NTSN, new NTS-KE and new samples within 35 s: $naks NTSN, $exchanges key exchanges, $replies samples"
		sleep 1
	done
	note "after the new keys: $naks NTSN, $exchanges key exchanges, $replies samples, $rejected rejected"
	ctl status >"$work/status.json"
	grep -q '"synchronized": *true' "$work/status.json" || fail "nanotimed lost synchronisation"
	check_nts_source 2
	;;
esac

check_capture nts
if [ "$scenario" = nts-rekey ]; then
	[ "$ntsn_seen" -ge 1 ] || fail "no NTSN reply on the wire"
else
	[ "$ntsn_seen" -eq 0 ] || fail "NTSN replies although the server kept its keys"
fi
stop_nanotimed
echo "PASS: $scenario ($backend)"
