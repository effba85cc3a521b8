#!/usr/bin/env bash
# clang-tidy.sh BUILD_DIR [REGEX] - clang-tidy (the checks in .clang-tidy:
# bugprone, cert, concurrency, performance) over every daemon/ and tools/
# source that BUILD_DIR's compile_commands.json lists, and over the project
# headers they include. The gate is zero findings; .clang-tidy says how to
# suppress one. REGEX (Python syntax, searched in the path relative to the
# top directory) narrows the run to some sources, e.g. 'daemon/io/'.
#
# The sources are whatever the build compiles, so added or moved files are
# analysed without editing this script. The compile commands are GCC's: the
# GCC-only -Wno-* options are left to clang unknown, and -Wno-error keeps
# clang's own compiler warnings (not this gate) from failing a file.
# NANOTIME_TIDY_JOBS sets the parallel runs (default: the number of CPUs).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: clang-tidy.sh BUILD_DIR [REGEX]}
only=${2:-}
db=$build/compile_commands.json
tidy=$(command -v clang-tidy-14 || command -v clang-tidy) ||
	{ echo "clang-tidy.sh: clang-tidy not installed (apt-get install clang-tidy)" >&2; exit 1; }
[ -f "$db" ] || { echo "clang-tidy.sh: no $db (configure with CMake first)" >&2; exit 1; }
jobs=${NANOTIME_TIDY_JOBS:-$(nproc)}
mapfile -t files < <(python3 - "$db" "$top" "$only" <<'EOF'
import json, os, re, sys
db, top, only = sys.argv[1], sys.argv[2], re.compile(sys.argv[3])
seen = set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, top)
    if rel.split(os.sep)[0] not in ("daemon", "tools") or not only.search(rel):
        continue
    if os.path.exists(path) and path not in seen:
        seen.add(path)
        print(path)
EOF
)
[ ${#files[@]} -gt 0 ] ||
	{ echo "clang-tidy.sh: no daemon/ or tools/ sources${only:+ matching '$only'} in $db" >&2; exit 1; }
log=$build/clang-tidy.log
start=$(date +%s)
set +e
printf '%s\0' "${files[@]}" |
	xargs -0 -n1 -P"$jobs" "$tidy" -p "$build" --quiet \
		--header-filter="^$top/(daemon|tools)/" \
		--extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-error >"$log" 2>&1
rc=$?
set -e
# clang-tidy prints "N warnings generated" for the suppressed findings in
# system headers; only diagnostics in the project count.
findings=$(grep -E '^/[^:]+:[0-9]+:[0-9]+: (warning|error):' "$log" | sort -u || true)
if [ $rc -ne 0 ] || [ -n "$findings" ]; then
	grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter' "$log"
	echo "clang-tidy.sh: $(printf '%s' "$findings" | grep -c . || true) finding(s) in daemon/ and tools/ (status $rc); log: $log" >&2
	exit 1
fi
echo "clang-tidy.sh: no findings in ${#files[@]} sources of daemon/ and tools/ ($(($(date +%s) - start)) s, $jobs jobs)"
