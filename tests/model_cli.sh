#!/bin/sh
# privfl model train/eval/info read the architecture from a file's own
# metadata, accept --help, and say why a file is refused: "truncated" or
# "does not match architecture ..." (issue #13, item 5).
# usage: model_cli.sh SOURCE_DIR BUILD_DIR
set -eu
build=$2
privfl=$build/tools/privfl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# a small tabular problem: y = p when a + b > 0
awk 'BEGIN { srand(1); print "a,b,y";
	for (i = 0; i < 300; i++) { a = rand() - 0.5; b = rand() - 0.5;
		printf "%.4f,%.4f,%s\n", a, b, (a + b > 0) ? "p" : "n" } }' \
	> t.csv

for sub in train eval info; do
	"$privfl" model $sub --help > help.txt || fail "model $sub --help"
	grep -q "usage: privfl model" help.txt || fail "model $sub --help text"
done

"$privfl" model train --csv t.csv --label y --model logreg --epochs 20 \
	--lr 0.5 --out m.safetensors > train.txt || fail "train"
# eval and init without --model: the file says logreg
"$privfl" model eval --csv t.csv --label y --weights m.safetensors \
	> eval.txt 2> err.txt || { cat err.txt >&2; fail "eval by metadata"; }
grep -q "accuracy=0.9" eval.txt || fail "eval accuracy: $(cat eval.txt)"
"$privfl" model train --csv t.csv --label y --init m.safetensors \
	--epochs 1 > /dev/null 2> err.txt || { cat err.txt >&2; fail "init"; }
"$privfl" model info m.safetensors > info.txt || fail "info"
grep -q "^architecture logreg, input 1,1,2, 2 classes, 6 parameters" \
	info.txt || fail "info: $(cat info.txt)"

# truncated in the header, and in the data
head -c 100 m.safetensors > cut1.safetensors
size=$(wc -c < m.safetensors)
head -c $((size - 4)) m.safetensors > cut2.safetensors
for f in cut1 cut2; do
	if "$privfl" model eval --csv t.csv --label y --weights $f.safetensors \
		2> err.txt; then fail "$f accepted"; fi
	grep -q "$f.safetensors: truncated" err.txt || fail "$f: $(cat err.txt)"
	if "$privfl" model info $f.safetensors 2> err.txt; then
		fail "info $f accepted"; fi
	grep -q "truncated" err.txt || fail "info $f: $(cat err.txt)"
done

# another architecture than the file's
if "$privfl" model eval --csv t.csv --label y --weights m.safetensors \
	--model mlp:8,8 2> err.txt; then fail "mlp accepted a logreg file"; fi
grep -q "does not match architecture mlp:8,8 .*expected tensor fc1.weight of shape \[8, 2\]" \
	err.txt || fail "mismatch: $(cat err.txt)"
# data of another shape than the file's
printf 'a,b,c,y\n1,2,3,p\n2,3,4,n\n' > three.csv
if "$privfl" model eval --csv three.csv --label y --weights m.safetensors \
	2> err.txt; then fail "3 features accepted"; fi
grep -q "made for input 1,1,2, the data has 1,1,3" err.txt ||
	fail "shape: $(cat err.txt)"
echo "model_cli: all checks passed"
