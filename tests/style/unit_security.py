#!/usr/bin/env python3
"""unit_security.py SRC: the shipped systemd unit's sandbox.

1. `systemd-analyze security --offline=true` rates
   daemon/systemd/nanotimed.service at an exposure of 2.0 or less;
2. every setting it still marks with a cross is named in the unit's
   comments (the reason the daemon needs it);
3. the unit's SystemCallFilter= allows every system call of the daemon's own
   seccomp allow-list (daemon/nanotimed/hardening.cpp), so the outer fence
   never refuses what the daemon's inner one permits.
"""
import re
import subprocess
import sys
from pathlib import Path

MAX_EXPOSURE = 2.0


def syscall_groups():
    """{"@group": [members, possibly "@subgroup"]} from systemd-analyze."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], check=True,
                         capture_output=True, text=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def expand(names, groups):
    calls = set()
    for name in names:
        if name.startswith("@"):
            calls |= expand(groups[name], groups)
        else:
            calls.add(name)
    return calls


def unit_allowed_calls(unit_text, groups):
    """The set SystemCallFilter= lines allow, applied in order (systemd's rule:
    the first line decides allow- or deny-list, later ones add or remove)."""
    allowed = None
    for value in re.findall(r"^SystemCallFilter=(.*)$", unit_text, re.M):
        deny = value.startswith("~")
        names = expand(value.lstrip("~").split(), groups)
        if allowed is None:
            if deny:
                return None  # a deny-list: nothing to compare
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    return allowed


def daemon_allow_list(hardening_cpp, groups):
    text = hardening_cpp.read_text()
    m = re.search(r"seccomp_allow_list\(\) \{.*?= \{(.*?)\n    \};", text, re.S)
    if not m:
        sys.exit(f"no seccomp_allow_list() in {hardening_cpp}: has it moved?")
    body = re.sub(r"//[^\n]*", "", m.group(1))
    names = set(re.findall(r'"([a-z0-9_]+)"', body))
    names |= set(re.findall(r"SCMP_SYS\((\w+)\)", text))
    known = expand(list(groups), groups)
    return {n for n in names if n in known}


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
    unit = src / "daemon/systemd/nanotimed.service"
    text = unit.read_text()
    errors = []

    report = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                             str(unit)], capture_output=True, text=True).stdout
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", report)
    if not m:
        sys.exit("systemd-analyze security printed no overall exposure:\n" + report)
    exposure = float(m.group(1))
    if exposure > MAX_EXPOSURE:
        errors.append(f"exposure {exposure} > {MAX_EXPOSURE}")
    comments = "\n".join(l for l in text.splitlines() if l.startswith("#"))
    for setting in re.findall(r"^✗ (\S+)", report, re.M):
        if setting not in comments:
            errors.append(f"✗ {setting} is not explained in the unit's comments")

    groups = syscall_groups()
    allowed = unit_allowed_calls(text, groups)
    if allowed is None:
        errors.append("the unit has no SystemCallFilter= allow-list")
    else:
        daemon = daemon_allow_list(src / "daemon/nanotimed/hardening.cpp", groups)
        missing = sorted(daemon - allowed)
        if missing:
            errors.append("SystemCallFilter= refuses calls the daemon allows itself: "
                          + " ".join(missing))
        if len(daemon) < 50:
            errors.append(f"only {len(daemon)} calls read from hardening.cpp: has it changed?")

    for e in errors:
        print("not ok -", e)
    if errors:
        print(report)
        return 1
    print(f"ok - nanotimed.service exposure {exposure} (<= {MAX_EXPOSURE}), every remaining ✗ "
          f"explained, its SystemCallFilter= allows the daemon's {len(daemon)} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
