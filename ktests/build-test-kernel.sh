#!/usr/bin/env bash
# Build (or reuse) nanotime's test kernel from Debian's linux-source-6.1.
#
# The build lives outside the clone, in $NANOTIME_CACHE (default
# /var/cache/nanotime), under a directory keyed by a hash of the config
# fragment and the linux-source package version, so it is reused by every
# clone and every CI run on this machine until either changes.
#
# Prints the path of the built tree on stdout (the last line); build logs go
# to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment="$here/testkernel.config"
cache=${NANOTIME_CACHE:-/var/cache/nanotime}
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
if [ -z "$tarball" ]; then
	echo "build-test-kernel: /usr/src/linux-source-6.1.tar.xz missing (apt-get install linux-source-6.1)" >&2
	exit 1
fi
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( (cat "$fragment"; echo "$srcver") | sha256sum | cut -c1-16)
tree="$cache/testkernel-$key"

if [ -f "$tree/.nanotime-built" ]; then
	echo "$tree"
	exit 0
fi

mkdir -p "$cache"
# One builder at a time; a second caller waits and then reuses the result.
exec 9>"$cache/testkernel.lock"
flock 9
if [ -f "$tree/.nanotime-built" ]; then
	echo "$tree"
	exit 0
fi

start=$(date +%s)
rm -rf "$tree.tmp"
mkdir -p "$tree.tmp"
echo "build-test-kernel: extracting $tarball ($srcver)" >&2
tar -xJf "$tarball" -C "$tree.tmp" --strip-components=1
cd "$tree.tmp"
make -s tinyconfig >&2
scripts/kconfig/merge_config.sh -m .config "$fragment" >&2
make -s olddefconfig >&2
# Every fragment option must have survived olddefconfig: a silently dropped
# option (unmet dependency) would make tests pass for the wrong reason.
missing=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	if ! grep -qx "$line" .config; then
		echo "build-test-kernel: option not in final .config: $line" >&2
		missing=1
	fi
done <"$fragment"
[ "$missing" = 0 ] || exit 1
echo "build-test-kernel: building bzImage and modules with $(nproc) jobs" >&2
make -s -j"$(nproc)" bzImage modules >&2
touch .nanotime-built
cd /
rm -rf "$tree"
mv "$tree.tmp" "$tree"
echo "build-test-kernel: built in $(($(date +%s) - start)) s" >&2
echo "$tree"
