#!/usr/bin/env bash
# checkpatch.sh [FILE...] - the kernel's own style gate over nanotime's
# kernel-side C (kmod/, pps/, libnanokernel/, uapi/, ktests/kunit/), with
# scripts/checkpatch.pl --strict from Debian's linux-source-6.1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${NANOTIME_CACHE:-/var/cache/nanotime}
tarball=/usr/src/linux-source-6.1.tar.xz
[ -r "$tarball" ] || { echo "checkpatch.sh: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 1; }
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
dir=$cache/checkpatch-$ver
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$dir.tmp"
	tar -xJf "$tarball" -C "$dir.tmp" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi
cd "$top"
if [ $# -eq 0 ]; then
	mapfile -t files < <(git ls-files -co --exclude-standard -- \
		'kmod/*.[ch]' 'pps/*.[ch]' 'libnanokernel/*.[ch]' 'uapi/*.h' \
		'ktests/kunit/*.[ch]' | sort)
else
	files=("$@")
fi
[ ${#files[@]} -gt 0 ] || { echo "checkpatch.sh: no kernel-side files found" >&2; exit 1; }
status=0
for f in "${files[@]}"; do
	# --no-tree: we are out of tree; -f: whole files, not patches.
	if ! out=$(perl "$dir/scripts/checkpatch.pl" --strict --no-tree --terse \
			--show-types --no-summary -f "$f" 2>&1); then
		echo "$out"
		status=1
	fi
done
echo "checkpatch: ${#files[@]} files checked"
exit $status
