#!/usr/bin/env bash
# sparse.sh KDIR OUTDIR - sparse (the kernel's semantic checker, `make C=2`)
# over every source of the kernel modules in kmod/ and pps/ (and the
# libnanokernel core they compile in), built against kernel tree KDIR in a
# mirror under OUTDIR. Any finding fails: the gate is zero findings.
#
# Flags: the kernel's own sparse flags (address spaces, __bitwise endianness,
# context/locking annotations, RCU and __iomem/__user/__percpu checks) plus
# -Wtypesign (signedness mismatches through pointers, e.g. an unsigned
# remainder handed to div_s64_rem()). -Wsparse-all is not used: its extra
# classes flag READ_ONCE()/WRITE_ONCE() on a bool (sizeof _Bool) and the
# kernel headers themselves. Suppressions: none; one would be a -Wno-<class>
# in CHECKFLAGS below with its reason next to it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: sparse.sh KDIR OUTDIR}
out=${2:?usage: sparse.sh KDIR OUTDIR}
command -v sparse >/dev/null ||
	{ echo "sparse.sh: sparse not installed (apt-get install sparse)" >&2; exit 1; }
[ -d "$kdir" ] || { echo "sparse.sh: kernel tree '$kdir' not found" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
for d in Kbuild kmod libnanokernel uapi pps; do
	rm -rf "${out:?}/$d"
	cp -a "$top/$d" "$out/"
done
checkflags=(-Wtypesign)
log=$out/sparse.log
set +e
# C=2: check every source, whether or not it is recompiled
make -s -C "$kdir" M="$out" -j"$(nproc)" C=2 CHECK=sparse CF="${checkflags[*]}" modules >"$log" 2>&1
rc=$?
set -e
findings=$(grep -E ': (warning|error): ' "$log" | grep -v 'Skipping BTF' || true)
if [ $rc -ne 0 ]; then
	cat "$log"
	echo "sparse.sh: the build failed (status $rc)" >&2
	exit 1
fi
if [ -n "$findings" ]; then
	grep -v 'Skipping BTF' "$log"
	echo "sparse.sh: $(echo "$findings" | wc -l) finding(s) in kmod/ and pps/" >&2
	exit 1
fi
n=$(find "$out/kmod" "$out/pps" -name '*.o' ! -name '*.mod.o' ! -path '*/probes/*' | wc -l)
echo "sparse.sh: no findings in $n objects of kmod/ and pps/ (against $kdir)"
