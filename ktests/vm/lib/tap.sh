# tap.sh - sourced (bash) by the in-VM test scripts: TAP checks.
#
# check EXPR DESCRIPTION
#	Evaluates EXPR and prints "ok N - DESCRIPTION" or "not ok N - ...";
#	counts in n (checks so far) and fail (failures). The script ends with
#	`echo "1..$n"` and `[ "$fail" -eq 0 ]`.
n=0 fail=0
check() {
	n=$((n + 1))
	if eval "$1"; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		fail=$((fail + 1))
	fi
}
