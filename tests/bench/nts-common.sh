# shellcheck shell=bash disable=SC2154,SC2034  # work, ns_s, pids, server_cpu, chronyd, nanotimed: set by the sourcing script
# nts-common.sh - sourced by the NTS benchmarks (nts-server.sh, nts-ke.sh):
# the certificate, and nanotimed and chronyd configured as NTS servers (NTP
# on port 123 and NTS-KE on 4460 of one address in the server namespace).
#
# nts_prerequisites comes first; the rest need netns-pair.sh sourced and the
# namespaces set up, and work, ns_s, server_cpu, chronyd and nanotimed set.

# nts_prerequisites NAME: skips (exit 77) without root, iproute2, python3,
# openssl or chronyd; exits 1 if a binary is not built. Sets ntpload,
# ntskeload, nanotimed and chronyd (each overridable by NTPLOAD, NTSKELOAD,
# NANOTIMED, CHRONYD) and, from $pin ("SERVER:LOAD" CPUs, or empty), the
# taskset prefixes server_cpu and load_cpu. The caller sets build and pin.
nts_prerequisites() {
	local name=$1 b
	skip() { echo "$name: SKIP: $*"; exit 77; }
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "no ip (iproute2)"
	command -v python3 >/dev/null || skip "no python3"
	command -v openssl >/dev/null || skip "no openssl"
	ntpload=${NTPLOAD:-$build/tools/ntpload/ntpload}
	ntskeload=${NTSKELOAD:-$build/tools/ntpload/ntskeload}
	nanotimed=${NANOTIMED:-$build/daemon/nanotimed/nanotimed}
	for b in "$ntpload" "$ntskeload" "$nanotimed"; do
		[ -x "$b" ] || { echo "$name: $b not built (cmake --build $build --target nanotimed ntpload ntskeload)" >&2; exit 1; }
	done
	chronyd=${CHRONYD:-$(command -v chronyd || echo /usr/sbin/chronyd)}
	[ -x "$chronyd" ] || skip "no chronyd (install chrony, or CHRONYD=path)"
	server_cpu=()
	load_cpu=()
	if [ -n "$pin" ]; then
		server_cpu=(taskset -c "${pin%%:*}")
		load_cpu=(taskset -c "${pin##*:}")
	fi
}

# nts_certificate ADDRESSES...: $work/cert.pem and $work/key.pem, ECDSA
# P-256 (what a current CA issues), self-signed, valid for those addresses.
nts_certificate() {
	local san="DNS:nts-bench" a
	for a in "$@"; do san="$san,IP:$a"; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=nts-bench" -addext "subjectAltName=$san" \
		-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
}

# nts_start NAME KIND IP [KEY=VALUE...]: starts KIND (nanotimed | chronyd)
# as an NTS server on IP in the server namespace, its log in $work/NAME.log;
# sets nts_pid. Options: ke_max=N (nanotimed [nts_ke] max_connections),
# ke_timeout=S (nanotimed [nts_ke] timeout), ntsprocesses=N (chronyd).
# Per-address limits are off for the load (nanotimed's address_rate,
# server rate limiting; chronyd has neither by default).
nts_start() {
	local name=$1 kind=$2 ip=$3
	shift 3
	local ke_max=100 ke_timeout=2.0 ntsprocesses=1 kv
	for kv in "$@"; do
		case "$kv" in
		ke_max=*) ke_max=${kv#*=} ;;
		ke_timeout=*) ke_timeout=${kv#*=} ;;
		ntsprocesses=*) ntsprocesses=${kv#*=} ;;
		*) echo "nts_start: unknown option $kv" >&2; return 1 ;;
		esac
	done
	case "$kind" in
	nanotimed)
		cat >"$work/$name.toml" <<-EOF
			[server]
			listen = ["$ip:123"]
			allow = ["10.0.0.0/8"]
			[server.rate_limit]
			enabled = false
			[nts_ke]
			listen = ["$ip:4460"]
			certificate = "$work/cert.pem"
			private_key = "$work/key.pem"
			max_connections = $ke_max
			timeout = $ke_timeout
			address_rate = 100000
			address_burst = 100000
			[nts]
			key_file = "$work/$name.nts-keys"
			[clock]
			adjust = false
			drift_file = ""
			[control]
			socket = "$work/$name.sock"
			[io]
			ring_entries = 1024
			receive_buffers = 1024
			[log]
			level = "warn"
			[service]
			user = ""
		EOF
		ip netns exec "$ns_s" "${server_cpu[@]}" "$nanotimed" --config "$work/$name.toml" 2>"$work/$name.log" &
		;;
	chronyd)
		mkdir -p "$work/$name.d"
		cat >"$work/$name.conf" <<-EOF
			port 123
			allow 10.0.0.0/8
			noclientlog
			cmdport 0
			bindcmdaddress /
			bindaddress $ip
			pidfile $work/$name.pid
			ntsport 4460
			ntsserverkey $work/key.pem
			ntsservercert $work/cert.pem
			ntsprocesses $ntsprocesses
			ntsdumpdir $work/$name.d
		EOF
		ip netns exec "$ns_s" "${server_cpu[@]}" "$chronyd" -d -x -u root -f "$work/$name.conf" 2>"$work/$name.log" &
		;;
	*) echo "nts_start: unknown kind $kind" >&2; return 1 ;;
	esac
	nts_pid=$!
	pids+=("$nts_pid")
}

# nts_wait_ke IP: until an NTS-KE exchange with IP:4460 succeeds, at most 10 s.
nts_wait_ke() {
	local _
	for _ in $(seq 1 50); do
		if ip netns exec "$ns_c" "$ntskeload" --server "$1:4460" --ca "$work/cert.pem" \
			--concurrency 1 --duration 0.2 --quiet >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	echo "NTS-KE at $1:4460 did not answer within 10 s" >&2
	return 1
}

# tree_pids PID: PID and all its descendants (chronyd's NTS-KE helpers).
tree_pids() {
	local p=$1 c
	echo "$p"
	# shellcheck disable=SC2013 # the children files hold PIDs separated by spaces
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}

# tree_run_ns PID: run time of all threads of PID and its descendants (ns,
# /proc/*/task/*/schedstat).
tree_run_ns() {
	local p total=0 t
	for p in $(tree_pids "$1"); do
		t=$(cat /proc/"$p"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}')
		total=$((total + ${t:-0}))
	done
	echo "$total"
}

# tree_rss_kib PID: VmRSS of PID and its descendants (KiB).
tree_rss_kib() {
	local p total=0 r
	for p in $(tree_pids "$1"); do
		r=$(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null)
		total=$((total + ${r:-0}))
	done
	echo "$total"
}
