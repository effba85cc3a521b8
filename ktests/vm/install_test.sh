#!/usr/bin/env bash
# install_test.sh BUILD_DIR KERNEL_RELEASE: install nanotime the two ways a
# user would, into scratch trees under BUILD_DIR (the host system is not
# touched), then prove the results work in the stock kernel:
#   1. DKMS: scripts/dkms-source.sh + dkms add/install with private
#      --sourcetree/--dkmstree/--installtree;
#   2. cmake --install with DESTDIR (components kmod, uapi, libnanoclock):
#      the module, <linux/nanoclock.h>,
#      <libnanoclock.h> and libnanoclock; a program built against the installed
#      headers and library only.
# In the VM: insmod the DKMS-built module, read the clock through the
# installed library, rmmod.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
krel=$2
work=$build/install-test
rm -rf "$work"
mkdir -p "$work/src" "$work/dkms" "$work/modules/$krel" "$work/destdir"
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")

echo "# dkms: nanoclock/$version for $krel"
"$top/scripts/dkms-source.sh" "$work/src/nanoclock-$version" >/dev/null
trees=(--sourcetree "$work/src" --dkmstree "$work/dkms" --installtree "$work/modules")
dkms add -m nanoclock -v "$version" "${trees[@]}" >"$work/dkms.log" 2>&1
if ! dkms install -m nanoclock -v "$version" -k "$krel" "${trees[@]}" >>"$work/dkms.log" 2>&1; then
	cat "$work/dkms.log" "$work"/dkms/nanoclock/"$version"/build/make.log 2>/dev/null
	echo "not ok - dkms install"
	exit 1
fi
ko=$(find "$work/modules" -name 'nanoclock.ko*' | head -n1)
[ -n "$ko" ] || { echo "not ok - dkms installed no nanoclock.ko"; find "$work/modules"; exit 1; }
for m in nanoclock-pps nanoclock-pps-sim nanoclock-pps-bridge nanoclock-pps-gpio nanoclock-pps-ldisc; do
	[ -e "$(dirname "$ko")/$m.ko" ] || { echo "not ok - dkms installed no $m.ko"; exit 1; }
done
echo "ok - dkms install: ${ko#"$work"/} and the five PPS modules"

echo "# cmake --install (DESTDIR)"
for c in kmod uapi libnanoclock; do
	DESTDIR=$work/destdir cmake --install "$build" --prefix /usr/local --component "$c" \
		>>"$work/cmake-install.log"
done
[ -e "$work/destdir/lib/modules/$krel/updates/nanoclock.ko" ] ||
	{ echo "not ok - cmake --install: nanoclock.ko missing"; exit 1; }
prefix=$work/destdir/usr/local
for f in include/linux/nanoclock.h include/libnanoclock.h lib/libnanoclock.a; do
	[ -e "$prefix/$f" ] || { echo "not ok - cmake --install: $f missing"; exit 1; }
done
so=$(find "$prefix/lib" -name 'libnanoclock.so.*' | head -n1)
[ -n "$so" ] || { echo "not ok - cmake --install: libnanoclock.so missing"; exit 1; }
echo "ok - cmake --install: headers, libnanoclock.a, ${so##*/}"

# A user's program, built only from what was installed.
cat >"$work/reader.c" <<'PROG'
#include <libnanoclock.h>
#include <stdio.h>
int main(void)
{
	struct nanoclock *nc = nanoclock_open(0, 0);
	struct timespec ts;

	if (!nc || nanoclock_gettime(nc, &ts))
		return 1;
	printf("nanoclock0 %lld.%09ld (mmap page %s)\n", (long long)ts.tv_sec,
	       ts.tv_nsec, nanoclock_has_page(nc) ? "yes" : "no");
	nanoclock_close(nc);
	return 0;
}
PROG
# A library from a sanitizer build (the test suite's) needs its program
# built with the same runtime, as any user of that build would.
san=()
if nm -D "$so" 2>/dev/null | grep -q __asan_init; then
	san=(-fsanitize=address,undefined)
fi
cc -Wall -Werror "${san[@]}" -I"$prefix/include" -o "$work/reader" "$work/reader.c" \
	-L"$prefix/lib" -lnanoclock -Wl,-rpath,"$prefix/lib"
echo "ok - a program builds against the installed headers and library"

echo "# in the VM (stock kernel): insmod the DKMS module, read through the installed library"
log=$work/vm.log
set +e
"$top/ktests/vm-run" --kernel stock --timeout 300 --log "$log" -- \
	sh -c "insmod '$ko' && insmod '$(dirname "$ko")/nanoclock-pps.ko' &&
	       insmod '$(dirname "$ko")/nanoclock-pps-sim.ko' && '$work/reader' &&
	       rmmod nanoclock_pps_sim nanoclock_pps nanoclock" >/dev/null
rc=$?
set -e
"$top/ktests/ktap-check" --kernel-only "$log" >/dev/null || rc=1
grep -a '^nanoclock0 ' "$log" | tr -d '\r' || true
if [ $rc -ne 0 ]; then
	cat "$log"
	echo "not ok - VM run (status $rc)"
	exit 1
fi
echo "ok - DKMS modules load (clock + PPS sim), installed library reads the clock, all unload"
