#!/usr/bin/env bash
# dkms-source.sh [DEST] - lay out nanotime's kernel sources as a DKMS source
# tree (default /usr/src/nanoclock-<version>): the top-level Kbuild and
# dkms.conf, kmod/, pps/, libnanokernel/ and uapi/ - nothing else, so DKMS
# does not copy build trees or tests. Then: dkms install nanoclock/<version>.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
dest=${1:-/usr/src/nanoclock-$version}
rm -rf "$dest"
mkdir -p "$dest"
cp "$top/Kbuild" "$top/dkms.conf" "$dest/"
for d in kmod pps libnanokernel uapi; do
	# sources only: no objects from an in-tree build
	tar -C "$top" --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' \
		--exclude='.*.cmd' -cf - "$d" | tar -C "$dest" -xf -
done
echo "$dest"
