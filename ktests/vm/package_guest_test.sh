#!/bin/bash
# package_guest_test.sh XFER: the package test's half inside the VM, a clean
# Debian 12 booted with systemd (ktests/vm/package_test.sh builds it and the
# packages). XFER holds v1/*.deb, v2/*.deb (the same packages rebuilt with a
# higher version) and receives the results. One boot does it all:
#   install v1 -> DKMS built the modules for the running stock kernel, the
#   unit runs nanotimed as _nanotime, nanotimectl tracking answers;
#   configure a nanoclock-backed server (drop-in for port 123) with NTS-KE ->
#   it serves NTP to itself, opens /dev/nanoclock0 in its private /dev,
#   writes its NTS keys in /var/lib/nanotime (OpenSSL loaded at run time:
#   the libssl3 dependency), reads the drift file;
#   upgrade nanotimed to v2 -> configuration and drift file kept, restarted;
#   purge everything -> no process, no unit, no files, module unloadable.
set -uo pipefail
xfer=$1
# every line to the console too: the host's console log shows the progress
exec > >(tee /dev/console) 2>&1
krel=$(uname -r)
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION CMD...: ok when CMD succeeds
	local what=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then ok "$what"; else notok "$what"; sed 's/^/#   /' /tmp/check.out; fi
}
wait_for() { # wait_for SECONDS CMD...
	local t=$1
	shift
	for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
	"$@"
}
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
stamp() { echo "# +$(($(date +%s) - t0)) s: $*"; }

stamp "install v1 (dpkg -i; DKMS builds for $krel)"
if dpkg -i "$xfer"/v1/nanoclock-dkms_*.deb "$xfer"/v1/nanotimed_*.deb \
	"$xfer"/v1/libnanoclock0_*.deb "$xfer"/v1/libnanoclock-dev_*.deb </dev/null 2>&1 | sed -u 's/^/#   /'; then
	ok "dpkg -i v1: nanoclock-dkms nanotimed libnanoclock0 libnanoclock-dev"
else
	notok "dpkg -i v1"
fi
stamp "installed"
check "dkms: nanoclock installed for the running kernel $krel" \
	sh -c "dkms status nanoclock -k $krel | grep -q ': installed'"
for m in nanoclock nanoclock-pps nanoclock-pps-sim nanoclock-pps-bridge nanoclock-pps-gpio nanoclock-pps-ldisc; do
	[ -e "/lib/modules/$krel/updates/dkms/$m.ko" ] || [ -e "/lib/modules/$krel/updates/dkms/$m.ko.xz" ] ||
		notok "dkms: no $m.ko"
done
check "modprobe nanoclock nanoclock-pps: /dev/nanoclock0" sh -c "modprobe nanoclock && modprobe nanoclock-pps && test -c /dev/nanoclock0"
check "nanotimed.service active after install" wait_for 20 systemctl is-active --quiet nanotimed
if ! systemctl is-active --quiet nanotimed; then
	# why: the unit's state and the daemon's own words
	systemctl status --no-pager nanotimed 2>&1 | sed 's/^/#   /'
	journalctl -b --no-pager -u nanotimed 2>&1 | tail -n 30 | sed 's/^/#   /'
fi
check "the daemon runs as _nanotime" sh -c '[ "$(ps -o uid= -C nanotimed | tr -d " ")" = "$(id -u _nanotime)" ]'
check "nanotimectl tracking answers" wait_for 10 nanotimectl tracking
check "the user _nanotime is a system user" sh -c '[ "$(id -u _nanotime)" -lt 1000 ]'
check "conffile /etc/nanotime/nanotimed.toml" sh -c "dpkg-query -W -f='\${Conffiles}' nanotimed | grep -q /etc/nanotime/nanotimed.toml"
check "man nanotimed.toml(5) installed" test -e /usr/share/man/man5/nanotimed.toml.5.gz
check "libnanoclock links: a program reads /dev/nanoclock0" sh -c '
	cat >/tmp/r.c <<EOF
#include <libnanoclock.h>
#include <stdio.h>
int main(void)
{
	struct nanoclock *nc = nanoclock_open(0, 0);
	struct timespec ts;
	return !nc || nanoclock_gettime(nc, &ts);
}
EOF
	cc -o /tmp/r /tmp/r.c -lnanoclock && /tmp/r'

stamp "configure: nanoclock backend, server on 127.0.0.1:123, NTS-KE, drift 12.5 ppm"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -keyout /etc/nanotime/nts.key -out /etc/nanotime/nts.crt >/dev/null 2>&1
chgrp _nanotime /etc/nanotime/nts.key && chmod 0640 /etc/nanotime/nts.key
cat >/etc/nanotime/nanotimed.toml <<'EOF'
# package test: a server that is its own client
[[source]]
server = "127.0.0.1"
minpoll = 3
maxpoll = 3
iburst = true

