#!/usr/bin/env bash
# package_test.sh BUILD_DIR: the Debian packages (debian/) installed into a
# clean Debian 12 and booted, in one QEMU run (TCG, the stock kernel):
#   1. scripts/build-debs.sh builds v1 and, in the same tree (incremental),
#      v2 = the same sources as version <v1>+rebuild1 (for the upgrade);
#      lintian must be clean at error and warning level;
#   2. a Debian 12 root from the archive this host uses (mmdebstrap, minbase
#      plus systemd, dkms, the stock kernel image and headers and the
#      packages' run-time dependencies), as an ext4 image cached in
#      $NANOTIME_CACHE (/var/cache/nanotime) keyed by the package list and
#      this script: built once (a few minutes), then reused;
#   3. boot it (writes go to a throw-away snapshot) with a unit that runs
#      ktests/vm/package_guest_test.sh from a 9p share: install, DKMS build,
#      start, tracking, serve, upgrade, purge (the guest script's header).
# Prints the guest's TAP lines and the wall time of each phase.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
work=$build/package-test
cache=${NANOTIME_CACHE:-/var/cache/nanotime}
t0=$(date +%s)
phase() { echo "# +$(($(date +%s) - t0)) s: $*"; }
mkdir -p "$work" "$cache"
rm -rf "$work/xfer"
mkdir -p "$work/xfer/v1" "$work/xfer/v2"

# ---- 1. the packages ----
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
phase "building the packages $version (scripts/build-debs.sh)"
# no -dbgsym packages: the test does not install them, and compressing the
# debug information is most of a rebuild's time
export DEB_BUILD_OPTIONS="noautodbgsym ${DEB_BUILD_OPTIONS:-}"
"$top/scripts/build-debs.sh" "$work/debs" >/dev/null ||
	{ echo "not ok - build-debs $version"; exit 1; }
