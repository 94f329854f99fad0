#!/usr/bin/env bash
# A simulation this machine cannot hold fails at start, naming the number
# it could hold and why, before any round (issue #12, "Bad input and
# faults"): no output directory is made, no "out of memory" after a
# partial start.
#   tests/pop12_capacity.sh BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=${1:?usage: pop12_capacity.sh BUILD_DIR}
sim=$build/sim/privfl-sim
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pfl-pop12.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# expect_refused NAME ARGS...: exit status 1, the reason on stderr.
expect_refused() {
	local name=$1 rc=0
	shift
	"$sim" --dataset fashion-mnist --out "$tmp/$name" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	if [ "$rc" != 1 ]; then
		echo "FAIL: $name: exit status $rc, expected 1" >&2
		cat "$tmp/$name.err" >&2
		exit 1
	fi
	if [ -e "$tmp/$name" ]; then
		echo "FAIL: $name: started (made its output directory)" >&2
		exit 1
	fi
	if ! grep -q "cannot hold this simulation" "$tmp/$name.err" ||
		! grep -q "at most [0-9]" "$tmp/$name.err"; then
		echo "FAIL: $name: no reason with a number:" >&2
		cat "$tmp/$name.err" >&2
		exit 1
	fi
	sed -n 's/.*cannot hold this simulation: /  /p' "$tmp/$name.err"
}

# Every client of a cohort of a million holds its secret key all round
# with secure aggregation: memory mappings (or memory) run out.
expect_refused cohort --clients 1000000 --per-round 1000000 \
	--secagg secagg --model mlp
# A billion clients heard from over a million rounds: the aggregator's
# record of them does not fit.
expect_refused population --clients 1000000000 --per-round 1000 \
	--rounds 1000000 --model logreg
echo "pop12_capacity: ok"
