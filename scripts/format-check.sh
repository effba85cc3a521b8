#!/usr/bin/env bash
# format-check.sh - userspace C++ must match .clang-format exactly.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' '*.cc' '*.h' |
	grep -vE '^(kmod|pps|libnanokernel|libnanoclock|uapi|ktests/kunit)/' | grep -v '^build' | sort)
[ ${#files[@]} -gt 0 ] || { echo "format-check: no userspace C++ files"; exit 0; }
clang-format --dry-run --Werror "${files[@]}"
echo "format-check: ${#files[@]} files clean"