cp "$work"/debs/*.deb "$work/xfer/v1/"
echo "ok - packages $version built, lintian clean: $(cd "$work/xfer/v1" && echo *.deb)"
NANOTIME_DEB_VERSION=$version+rebuild1 "$top/scripts/build-debs.sh" "$work/debs" >/dev/null ||
	{ echo "not ok - build-debs $version+rebuild1"; exit 1; }
cp "$work"/debs/*.deb "$work/xfer/v2/"
echo "ok - packages $version+rebuild1 built for the upgrade"
cp "$top/ktests/vm/package_guest_test.sh" "$work/xfer/"

# ---- 2. the Debian 12 root ----
krel=${NANOTIME_STOCK_KREL:-$(ls -1 /boot/vmlinuz-*-amd64 | sed 's|/boot/vmlinuz-||' | sort -V | tail -n 1)}
# Run-time dependencies of the packages (names only; the archive resolves
# versions), plus what the guest test uses.
deps=$(for d in "$work"/xfer/v1/*.deb; do dpkg-deb -f "$d" Depends; done |
	tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$' |
	grep -Ev '^(nanotimed|nanoclock-dkms|libnanoclock0|libnanoclock-dev)$' | sort -u)
pkgs=$(printf '%s\n' systemd systemd-sysv udev dbus kmod procps dkms gcc make libc6-dev \
	initramfs-tools "linux-image-$krel" "linux-headers-$krel" openssl tzdata $deps | sort -u)
mirror_lines() {
	# the archive (and suites) this host's apt uses: deb822 sources
	awk '/^URIs:/ {u=$2} /^Suites:/ {for (i = 2; i <= NF; i++) print "deb " u " " $i " main"}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null
	grep -h '^deb ' /etc/apt/sources.list 2>/dev/null || true
}
hook=$(cat <<'EOF'
set -e
root=$1
cat >"$root/etc/systemd/system/nanotime-pkgtest.service" <<'UNIT'
[Unit]
Description=nanotime package test (ktests/vm/package_test.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/nanotime-pkgtest
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
UNIT
cat >"$root/usr/local/sbin/nanotime-pkgtest" <<'RUN'
#!/bin/sh
# Run the test from the host's share, report its status there, power off.
mkdir -p /xfer
modprobe 9pnet_virtio; modprobe 9p
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 xfer /xfer; then
	bash /xfer/package_guest_test.sh /xfer >/xfer/guest.log 2>&1
	echo $? >/xfer/rc
	sync
	umount /xfer
fi
systemctl poweroff --force --force
RUN
chmod +x "$root/usr/local/sbin/nanotime-pkgtest"
ln -s /etc/systemd/system/nanotime-pkgtest.service \
	"$root/etc/systemd/system/multi-user.target.wants/nanotime-pkgtest.service"
echo nanotime-pkgtest >"$root/etc/hostname"
EOF
)
key=$( (echo "$pkgs"; mirror_lines; echo "$hook"; echo v1) | sha256sum | cut -c1-16)
rootdir=$cache/pkgroot-$key
if [ ! -f "$rootdir/root.img" ]; then
	phase "making the Debian 12 root (mmdebstrap, cached as $rootdir)"
	rm -rf "$rootdir"
	mkdir -p "$rootdir"
	stage=$rootdir/stage
	printf '%s\n' "$hook" >"$rootdir/hook.sh"
	mapfile -t mirrors < <(mirror_lines)
	mmdebstrap --variant=minbase --include="$(echo $pkgs | tr ' ' ',')" \
		--customize-hook="sh $rootdir/hook.sh \"\$1\"" \
		bookworm "$stage" "${mirrors[@]}" >"$rootdir/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$rootdir/mmdebstrap.log"; echo "not ok - mmdebstrap"; rm -rf "$stage"; exit 1; }
	cp "$stage/boot/vmlinuz-$krel" "$rootdir/vmlinuz"
	cp "$stage/boot/initrd.img-$krel" "$rootdir/initrd.img"
	size=$(( $(du -sm "$stage" | cut -f1) + 1024 ))
	mkfs.ext4 -q -F -L nanotime-root -d "$stage" "$rootdir/root.img.tmp" "${size}M"
	mv "$rootdir/root.img.tmp" "$rootdir/root.img"
	rm -rf "$stage"
	phase "root image made (${size} MiB)"
else
	phase "reusing the Debian 12 root $rootdir"
fi

# ---- 3. one boot ----
phase "booting it (TCG; install, DKMS, start, serve, upgrade, purge)"
case "${NANOTIME_VM_ACCEL:-tcg}" in
kvm) accel=(-enable-kvm -cpu host) ;;
*) accel=(-accel tcg -cpu max) ;;
esac
set +e
timeout --signal=KILL "${NANOTIME_PACKAGE_TEST_TIMEOUT:-900}" qemu-system-x86_64 "${accel[@]}" \
	-smp 2 -m 1536 -display none -monitor none -serial "file:$work/console.log" \
	-no-reboot -nodefaults \
	-kernel "$rootdir/vmlinuz" -initrd "$rootdir/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0 pci=noacpi" \
	-drive "file=$rootdir/root.img,if=virtio,format=raw,snapshot=on" \
	-virtfs "local,path=$work/xfer,mount_tag=xfer,security_model=none,multidevs=remap" \
	</dev/null
qrc=$?
set -e
cat "$work/xfer/guest.log" 2>/dev/null || true
phase "VM done"
if [ ! -f "$work/xfer/rc" ]; then
	tail -n 60 "$work/console.log"
	echo "not ok - the VM reported no result (qemu status $qrc)"
	exit 1
fi
rc=$(cat "$work/xfer/rc")
if [ "$rc" != 0 ]; then
	echo "not ok - package test in the VM (status $rc; console: $work/console.log)"
	exit 1
fi
echo "ok - installed, DKMS-built, started, served, upgraded and purged in a clean Debian 12"
