# interop-common.sh: what run-interop.sh and run-nts-interop.sh share,
# sourced by both after they set scenario, backend, nanotimed, nanotimectl,
# workroot, seccomp and here: reporting (skip, fail, note), the two network
# namespaces and their veth pair, the tshark capture and its check, NTP
# peers fetched from Debian (peer_binary), and nanotimed started, queried
# (ctl), waited for and stopped.
#
# Namespaces: "up" (10.201.0.1/24, fd00:201::1/64) and "dn" (10.201.0.2/24,
# fd00:201::2/64). Nothing else is addressed, and no peer can touch the
# host's clock: every process runs without CAP_SYS_TIME (noclock).
# shellcheck shell=bash disable=SC2154 # (the sourcing script sets those names)

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*" >&2
	for f in "$work"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last 30 lines)" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}
note() { echo "interop: $scenario/$backend: $*"; }

# Root and the tools every scenario needs; then a fresh work directory.
interop_prepare() {
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	local tool
	for tool in ip setpriv tshark python3; do
		command -v "$tool" >/dev/null || skip "$tool not installed"
	done
	mkdir -p "$workroot"
	work=$workroot/$scenario-$backend
	rm -rf "$work"
	mkdir -p "$work"
	chmod 755 "$workroot" "$work" # chronyd drops to _chrony and writes its pid file here
}

tag=$$
ns_up=nt-$tag-up
ns_dn=nt-$tag-dn
pids=()
# Background processes are started as `ip netns exec NS PROGRAM &` (never
# through a shell function, which would put a subshell between $! and the
# program), so $! is the program itself: ip and setpriv exec it.
stop_pids() {
	local p
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for _ in $(seq 1 30); do
		local alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}
cleanup() {
	stop_pids "${pids[@]}"
	ip netns del "$ns_up" 2>/dev/null || true
	ip netns del "$ns_dn" 2>/dev/null || true
	rm -rf "/etc/netns/$ns_dn" "/etc/netns/$ns_up"
	[ -z "${rundir:-}" ] || rm -rf "$rundir"
}

# Processes without CAP_SYS_TIME, whatever they try.
noclock=(setpriv --bounding-set -sys_time --inh-caps -sys_time)
in_up() { ip netns exec "$ns_up" "$@"; } # foreground only
in_dn() { ip netns exec "$ns_dn" "$@"; } # foreground only

# The namespaces, their veth pair, and tshark capturing FILTER (default
# NTP) on veth-dn from the start.
make_namespaces() {
	local filter=${1:-udp port 123} ns
	trap cleanup EXIT
	ip netns add "$ns_up"
	ip netns add "$ns_dn"
	ip link add veth-up netns "$ns_up" type veth peer name veth-dn netns "$ns_dn"
	ip -n "$ns_up" addr add 10.201.0.1/24 dev veth-up
	ip -n "$ns_dn" addr add 10.201.0.2/24 dev veth-dn
	ip -n "$ns_up" addr add fd00:201::1/64 dev veth-up nodad
	ip -n "$ns_dn" addr add fd00:201::2/64 dev veth-dn nodad
	for ns in "$ns_up" "$ns_dn"; do ip -n "$ns" link set lo up; done
	ip -n "$ns_up" link set veth-up up
	ip -n "$ns_dn" link set veth-dn up

	ip netns exec "$ns_dn" tshark -i veth-dn -f "$filter" -w "$work/capture.pcapng" >"$work/tshark.log" 2>&1 &
	pids+=($!)
	tshark_pid=$!
	for _ in $(seq 1 100); do
		grep -q "Capturing on" "$work/tshark.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "Capturing on" "$work/tshark.log" || fail "tshark did not start"
}

# hosts_file NS LINE...: the namespace's own /etc/hosts (ip netns exec
# bind-mounts /etc/netns/NS/hosts over /etc/hosts).
hosts_file() {
	local ns=$1
	shift
	mkdir -p "/etc/netns/$ns"
	printf '%s\n' "$@" >"/etc/netns/$ns/hosts"
}

