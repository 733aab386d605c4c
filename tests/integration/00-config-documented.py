#!/usr/bin/env python3
"""00-config-documented: every variable a worker reads is documented in
deploy/env.example with its real default, and the file documents nothing the
binaries do not read (apart from the local set-up's own RF_PG_PORT)."""
import os
import re
import subprocess
import sys

ROOT = os.environ.get("RF_REPO_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("RF_BUILD", os.path.join(ROOT, "build", "release"))
WORKERS = ["intake", "review", "warehouse", "refund", "notification"]
SETUP_ONLY = {"RF_PG_PORT"}

def main():
    read = {}
    for w in WORKERS:
        out = subprocess.run([os.path.join(BUILD, "bin", "rf-" + w), "--print-config"],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, default, _doc = line.split("\t", 2)
            read[name] = "" if default == "(required)" else default
    documented = {}
    with open(os.path.join(ROOT, "deploy", "env.example"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#?\s*(RF_[A-Z0-9_]+)=(.*?)(\s+#.*)?$", line.rstrip("\n"))
            if m:
                documented[m.group(1)] = m.group(2).strip()
    problems = []
    for name, default in sorted(read.items()):
        if name not in documented:
            problems.append(f"{name} is read by a worker but not in deploy/env.example")
        elif documented[name] != default:
            problems.append(f"{name}: env.example says '{documented[name]}', code default is '{default}'")
    for name in sorted(set(documented) - set(read) - SETUP_ONLY):
        problems.append(f"{name} is in deploy/env.example but no worker reads it")
    if len(read) < 25:
        problems.append(f"only {len(read)} variables read: --print-config looks broken")
    for p in problems:
        print("FAIL:", p)
    print(f"config documented: {len(read)} variables checked, {len(problems)} problems")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
