#!/usr/bin/env python3
"""00-layout: the tree keeps the architecture the README draws.

  - common/ is layered on proto/ (the event schema): runtime < db, proto < bus,
    http < worker < platform. A file
    under common/<folder>/ includes headers of its own folder and of folders on a
    lower layer only (never one above it, nor one beside it on the same layer), and
    never a service's or a tool's header;
  - a header named *_internal.h is included only by files in its own folder (the
    parts of one module), so a module's callers see its public header alone;
  - a service includes common's headers and its own, never another service's;
    a tool includes common's headers and its own;
  - no C source or header under common/, services/ or tools/ is longer than
    MAX_LINES (generated files are built under build/, not committed).

Every include is resolved the way the compiler resolves it (the including file's
folder first, then -Icommon, and -Iservices/<name> for a service), so a header that
does not exist is reported too. The check runs first on a small tree that breaks
each rule, and fails if it misses any of them: a layout test that cannot fail
proves nothing."""
import os
import re
import sys
import tempfile

ROOT = os.environ.get("RF_REPO_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
MAX_LINES = 650  # "no file over ~600 lines"
# Layer of each folder of common/ (a folder may include folders of a lower layer).
LAYERS = {"runtime": 0, "db": 1, "proto": 1, "bus": 2, "http": 2, "worker": 3, "platform": 4}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root, top):
    base = os.path.join(root, top)
    for dirpath, _dirs, files in os.walk(base):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(dirpath, f), root)


def resolve(root, path, inc):
    """The repository path the compiler would open for `#include "inc"` in path,
    or None. Search order: the file's folder, common/, then the service's root."""
    parts = path.split(os.sep)
    dirs = [os.path.dirname(path), "common", "proto"]
    if parts[0] == "services":
        dirs.append(os.path.join("services", parts[1]))
    for d in dirs:
        cand = os.path.normpath(os.path.join(d, inc))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def check(root):
    """(problems, number of includes checked) for the tree at root."""
    problems, checked = [], 0
    files = [p for top in ("common", "services", "tools") for p in sources(root, top)]
    for path in files:
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{path}: {lines} lines (at most {MAX_LINES}): split it by job")
        parts = path.split(os.sep)
        for inc in INCLUDE.findall(text):
            checked += 1
            target = resolve(root, path, inc)
            if target is None:
                if not inc.endswith(".def"):  # proto/events.def is found via -Iproto
                    problems.append(f"{path}: includes \"{inc}\", which is no file of the tree")
                continue
            tparts = target.split(os.sep)
            if os.path.basename(target).endswith("_internal.h") and \
                    os.path.dirname(target) != os.path.dirname(path):
                problems.append(f"{path}: includes {target}, the internals of another folder")
            if parts[0] == "common":
                mine = parts[1]
                if tparts[0] == "proto":  # the event schema, below every layer
                    continue
                if tparts[0] != "common":
                    problems.append(f"{path}: common/ includes {target} (a {tparts[0]} header)")
                    continue
                theirs = tparts[1]
                if mine not in LAYERS:
                    problems.append(f"{path}: common/{mine}/ is not a known layer: add it to "
                                    "LAYERS here and to the README's architecture")
                    continue
                if theirs != mine and LAYERS.get(theirs, 99) >= LAYERS[mine]:
                    problems.append(f"{path}: common/{mine}/ (layer {LAYERS[mine]}) includes "
                                    f"{target} (common/{theirs}/, layer "
                                    f"{LAYERS.get(theirs, '?')}): dependencies run downward only")
            elif parts[0] in ("services", "tools"):
                if tparts[0] != "common" and tparts[:2] != parts[:2] and tparts[0] != "proto":
                    problems.append(f"{path}: includes {target}, which belongs to "
                                    f"{'/'.join(tparts[:2])}")
    return problems, checked, len(files)


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as f:
        f.write(text)


def self_test():
    """A tree that breaks each rule once; every break must be reported."""
    with tempfile.TemporaryDirectory(prefix="rf-layout-") as root:
        write(root, "common/runtime/log.h", '#include "bus/bus.h"\n')          # upward
        write(root, "common/db/db.h", '#include "proto/proto.h"\n')            # sideways
        write(root, "common/proto/proto.h", "\n")
        write(root, "common/bus/bus.h", '#include "db/db.h"\n')                # fine
        write(root, "common/bus/bus_internal.h", "\n")
        write(root, "common/http/http.c", '#include "bus/bus_internal.h"\n')   # internals
        write(root, "common/worker/w.c", '#include "missing/nothing.h"\n')     # no such file
        write(root, "services/a/a.h", "\n")
        write(root, "services/b/b.c", '#include "../a/a.h"\n')                 # other service
        write(root, "services/b/feeds/feeds_internal.h", "\n")
        write(root, "services/b/b2.c", '#include "feeds/feeds_internal.h"\n')  # internals
        write(root, "tools/t/t.c", '#include "../../services/a/a.h"\n')        # tool -> service
        write(root, "common/runtime/big.c", "x\n" * (MAX_LINES + 1))           # too long
        problems, _checked, _files = check(root)
        want = ["common/runtime/log.h", "common/db/db.h", "common/http/http.c",
                "common/worker/w.c", "services/b/b.c", "services/b/b2.c", "tools/t/t.c",
                "common/runtime/big.c"]
        missed = [w for w in want if not any(p.startswith(w + ":") for p in problems)]
        wrong = [p for p in problems if p.startswith("common/bus/bus.h")]
        return missed, wrong


def main():
    missed, wrong = self_test()
    if missed or wrong:
        for m in missed:
            print(f"FAIL 00-layout: the check missed the broken rule in {m}")
        for w in wrong:
            print(f"FAIL 00-layout: the check refused an allowed include: {w}")
        return 1
    problems, checked, files = check(ROOT)
    if files < 50 or checked < 150:
        print(f"FAIL 00-layout: only {files} files and {checked} includes read: wrong root?")
        return 1
    for p in problems:
        print("FAIL:", p)
    print(f"layout: {files} files, {checked} includes checked, {len(problems)} problems "
          f"(layers: {', '.join(f'{k} {v}' for k, v in sorted(LAYERS.items(), key=lambda kv: kv[1]))})")
    if problems:
        print(f"FAIL 00-layout: {len(problems)} problems, the first: {problems[0]}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
