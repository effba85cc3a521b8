#!/usr/bin/env bash
# cppcheck.sh BUILD_DIR - cppcheck (warning, performance, portability and
# style classes) over every daemon/ and tools/ source that BUILD_DIR's
# compile_commands.json lists, with the include paths and defines the build
# uses. The gate is zero findings. Suppressions: inline, on the line before
# (`// cppcheck-suppress id // reason`), or a whole class in
# scripts/cppcheck/suppressions.txt with its reason next to it.
# scripts/cppcheck/nanotime.cfg declares the library macros cppcheck cannot
# see (it does not read system headers). NANOTIME_CPPCHECK_JOBS sets the
# parallel jobs (default: the number of CPUs).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: cppcheck.sh BUILD_DIR}
db=$build/compile_commands.json
command -v cppcheck >/dev/null ||
	{ echo "cppcheck.sh: cppcheck not installed (apt-get install cppcheck)" >&2; exit 1; }
[ -f "$db" ] || { echo "cppcheck.sh: no $db (configure with CMake first)" >&2; exit 1; }
jobs=${NANOTIME_CPPCHECK_JOBS:-$(nproc)}
out=$build/cppcheck
mkdir -p "$out/cache"
# The compile database cut down to daemon/ and tools/: whatever the build
# compiles there is analysed, added or moved files included.
n=$(python3 - "$db" "$top" "$out/compile_commands.json" <<'EOF'
import json, os, sys
db, top, cut = sys.argv[1], sys.argv[2], sys.argv[3]
entries, seen = [], set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, top)
    if rel.split(os.sep)[0] in ("daemon", "tools") and os.path.exists(path) and path not in seen:
        seen.add(path)
        entries.append(entry)
json.dump(entries, open(cut, "w"), indent=1)
print(len(entries))
EOF
)
[ "$n" -gt 0 ] || { echo "cppcheck.sh: no daemon/ or tools/ sources in $db" >&2; exit 1; }
log=$out/cppcheck.log
start=$(date +%s)
set +e
cppcheck --project="$out/compile_commands.json" --cppcheck-build-dir="$out/cache" \
	--std=c++20 --enable=warning,performance,portability,style \
	--library="$top/scripts/cppcheck/nanotime.cfg" \
	--suppressions-list="$top/scripts/cppcheck/suppressions.txt" --inline-suppr \
	--error-exitcode=1 --quiet -j"$jobs" \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]' >"$log" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ] || [ -s "$log" ]; then
	cat "$log"
	echo "cppcheck.sh: $(grep -c -E ':[0-9]+:[0-9]+: ' "$log" || true) finding(s) in daemon/ and tools/ (status $rc)" >&2
	exit 1
fi
echo "cppcheck.sh: no findings in $n sources of daemon/ and tools/ ($(($(date +%s) - start)) s)"
