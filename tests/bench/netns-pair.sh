# shellcheck shell=bash disable=SC2154  # ns_s, ns_c, out: set by the sourcing script
# netns-pair.sh - sourced by the bench scripts (server-cpu.sh, client-rss.sh):
# a scratch directory, two network namespaces joined by a veth pair, and the
# cleanup that stops the background processes and removes both namespaces.
#
# The caller sets ns_s and ns_c (namespace names) and out (empty: results go
# in the scratch directory, which is then kept), defines skip(), and appends
# the PIDs of what it starts in the background to the array pids.

# bench_pair_start PREFIX VETH_S VETH_C: work=/tmp/PREFIX.XXXXXX, out made,
# both namespaces made, VETH_S in ns_s and VETH_C in ns_c (not yet up).
bench_pair_start() {
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	[ -n "$out" ] || out="$work/out"
	mkdir -p "$out"
	pids=()
	trap bench_pair_cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$ns_s" || skip "cannot create network namespaces"
	ip netns add "$ns_c"
	ip link add "$2" type veth peer name "$3"
	ip link set "$2" netns "$ns_s"
	ip link set "$3" netns "$ns_c"
}

bench_pair_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns_s" 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	if [ "$out" != "$work/out" ]; then rm -rf "$work"; fi
	exit "$rc"
}
