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
pkg=$dir/prefix/lib/python3/dist-packages/privfl
[ -f "$pkg/__init__.py" ] && [ -f "$pkg/_libdir.py" ] || {
	echo "FAIL: no package in $pkg" >&2; exit 1; }
lib=$(find "$dir/prefix" -name 'libprivfl.so.0' | head -n 1)
[ -n "$lib" ] || { echo "FAIL: no libprivfl.so.0 installed" >&2; exit 1; }
if find "$dir/prefix" -name 'libprivfl.so' | grep -q .; then
	echo "FAIL: a libprivfl.so link was installed (-lprivfl would take it)" >&2
	exit 1
fi
cd "$dir"
out=$(env -u PRIVFL_LIBRARY PYTHONPATH="$dir/prefix/lib/python3/dist-packages" \
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
