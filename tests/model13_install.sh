#!/usr/bin/env bash
# make install puts the Python package and libprivfl.so.0 under the prefix
# (docs/PYTHON.md, "Where the package is"); the installed package imports
# with PYTHONPATH pointing at the prefix only, finds the installed library
# (not the build tree's), and reads a model layout; -lprivfl still links
# the static library (no libprivfl.so link is installed).
# usage: model13_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$2
dir=$(mktemp -d /tmp/privfl-m13inst.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" > "$dir/install.log"
init=$(find "$dir/prefix" -path '*/dist-packages/privfl/__init__.py' | head -n 1)
[ -n "$init" ] || { echo "FAIL: no package installed" >&2; exit 1; }
pkg=$(dirname "$init")
site=$(dirname "$pkg")
[ -f "$pkg/_libdir.py" ] || { echo "FAIL: no _libdir.py in $pkg" >&2; exit 1; }
# Debian's python3 would find it under /usr/local and /usr without
# PYTHONPATH: the directory is on its search path for both prefixes
rel=${site#"$dir/prefix/"}
/usr/bin/python3 - "$rel" <<'PY' || { echo "FAIL: $rel is not on /usr/bin/python3's path under /usr/local and /usr" >&2; exit 1; }
import sys
rel = sys.argv[1]
sys.exit(0 if all(p + "/" + rel in sys.path for p in ("/usr/local", "/usr"))
         else 1)
PY
lib=$(find "$dir/prefix" -name 'libprivfl.so.0' | head -n 1)
[ -n "$lib" ] || { echo "FAIL: no libprivfl.so.0 installed" >&2; exit 1; }
if find "$dir/prefix" -name 'libprivfl.so' | grep -q .; then
	echo "FAIL: a libprivfl.so link was installed (-lprivfl would take it)" >&2
	exit 1
fi
cd "$dir"
out=$(env -u PRIVFL_LIBRARY PYTHONPATH="$site" \
	/usr/bin/python3 - "$dir" <<'PY'
import os, sys
import numpy as np
import privfl, privfl.safetensors as st
prefix = sys.argv[1]
lib = privfl.library._name
assert lib.startswith(prefix), lib  # the installed one, not the build's
st.save({"w": np.zeros((2, 3), np.float32), "n": np.array(1, np.int64)},
        "m.safetensors")
L = privfl.Layout("m.safetensors")
print(L.num_params, len(L.tensors), L.tensors[1].federated, lib)
PY
)
echo "$out"
case "$out" in
"6 2 True "*) ;;
*) echo "FAIL: installed package: $out" >&2; exit 1 ;;
esac
