#!/usr/bin/env bash
# kbuild.sh KDIR|@PATHFILE SRCROOT OUTDIR
#
# Build nanotime's kernel modules out of tree against kernel tree KDIR (or the
# path written in PATHFILE). Kernel-side sources are mirrored into OUTDIR so
# every kernel flavour has its own objects; the repository's top-level Kbuild
# descends into kmod/, pps/ and ktests/kunit/.
set -euo pipefail
kdir=$1 src=$2 out=$3
case "$kdir" in @*) kdir=$(cat "${kdir#@}") ;; esac
if [ ! -d "$kdir" ]; then
	echo "kbuild.sh: kernel tree '$kdir' not found" >&2
	exit 1
fi
mkdir -p "$out"
for d in Kbuild kmod libnanokernel uapi pps ktests/kunit; do
	[ -e "$src/$d" ] || continue
	mkdir -p "$out/$(dirname "$d")"
	# -u keeps objects whose sources did not change; mtimes are preserved
	# so kbuild rebuilds exactly what changed.
	cp -a -u "$src/$d" "$out/$(dirname "$d")/"
done
exec make -s -C "$kdir" M="$out" -j"$(nproc)" modules
