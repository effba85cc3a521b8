# vm-tap-run.sh - sourced (bash) on the host by the in-VM daemon tests
# (ktests/vm/daemon_vm_test.sh, daemon_pps_vm_test.sh): boot a kernel, run a
# TAP-printing script inside and report.
#
# vm_tap_run NAME FLAVOUR TIMEOUT SCRIPT ARGS...
#	Boots FLAVOUR (stock|test) with ktests/vm-run for at most TIMEOUT s and
#	runs SCRIPT ARGS inside; the run fails if the script fails or the
#	console has a TAP failure or a kernel problem (ktests/ktap-check).
#	Prints the TAP lines and "#" figures on success, the whole console on
#	failure (the daemon's logs are in it), then "NAME (FLAVOUR): exit RC";
#	NANOTIME_DAEMON_VM_LOG=FILE keeps the console. Returns RC.
vm_tap_run() {
	local name=$1 flavour=$2 timeout=$3 top log rc
	shift 3
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	log=$(mktemp "/tmp/nanotime-$name.XXXXXX.log")
	"$top/ktests/vm-run" --kernel "$flavour" --timeout "$timeout" --log "$log" -- "$@" >/dev/null
	rc=$?
	"$top/ktests/ktap-check" "$log" >/dev/null || rc=1
	[ -z "${NANOTIME_DAEMON_VM_LOG:-}" ] || cp "$log" "$NANOTIME_DAEMON_VM_LOG"
	if [ $rc -eq 0 ]; then
		grep -aE '^(ok|not ok|1\.\.|#)' "$log" | tr -d '\r'
	else
		tr -d '\r' <"$log"
	fi
	rm -f "$log"
	echo "$name ($flavour): exit $rc"
	return $rc
}
