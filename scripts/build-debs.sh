#!/usr/bin/env bash
# build-debs.sh OUTDIR - build nanotime's Debian packages (debian/) from this
# tree into OUTDIR: `dpkg-buildpackage -us -uc -b` on a copy of the sources
# in OUTDIR/nanotime (dpkg-buildpackage writes its results beside the source
# directory, so nothing lands next to the checkout), then lintian on the
# result (errors and warnings fail; overrides in debian/*.lintian-overrides).
# A second run updates the copy (file times kept) and builds without the
# pre-clean, so only what changed is recompiled (the package VM test, run
# again, costs seconds here); ccache is used when installed.
#   NANOTIME_DEB_VERSION=V  build as version V (the VM test's upgrade).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
src=$out/nanotime
mkdir -p "$src"
# The checkout's files (tracked and new, not ignored), times kept: make
# rebuilds only what changed since the last copy.
(cd "$top" && git ls-files -z -co --exclude-standard |
	tar --null --ignore-failed-read -T - -cf -) | tar -C "$src" -xf -
if [ -n "${NANOTIME_DEB_VERSION:-}" ]; then
	(cd "$src" && sed -i "1s/(.*)/($NANOTIME_DEB_VERSION)/" debian/changelog)
fi
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
preclean=()
if [ -e "$out/obj/CMakeCache.txt" ]; then
	# keep the build tree, but let every dh step run again
	preclean=(-nc)
	rm -rf "$src/debian/debhelper-build-stamp" "$src/debian/.debhelper" "$src/debian/files"
fi
(cd "$src" && NANOTIME_DEB_BUILDDIR=$out/obj DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b "${preclean[@]}" >"$out/build.log" 2>&1) ||
	{ tail -n 50 "$out/build.log"; echo "build-debs: dpkg-buildpackage failed ($out/build.log)"; exit 1; }
changes=$(ls "$out"/*.changes)
if ! lintian --fail-on error,warning "$changes" >"$out/lintian.log" 2>&1; then
	cat "$out/lintian.log"
	echo "build-debs: lintian found errors or warnings"
	exit 1
fi
ls "$out"/*.deb