# peer_binary NAME PACKAGE [MARK]: the installed NAME (if its --version
# shows MARK), else NAME from PACKAGE fetched with apt-get download and
# unpacked under the work tree, once. Debian's chrony and ntpsec conflict
# (both provide time-daemon), so usually only one of them is installed.
peer_binary() {
	local name=$1 package=$2 mark=${3:-}
	if command -v "$name" >/dev/null &&
		{ [ -z "$mark" ] || "$name" --version 2>&1 | grep -q "$mark"; }; then
		command -v "$name"
		return
	fi
	local dir=$workroot/pkg-$package
	(
		flock 9
		if [ ! -x "$dir/root/usr/sbin/$name" ]; then
			rm -rf "$dir"
			mkdir -p "$dir"
			(cd "$dir" && apt-get download -q "$package" >/dev/null 2>&1 &&
				dpkg -x "$package"_*.deb root) || true
		fi
	) 9>"$workroot/pkg-$package.lock"
	[ -x "$dir/root/usr/sbin/$name" ] || return 1
	echo "$dir/root/usr/sbin/$name"
}

# start_chronyd NS NAME [OPTION...]: chronyd in NS with
# $work/chronyd-NAME.conf (the caller writes it), in the foreground (-d),
# never touching the clock (-x), as root (-u root: it reads files under the
# work tree), logging to $work/chronyd-NAME.log; its pid in chronyd_pid.
start_chronyd() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "${noclock[@]}" "$chronyd" -x "$@" -d -u root -f "$work/chronyd-$name.conf" \
		>>"$work/chronyd-$name.log" 2>&1 &
	pids+=($!)
	# shellcheck disable=SC2034 # for the caller
	chronyd_pid=$!
}

# start_ntpd: NTPsec's ntpd in up with $work/ntpd.conf (the caller writes
# it), logging to $work/ntpd.log.
start_ntpd() {
	local ntpd
	ntpd=$(peer_binary ntpd ntpsec ntpsec) || skip "no NTPsec ntpd (apt-get download ntpsec failed)"
	ip netns exec "$ns_up" "${noclock[@]}" "$ntpd" -n -c "$work/ntpd.conf" -p "$work/ntpd.pid" \
		-l "$work/ntpd.log" >"$work/ntpd-stdout.log" 2>&1 &
	pids+=($!)
}

# start_ntpd_server [LINES]: ntpd in up serving in orphan mode (with no
# sources it serves stratum 5 after a second), never disciplining the
# clock; LINES are added to its configuration.
start_ntpd_server() {
	cat >"$work/ntpd.conf" <<-CONF
		tos orphan 5
		tos orphanwait 1
		restrict default nomodify noquery
		disable ntp
		disable kernel
		statsdir $work/
		${1:-}
	CONF
	start_ntpd
}

# exited_within_5s PID: whether PID has gone within 5 s.
exited_within_5s() {
	for _ in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# nanotimed in dn, client of SERVERS (addresses or names), serving on
# 10.201.0.2; polls from 2^3 to 2^${nt_maxpoll:-4} s. Each [[source]] gets
# the lines in $nt_source_extra, and the file ends with $nt_extra (both
# TOML, may be empty).
start_nanotimed() {
	{
		for s in "$@"; do
			printf '[[source]]\nserver = "%s"\nminpoll = 3\nmaxpoll = %s\niburst = true\n%s\n' \
				"$s" "${nt_maxpoll:-4}" "${nt_source_extra:-}"
		done
		printf '[server]\nlisten = [%s]\n' "${nt_listen:-"\"10.201.0.2:123\", \"[fd00:201::2]:123\""}"
		printf 'allow = ["10.201.0.0/24", "fd00:201::/64"]\n\n'
		printf '[server.rate_limit]\n%s\n\n' "${nt_rate_limit:-interval = 0.5
burst = 16}"
		printf '[clock]\nadjust = false\ndrift_file = ""\nleap_seconds_file = "%s"\n\n' \
			"$here/../daemon/data/leap-seconds.list"
		printf '[control]\nsocket = "%s"\n\n' "$work/nanotimed.sock"
		printf '[io]\nbackend = "%s"\n\n' "$backend"
		printf '[log]\nlevel = "debug"\n\n'
		printf '[service]\nuser = ""\nseccomp = "%s"\n\n' "$seccomp"
		printf '%s\n' "${nt_extra:-}"
	} >"$work/nanotimed.toml"
	"$nanotimed" --check-config -c "$work/nanotimed.toml" >/dev/null ||
		fail "nanotimed rejects its configuration"
	ip netns exec "$ns_dn" "${noclock[@]}" "$nanotimed" -c "$work/nanotimed.toml" >>"$work/nanotimed.log" 2>&1 &
	pids+=($!)
	nanotimed_pid=$!
}

