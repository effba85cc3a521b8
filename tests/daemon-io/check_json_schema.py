#!/usr/bin/python3
"""Checks nanotimectl --json output against the versioned JSON Schema.

Usage: check_json_schema.py SCHEMA FILE...
Each FILE holds one JSON object {"<view>": <data>, ...} (ctl_json_dump's
output) or, with --view NAME FILE, one view's data as nanotimectl --json
prints it. Every view's data must validate against the schema's
$defs/<view>, whose schema_version is a constant: a field renamed, removed
or added without the schema following fails here.
"""
import json
import sys

import jsonschema


def check(schema, view, data, where):
    defs = schema["$defs"]
    if view not in defs:
        sys.exit(f"{where}: view {view!r} is not in the schema")
    sub = dict(defs[view])
    sub["$defs"] = defs
    errors = sorted(jsonschema.Draft202012Validator(sub).iter_errors(data), key=str)
    for e in errors:
        path = "/".join(str(p) for p in e.absolute_path)
        print(f"{where}: {view}/{path}: {e.message}", file=sys.stderr)
    return not errors


def main(argv):
    schema = json.load(open(argv[1]))
    ok = True
    args = argv[2:]
    while args:
        if args[0] == "--view":
            view, path = args[1], args[2]
            ok &= check(schema, view, json.load(open(path)), path)
            args = args[3:]
            continue
        path = args[0]
        views = json.load(open(path))
        for view, data in views.items():
            ok &= check(schema, view, data, path)
        # Every view the schema documents is one the daemon answers.
        missing = set(schema["$defs"]) - set(views) - {"schema_version"}
        missing = {m for m in missing if not m.startswith("_")}
        if missing:
            print(f"{path}: documented but not answered: {sorted(missing)}", file=sys.stderr)
            ok = False
        args = args[1:]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
