#!/usr/bin/env python3
"""check_man_pages.py SRC: every configuration key, nanotimectl command and
command-line option has an entry in its man page (man/*.scd).

The names come from the code that accepts them, not from a list kept by hand:
  - configuration keys: each `c.only(table, "[section]", {"key", ...})` call
    of daemon/config/config.cpp (the parser refuses any other key), checked
    in nanotimed.toml.5.scd under the heading that names the section;
  - nanotimectl commands: the {"name", "help"} table of
    daemon/nanotimectl/main.cpp and its other add_subcommand("name", ...)
    calls, checked in COMMANDS of nanotimectl.1.scd,
    and the broker-only commands (kBrokerOnly of broker_commands.cpp),
    checked in FLEET COMMANDS;
  - options: every add_option/add_flag of both programs' main.cpp (and of
    nanotimectl's broker_commands.cpp), checked in OPTIONS of
    nanotimed.8.scd and nanotimectl.1.scd.
An entry is a line starting with the bold name (`*key*`). With --self-test
it also removes one entry of each kind from the pages and checks that each
removal is reported, so that the check cannot pass vacuously.
"""
import re
import sys
from pathlib import Path


def config_sections(config_cpp):
    """{"[server]": ["listen", ...], ...} from the parser's c.only() calls."""
    text = config_cpp.read_text()
    sections = {}
    for m in re.finditer(r'\.only\(\s*[*\w]+\s*,\s*"([^"]+)"\s*,\s*\{([^}]*)\}', text, re.S):
        sections[m.group(1)] = re.findall(r'"([^"]+)"', m.group(2))
    if not sections:
        sys.exit(f"no c.only() tables found in {config_cpp}: has the parser changed?")
    return sections


def ctl_commands(main_cpp):
    text = main_cpp.read_text()
    m = re.search(r'commands\s*=\s*\{(.*?)\n\s*\};', text, re.S)
    if not m:
        sys.exit(f"no command table in {main_cpp}")
    names = re.findall(r'\{"([a-z]+)",\s*"', m.group(1))
    # and the commands with arguments of their own (add_subcommand("watch", ...))
    names += re.findall(r'add_subcommand\(\s*"([a-z]+)"', text)
    return sorted(set(names))


def broker_commands(broker_cpp):
    m = re.search(r'kBrokerOnly\[\]\s*=\s*\{([^}]*)\}', broker_cpp.read_text())
    if not m:
        sys.exit(f"no kBrokerOnly table in {broker_cpp}")
    return re.findall(r'"([a-z]+)"', m.group(1))


def long_options(main_cpp):
    text = main_cpp.read_text()
    names = []
    for spec in re.findall(r'add_(?:option|flag)\("([^"]+)"', text):
        longs = [s for s in spec.split(",") if s.startswith("--")]
        names += longs or spec.split(",")[:1]
    if "set_version_flag" in text:
        names.append("--version")
    return names


def blocks(page_lines):
    """[(heading, [lines])] split at every scdoc heading (# or ##)."""
    out, heading, body = [], "", []
    for line in page_lines:
        if line.startswith("#"):
            out.append((heading, body))
            heading, body = line.lstrip("#").strip(), []
        else:
            body.append(line)
    out.append((heading, body))
    return out


def has_entry(lines, name):
    """A line opening with the bold name (an underscore may be escaped)."""
    pattern = re.compile(r"\*" + re.escape(name).replace("_", r"\\?_") + r"\*")
    return any(pattern.match(line) for line in lines)


def check(src, pages):
    errors = []
    toml_blocks = blocks(pages["nanotimed.toml.5.scd"])
    headings = [h for h, _ in toml_blocks]
    for section, keys in config_sections(src / "daemon/config/config.cpp").items():
        if section == "the top level":
            for table in keys:
                if not any(re.match(r"\[+" + re.escape(table) + r"\]+( |$)", h) for h in headings):
                    errors.append(f"nanotimed.toml(5): no section for [{table}]")
            continue
        name = section.strip("[]")
        body = next((b for h, b in toml_blocks if re.match(r"\[+" + re.escape(name) + r"\]+( |$)", h)),
                    None)
        if body is None:
            errors.append(f"nanotimed.toml(5): no section {section}")
            continue
        for key in keys:
            subtable = f"{name}.{key}"
            if any(h.startswith(f"[{subtable}]") for h in headings):
                continue
            if not has_entry(body, key):
                errors.append(f"nanotimed.toml(5): {section} {key} has no entry")

    ctl = blocks(pages["nanotimectl.1.scd"])
    commands_body = next((b for h, b in ctl if h == "COMMANDS"), [])
    # "*offline* [_source_], *online* [_source_]": one entry line may name two.
    for cmd in ctl_commands(src / "daemon/nanotimectl/main.cpp"):
        # "*offline* [_source_], *online* [_source_]": one entry for two
        if not any(line.startswith("*") and f"*{cmd}*" in line for line in commands_body):
            errors.append(f"nanotimectl(1): command {cmd} has no entry")
    fleet_body = next((b for h, b in ctl if h == "FLEET COMMANDS"), [])
    for cmd in broker_commands(src / "daemon/nanotimectl/broker_commands.cpp"):
        if not any(re.match(r"\*" + cmd + r"[* ]", line) for line in fleet_body):
            errors.append(f"nanotimectl(1): fleet command {cmd} has no entry")
    for page, main in (("nanotimectl.1.scd", "daemon/nanotimectl/main.cpp"),
                       ("nanotimectl.1.scd", "daemon/nanotimectl/broker_commands.cpp"),
                       ("nanotimed.8.scd", "daemon/nanotimed/main.cpp")):
        options_body = next((b for h, b in blocks(pages[page]) if h == "OPTIONS"), [])
        # "*-c*, *--config* _file_": the long name anywhere on an entry line
        entries = [line for line in options_body if line.startswith("*")]
        for opt in long_options(src / main):
            if not any(f"*{opt}*" in line for line in entries):
                errors.append(f"{page}: option {opt} has no entry")
    return errors


def drop_entry(lines, name):
    """The page without the entry line of `name` (for --self-test)."""
    out, dropped = [], False
    for line in lines:
        if not dropped and re.match(r"\*" + re.escape(name) + r"\*", line):
            dropped = True
            continue
        out.append(line)
    assert dropped, name
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = Path(args[0] if args else Path(__file__).resolve().parents[2])
    pages = {p.name: p.read_text().splitlines() for p in (src / "man").glob("*.scd")}
    errors = check(src, pages)
    for e in errors:
        print(e)
    if errors:
        return 1
    if "--self-test" in sys.argv:
        for page, name, want in (("nanotimed.toml.5.scd", "drift_file", "[clock] drift_file"),
                                 ("nanotimectl.1.scd", "tracking", "command tracking"),
                                 ("nanotimectl.1.scd", "watch", "command watch"),
                                 ("nanotimectl.1.scd", "clients", "command clients"),
                                 ("nanotimectl.1.scd", "fleet", "fleet command fleet"),
                                 ("nanotimectl.1.scd", "--cacert", "option --cacert"),
                                 ("nanotimed.8.scd", "--check-config", "option --check-config")):
            mutated = dict(pages)
            mutated[page] = drop_entry(pages[page], name)
            found = check(src, mutated)
            if not any(want in e for e in found):
                print(f"self-test: removing {name} from {page} went unnoticed ({found})")
                return 1
        print("self-test: each removed entry was reported")
    keys = sum(len(k) for k in config_sections(src / "daemon/config/config.cpp").values())
    print(f"ok - {keys} configuration keys and tables, the nanotimectl commands and both "
          "programs' options have man-page entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