ctl() { in_dn "$nanotimectl" -s "$work/nanotimed.sock" --json "$@"; }

# Waits until nanotimed is synchronised and has 4+ samples from each of
# its WANT sources; fails after ${2:-40} s.
wait_synchronised() {
	local want=$1 deadline=$((SECONDS + ${2:-40}))
	while [ "$SECONDS" -lt "$deadline" ]; do
		kill -0 "$nanotimed_pid" 2>/dev/null || fail "nanotimed exited"
		if ctl status >"$work/status.json" 2>/dev/null &&
			grep -q '"synchronized": *true' "$work/status.json" &&
			ctl sourcestats >"$work/sourcestats.json" 2>/dev/null &&
			python3 - "$work/sourcestats.json" "$want" <<-'PY'; then
				import json, sys
				ss = json.load(open(sys.argv[1]))["sourcestats"]
				sys.exit(0 if len(ss) == int(sys.argv[2]) and all(s["samples"] >= 4 for s in ss) else 1)
			PY
			return 0
		fi
		sleep 0.5
	done
	fail "nanotimed did not synchronise within ${2:-40} s"
}

# Stops the capture and requires every captured packet to decode as NTP
# without malformed or warning-level expert items, with both requests and
# replies; with "nts", also that each carries an NTS Authenticator and
# Encrypted Extension Fields field (RFC 8915 §5.6, type 0x0404), but for
# NTSN kiss-o'-death replies (§5.7: the server could not open the cookie,
# so has no key to authenticate with), which are counted in $ntsn_seen.
check_capture() {
	local want=${1:-}
	sleep 0.2
	kill -INT "$tshark_pid"
	exited_within_5s "$tshark_pid" || fail "tshark did not stop"
	wait "$tshark_pid" 2>/dev/null || true
	tshark -r "$work/capture.pcapng" -Y ntp -T fields -e ntp.flags.mode \
		>"$work/modes.txt" 2>"$work/tshark-read.log" || fail "tshark cannot read the capture"
	local total ntp clients servers bad
	total=$(tshark -r "$work/capture.pcapng" 2>/dev/null | wc -l)
	ntp=$(wc -l <"$work/modes.txt")
	clients=$(grep -c '^3$' "$work/modes.txt" || true)
	servers=$(grep -c '^4$' "$work/modes.txt" || true)
	bad=$(tshark -r "$work/capture.pcapng" -Y '!ntp || _ws.malformed || _ws.expert.severity >= 0x00600000' \
		2>/dev/null | wc -l)
	note "capture: $total packets, $ntp NTP ($clients client, $servers server), $bad malformed or not NTP"
	[ "$ntp" -gt 0 ] && [ "$ntp" -eq "$total" ] || fail "captured packets that are not NTP"
	[ "$clients" -gt 0 ] && [ "$servers" -gt 0 ] || fail "capture lacks requests or replies"
	[ "$bad" -eq 0 ] || fail "$bad packets decode with errors"
	if [ "$want" = nts ]; then
		local plain
		ntsn_seen=$(tshark -r "$work/capture.pcapng" -Y 'ntp.stratum == 0 && ntp.refid == 4e:54:53:4e' \
			2>/dev/null | wc -l)
		plain=$(tshark -r "$work/capture.pcapng" \
			-Y 'ntp && !(ntp.ext.type == 0x0404) && !(ntp.stratum == 0 && ntp.refid == 4e:54:53:4e)' \
			2>/dev/null | wc -l)
		note "capture: $plain NTP packets without an NTS authenticator, $ntsn_seen NTSN"
		[ "$plain" -eq 0 ] || fail "$plain NTP packets went without NTS"
	fi
}

# nanotimed must still be alive (seccomp kills are silent) and stop cleanly.
stop_nanotimed() {
	kill -0 "$nanotimed_pid" 2>/dev/null || fail "nanotimed died"
	kill -TERM "$nanotimed_pid"
	exited_within_5s "$nanotimed_pid" || fail "nanotimed did not stop on SIGTERM"
	local status=0
	wait "$nanotimed_pid" || status=$?
	[ "$status" -eq 0 ] || fail "nanotimed exited with status $status on SIGTERM"
}
