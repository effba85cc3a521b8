# chrony-shm-reference.sh - sourced (bash) inside the VM by the in-VM daemon
# test (ktests/vm/daemon_vm_test.sh) and the demo's NTP stage
# (tools/demo/daemon-stage.sh): an NTP reference independent of
# CLOCK_REALTIME for nanotimed to discipline the nanoclock from, and the
# nanoclock's starting errors.
#
# chrony_shm_reference HELPER WORK [CONF_LINE...]
#	Starts the reference: nc_daemon_helper (HELPER) "truth" remembers
#	CLOCK_REALTIME at the start and from then on feeds true time = that +
#	the CLOCK_MONOTONIC_RAW interval (what an undisturbed CLOCK_REALTIME
#	would read) into SHM refclock 0; chronyd -x (it never touches a clock)
#	tracks it and serves it at stratum 1 on 127.0.0.1:$CHRONY_SHM_PORT.
#	The refclock is read every 250 ms (dpoll -2), a median of 4 a second,
#	and chronyd's regression keeps 8 of them: CLOCK_REALTIME, chronyd's own
#	clock, is steered by nanotimed, and chronyd must follow its changes
#	within seconds (with the defaults, one sample per 4 s and up to 64 kept,
#	what it served lagged a steered CLOCK_REALTIME by 100 us and more).
#	Without this the loop would be circular: nanotimed steers
#	CLOCK_REALTIME, and a plain `local stratum 1` chronyd serves
#	CLOCK_REALTIME. CONF_LINEs are appended to chrony.conf (e.g. logdir).
#	Writes WORK/truth (the helper's state, for `nc_daemon_helper cmp`),
#	truth.log, chrony.conf, chronyd.log and chronyd.pid; appends both
#	processes to the array `pids`.
# stop_pids
#	Ends every process in `pids` (the reference's and whatever else the
#	caller added) and waits for them: the scripts' EXIT trap.
# nanotimed_reference_toml WORK DRIFT_FILE
#	Prints the nanotimed.toml both use: that server as the one source
#	(poll 8 s, the lowest minpoll allowed, iburst, xleave: chronyd stamps
#	its basic replies before sending them, which under TCG is tens of
#	microseconds early, a bias interleaved mode removes); serving on
#	127.0.0.1:123 to 127.0.0.0/8; backend nanoclock (/dev/nanoclock0)
#	with steer_realtime; the test leap-seconds.list; the control socket
#	WORK/nanotimed.sock. Callers append their own tables ([log],
#	[service], [server.rate_limit]).
# nanoclock_ptp_device CLOCK
#	Prints /dev/ptpN, the PTP view of CLOCK (e.g. nanoclock0); nothing and
#	status 1 if it has none.
# nanoclock_start_errors PTP_DEVICE [OFFSET]
#	Puts the clock OFFSET seconds (default 0.003) ahead and 10 ppm fast
#	(phc_ctl adj / freq on its PTP view); phc_ctl's output goes to
#	standard output.

CHRONY_SHM_PORT=11123
pids=()

stop_pids() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}

chrony_shm_reference() {
	local helper=$1 work=$2 line
	shift 2
	"$helper" truth "$work/truth" 0 >"$work/truth.log" 2>&1 &
	pids+=($!)
	cat >"$work/chrony.conf" <<-CONF
		refclock SHM 0 refid TRUE dpoll -2 poll 0 filter 4 maxsamples 8 precision 1e-7
		local stratum 1
		port $CHRONY_SHM_PORT
		bindaddress 127.0.0.1
		allow 127.0.0.1
		cmdport 0
		pidfile $work/chronyd.pid
	CONF
	for line in "$@"; do echo "$line" >>"$work/chrony.conf"; done
	chronyd -x -d -u root -f "$work/chrony.conf" >"$work/chronyd.log" 2>&1 &
	pids+=($!)
}

nanotimed_reference_toml() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	cat <<-CONF
		[[source]]
		server = "127.0.0.1"
		port = $CHRONY_SHM_PORT
		minpoll = 3
		maxpoll = 3
		iburst = true
		xleave = true

		[server]
		listen = ["127.0.0.1:123"]
		allow = ["127.0.0.0/8"]

		[clock]
		backend = "nanoclock"
		device = "/dev/nanoclock0"
		steer_realtime = true
		drift_file = "$2"
		leap_seconds_file = "$top/tests/daemon/data/leap-seconds.list"

		[control]
		socket = "$1/nanotimed.sock"
	CONF
}

nanoclock_ptp_device() {
	local name
	name=$(grep -lx "$1" /sys/class/ptp/ptp*/clock_name 2>/dev/null | head -n1)
	[ -n "$name" ] || return 1
	echo "/dev/$(basename "$(dirname "$name")")"
}

nanoclock_start_errors() {
	phc_ctl "$1" adj "${2:-0.003}" freq 10000
}
