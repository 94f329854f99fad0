#!/usr/bin/env bash
# README's table of what each make target installs names exactly the Debian
# packages of the Makefile's lists (issue #14: `make test` installed
# chromium, which README did not name). Rows: `make`/`make demo`/`make
# install` = DEPS_BUILD; `make test`, `make bench` = what DEPS_TEST,
# DEPS_BENCH add to it; `make fuzz` = what its rule adds. Every
# install-missing call of the Makefile must be one of these four.
# usage: ops14_readme_deps.sh SOURCE_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
src=$1
if ! python3 - "$src/Makefile" "$src/README.md" <<'EOF'
import re, sys

make = open(sys.argv[1]).read().replace("\\\n", " ")
readme = open(sys.argv[2]).read()

def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)

def var(name):
    m = re.search(r"^%s\s*:?=(.*)$" % name, make, re.M)
    if not m:
        fail("Makefile has no %s" % name)
    return m.group(1).split()

build = set(var("DEPS_BUILD"))
want = {"build": build}
for row, name in (("test", "DEPS_TEST"), ("bench", "DEPS_BENCH")):
    words = var(name)
    if "$(DEPS_BUILD)" not in words:
        fail("%s does not start from DEPS_BUILD" % name)
    want[row] = set(words) - {"$(DEPS_BUILD)"}
calls = re.findall(r"\$\(call install-missing,(\$\([A-Z_]+\)|[^)]*)\)", make)
lists = {"$(DEPS_BUILD)", "$(DEPS_TEST)", "$(DEPS_BENCH)"}
extra = [c for c in calls if c.strip() not in lists]
if len(extra) != 1:
    fail("expected one install-missing call besides the DEPS_* lists "
         "(make fuzz), found %r" % extra)
fuzz_rule = re.search(r"^fuzz:\s*deps\b", make, re.M)
if not fuzz_rule:
    fail("make fuzz no longer depends on deps (DEPS_BUILD)")
want["fuzz"] = set(extra[0].split())

rows = {"build": r"^\| `make`, `make demo`, `make install` \|(.*)\|$",
        "test": r"^\| `make test` \|(.*)\|$",
        "bench": r"^\| `make bench` \|(.*)\|$",
        "fuzz": r"^\| `make fuzz` \|(.*)\|$"}
for row, pat in rows.items():
    m = re.search(pat, readme, re.M)
    if not m:
        fail("README has no table row for %s" % row)
    named = {w for w in re.findall(r"`([^`]*)`", m.group(1))
             if re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", w)}
    if named != want[row]:
        fail("README's %s row names %s; the Makefile installs %s "
             "(missing from README: %s; not in the Makefile: %s)"
             % (row, sorted(named), sorted(want[row]),
                sorted(want[row] - named), sorted(named - want[row])))
print("PASS: README names exactly the packages each make target installs")
EOF
then
	exit 1
fi