[server]
listen = ["127.0.0.1:123"]
allow = ["127.0.0.0/8"]

[nts_ke]
listen = ["127.0.0.1:4460"]
certificate = "/etc/nanotime/nts.crt"
private_key = "/etc/nanotime/nts.key"

[clock]
backend = "nanoclock"
device = "/dev/nanoclock0"
steer_realtime = false
drift_file = "/var/lib/nanotime/drift"

[control]
group = "_nanotime"
EOF
conf_sum=$(md5sum </etc/nanotime/nanotimed.toml)
mkdir -p /etc/systemd/system/nanotimed.service.d
cp /usr/share/doc/nanotimed/examples/serve-port-123.conf /etc/systemd/system/nanotimed.service.d/
systemctl stop nanotimed
echo 12.5 >/var/lib/nanotime/drift
chown _nanotime:_nanotime /var/lib/nanotime/drift
systemctl daemon-reload
systemctl start nanotimed
check "nanotimed active with the test configuration" wait_for 10 systemctl is-active --quiet nanotimed
pid=$(systemctl show -P MainPID nanotimed)
check "the daemon has /dev/nanoclock0 open" sh -c "ls -l /proc/$pid/fd | grep -q /dev/nanoclock0"
check "it serves NTP: its own source got replies" \
	wait_for 30 sh -c "nanotimectl --json sourcestats | grep -Eq '\"replies\": *[1-9]'"
check "it wrote its NTS master keys in /var/lib/nanotime (OpenSSL loaded)" \
	wait_for 10 test -s /var/lib/nanotime/nts-keys
check "it read the drift file: frequency 12.5 ppm" \
	sh -c "journalctl -b -u nanotimed | grep -q 'frequency 12.50* ppm from /var/lib/nanotime/drift'"
check "its view of /var/lib/nanotime is writable by its user (drift file)" \
	nsenter -t "$pid" -m -S "$(id -u _nanotime)" -G "$(id -g _nanotime)" \
	sh -c 'echo 12.5 >/var/lib/nanotime/drift.probe && rm /var/lib/nanotime/drift.probe'
check "/etc is read-only for it (ProtectSystem=strict)" \
	sh -c "! nsenter -t $pid -m -S 0 touch /etc/nanotime/probe 2>/dev/null"
systemd-analyze security nanotimed.service --no-pager 2>/dev/null | tail -n 1 | sed 's/^/# online, with the port-123 drop-in: /'
nanotimectl sourcestats | sed 's/^/#   /'

stamp "upgrade nanotimed and libnanoclock to v2"
drift_before=$(cat /var/lib/nanotime/drift)
check "dpkg -i v2 nanotimed libnanoclock0 libnanoclock-dev (no conffile prompt)" \
	dpkg -i "$xfer"/v2/nanotimed_*.deb "$xfer"/v2/libnanoclock0_*.deb "$xfer"/v2/libnanoclock-dev_*.deb </dev/null
check "upgraded to $(dpkg-deb -f "$xfer"/v2/nanotimed_*.deb Version)" \
	sh -c "[ \"\$(dpkg-query -W -f='\${Version}' nanotimed)\" = \"$(dpkg-deb -f "$xfer"/v2/nanotimed_*.deb Version)\" ]"
check "configuration kept" sh -c "[ \"\$(md5sum </etc/nanotime/nanotimed.toml)\" = '$conf_sum' ]"
check "drift file kept" sh -c "[ \"\$(cat /var/lib/nanotime/drift)\" = '$drift_before' ]"
check "restarted by the upgrade" sh -c "wait_pid=\$(systemctl show -P MainPID nanotimed); [ \"\$wait_pid\" != $pid ] && [ \"\$wait_pid\" != 0 ]"
check "active and answering after the upgrade" wait_for 10 nanotimectl tracking

stamp "purge"
check "apt-get purge" apt-get purge -y nanotimed nanoclock-dkms libnanoclock0 libnanoclock-dev </dev/null
check "no nanotimed process" sh -c "! pgrep -x nanotimed"
check "no nanotimed unit" sh -c "! systemctl cat nanotimed.service"
for p in /etc/nanotime /var/lib/nanotime /run/nanotime /usr/src/nanoclock-* \
	/lib/systemd/system/nanotimed.service /usr/sbin/nanotimed /var/lib/dkms/nanoclock \
	"/lib/modules/$krel/updates/dkms/nanoclock.ko"; do
	[ -e "$p" ] && notok "left behind: $p"
done
rm -rf /etc/systemd/system/nanotimed.service.d # the admin's own drop-in
check "dpkg knows nothing of them" sh -c "! dpkg -l nanotimed nanoclock-dkms libnanoclock0 2>/dev/null | grep -q '^[ir]'"
check "nothing holds the module: rmmod" sh -c "rmmod nanoclock_pps nanoclock"
stamp "done, $fails failure(s)"
[ "$fails" -eq 0 ]
