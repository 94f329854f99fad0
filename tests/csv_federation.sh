#!/usr/bin/env bash
# CSV data in the daemons (issue #13, item 4): the UCI wine data set
# (Debian python3-sklearn ships it) split across 3 privfl-client daemons,
# each pinned to a real privfl-aggregator over tcp:// by server_key, with
# SecAgg; every device encodes its rows with one statistics file from
# `privfl data stats` over a reference sample; the aggregator evaluates on
# a CSV test set. The federated model must be well above chance, and is
# compared with central training on the same rows. Bad CSV input is refused
# with file, line and column, before the client connects.
# usage: csv_federation.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$2
wine=/usr/lib/python3/dist-packages/sklearn/datasets/data/wine_data.csv
if [ ! -r "$wine" ]; then
	echo "SKIP: $wine missing (Debian package python3-sklearn)"
	exit 77
fi
privfl=$build/tools/privfl
client=$build/client/privfl-client
agg=$build/aggregator/privfl-aggregator
dir=$(mktemp -d /tmp/privfl-csvfed.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		{ kill -9 "$p" && wait "$p"; } 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log; do
		[ -e "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}
cd "$dir"

# The sklearn file's first line is "178,13,class_0,class_1,class_2": give
# it a header, name the classes, shuffle (fixed seed), and split: 48 test
# rows, the rest dealt to 3 clients; a reference sample of 40 rows.
awk -F, 'NR == 1 { next }
	{ srand(NR * 7919); printf "%.8f", rand(); $NF = "class_" $NF;
	  for (i = 1; i <= NF; i++) printf ",%s", $i; print "" }' OFS=, "$wine" |
	sort -t, -k1,1 | cut -d, -f2- > rows.csv
hdr="alcohol,malic_acid,ash,alcalinity,magnesium,phenols,flavanoids"
hdr="$hdr,nonflavanoid,proanthocyanins,color,hue,od280,proline,cultivar"
[ "$(wc -l < rows.csv)" = 178 ] || fail "wine_data.csv: expected 178 rows"
{ echo "$hdr"; head -n 48 rows.csv; } > test.csv
{ echo "$hdr"; tail -n +49 rows.csv; } > train.csv
for k in 0 1 2; do
	{ echo "$hdr"; tail -n +49 rows.csv | awk -v k=$k 'NR % 3 == k'; } \
		> client$k.csv
done
# (sed, not tail | head: under pipefail, head exiting first makes tail die
# of SIGPIPE and the script stop without a word)
{ echo "$hdr"; sed -n 49,88p rows.csv; } > reference.csv

# docs/CLIENT.md's "CSV data" commands, as written there
src=$1
awk '/^## CSV data/ { sec = 1 } sec && /^```sh/ { inb = 1; next }
	inb && /^```/ { exit } inb' "$src/docs/CLIENT.md" > doc.txt
doc_stats=$(grep '^privfl data stats ' doc.txt) || fail "no stats command in CLIENT.md"
doc_client=$(grep '^privfl-client ' doc.txt) || fail "no client command in CLIENT.md"
eval "\"\$privfl\" ${doc_stats#privfl }" > stats.txt || fail "data stats"
[ "$(cat stats.txt)" = "$(grep '^  stats.csv:' doc.txt | sed 's/^  //')" ] ||
	fail "stats output differs from CLIENT.md: $(cat stats.txt)"

"$privfl" keygen --out keys/aggregator > /dev/null
mkdir -p keys/enrolled
for k in 0 1 2; do
	"$privfl" keygen --out keys/client$k > /dev/null
	cp keys/client$k/identity.pub keys/enrolled/client$k.pub
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="tcp://127.0.0.1:$port"
rounds=15
aggargs=(--listen "$url" --federation-id wine --identity-dir keys/aggregator
	--enrolled-keys keys/enrolled --model logreg --input-shape 1x1x13
	--classes 3 --test-data test.csv --csv-stats stats.csv
	--rounds $rounds --clients-per-round 3 --min-clients 3 --overselect 1.0
	--secure-aggregation secagg --local-epochs 5 --batch 8 --lr 0.05
	--selection-window-ms 300 --checkin-interval-ms 100
	--round-timeout-s 60 --log-level info)

# the aggregator checks the CSV test set against the model's shape
if "$agg" "${aggargs[@]}" --input-shape 1x1x12 --out-dir bad \
	> agg-shape.log 2>&1; then fail "aggregator took input_shape 1x1x12"; fi
grep -q "13 features, 3 classes.*set input_shape = 1x1x13 and classes = 3" \
	agg-shape.log || fail "aggregator shape message"
if "$agg" "${aggargs[@]}" --csv-stats "" --out-dir bad > agg-nostats.log \
	2>&1; then fail "aggregator took a CSV test set without csv_stats"; fi
grep -q "needs csv_stats" agg-nostats.log || fail "aggregator csv_stats message"

"$agg" "${aggargs[@]}" --out-dir out > agg.log 2>&1 &
aggpid=$!
pids+=($aggpid)
for k in 0 1 2; do
	cmd=${doc_client#privfl-client }
	cmd=${cmd//client0/client$k}
	cmd=${cmd//tcp:\/\/127.0.0.1:7700/$url}
	eval "\"\$client\" $cmd --backoff-min-ms 50 --backoff-max-ms 300" \
		> client$k.log 2>&1 &
	pids+=($!)
done
for _ in $(seq 1 1200); do
	kill -0 $aggpid 2>/dev/null || break
	sleep 0.1
done
kill -0 $aggpid 2>/dev/null && fail "the federation did not finish"
wait $aggpid || fail "aggregator exit status $?"
grep -q "local data: 43 examples" client0.log || fail "client0 data"
# every round released (a round abandoned on a loaded machine is run
# again and has a row of its own with status "aborted")
released=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") c = i; next }
	$c == "ok" { n++ } END { print n + 0 }' out/rounds.csv)
[ "$released" = $rounds ] || fail "rounds.csv: $released rounds released, not $rounds"
fed=$(python3 - out/rounds.csv <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(rows[-1]["accuracy"])
PY
)

# central training on the same 130 rows (its own statistics), same model
"$privfl" model train --csv train.csv --csv-test test.csv --label cultivar \
	--model logreg --epochs $((rounds * 5)) --batch 8 --lr 0.05 \
	> central.txt || fail "central training"
central=$(tail -n 1 central.txt | sed 's/.*test_accuracy=\([0-9.]*\).*/\1/')
echo "wine, 3 clients, SecAgg, $rounds rounds x 5 local epochs:" \
	"federated accuracy $fed, central $central (chance 0.40)"
python3 -c "import sys; sys.exit(0 if float('$fed') >= 0.85 else 1)" ||
	fail "federated accuracy $fed < 0.85"
# the final model file evaluates the same, by its own metadata
"$privfl" model eval --weights out/model.safetensors --csv test.csv \
	--label cultivar > eval.txt || fail "eval of the federated model"

# Bad input: a clear error naming file, line (and column); exit 1 before
# anything is sent (a listener counts connections).
python3 - "$dir/conns" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
n = 0
s.settimeout(30)
try:
    while True:
        c, _ = s.accept(); n += 1
        open(sys.argv[1], "w").write(str(n))
except Exception:
    pass
PY
pids+=($!)
for _ in $(seq 1 50); do [ -s conns.port ] && break; sleep 0.1; done
trap_url="tcp://127.0.0.1:$(cat conns.port)"
{ head -n 3 client0.csv; sed -n 4p client0.csv | cut -d, -f2-; } \
	> ragged.csv
sed '5s/^[^,]*,[^,]*,/&abc/; 5s/,abc[^,]*/,abc/' client0.csv > text.csv
bad_client() { # NAME EXPECTED-MESSAGE ARGS...
	local name=$1 want=$2
	shift 2
	if "$client" --server "$trap_url" --federation-id wine \
		--identity-dir keys/client0 \
		--server-key keys/aggregator/identity.pub "$@" \
		> "bad-$name.log" 2>&1; then fail "$name: client started"; fi
	grep -q -- "$want" "bad-$name.log" ||
		fail "$name: no '$want' in $(cat "bad-$name.log")"
}
bad_client ragged "data: ragged.csv:4: expected 14 fields, got 13" \
	--data ragged.csv --csv-stats stats.csv
bad_client text "data: text.csv:5: column 'ash': 'abc' is not a number" \
	--data text.csv --csv-stats stats.csv
bad_client label "the label column is 'cultivar', not 'species'" \
	--data client0.csv --csv-stats stats.csv --csv-label species
bad_client nostats "CSV data needs csv_stats" --data client0.csv
sed '1s/cultivar$/species/' client0.csv > header.csv
bad_client header "data: header.csv:1: column 14 is 'species', expected 'cultivar'" \
	--data header.csv --csv-stats stats.csv
[ ! -e conns ] || fail "a client with bad data connected"
echo "ok: CSV federation and bad CSV input"
