#!/bin/sh
# Checks benchmark output for ratios across different workloads
# (docs/BENCHMARKS.md, "Line convention").
#   bench/check_lines.sh [FILE...]        (standard input without FILE)
# A line is a comparison when it has a key=value token whose key contains
# "ratio" or "speedup", or when its text says ratio, speedup, faster,
# slower, "% of", or a number followed by x ("5.6x", "26x baseline").
# A comparison line must carry baseline=NAME, workload=W and
# baseline_workload=B with W equal to B (both non-empty, no spaces).
# Prints every offending line with the reason on standard error, then
#   bench lines: N comparison lines, K rejected
# on standard output. Exit status 0 when K is 0, 1 otherwise.
export LC_ALL=C
exec awk '
function reject(why) {
	bad++
	printf "bench lines: %s:%d: %s: %s\n", FILENAME, FNR, why, $0 \
		> "/dev/stderr"
}
{
	cmp = 0
	delete kv
	text = ""
	for (i = 1; i <= NF; i++) {
		if (match($i, /^[A-Za-z0-9_]+=/)) {
			k = substr($i, 1, RLENGTH - 1)
			kv[k] = substr($i, RLENGTH + 1)
			if (tolower(k) ~ /ratio|speedup/)
				cmp = 1
			if (k == "workload" || k == "baseline_workload" ||
			    k == "paper_workload")
				continue
		}
		text = text " " $i
	}
	t = tolower(text)
	if (t ~ /ratio|speedup|faster|slower|% of|[0-9]x([^0-9a-z_]|$)/)
		cmp = 1
	if (!cmp)
		next
	n++
	if (!("workload" in kv) || kv["workload"] == "")
		reject("a ratio without workload=")
	else if (!("baseline_workload" in kv) || kv["baseline_workload"] == "")
		reject("a ratio without baseline_workload=")
	else if (kv["workload"] != kv["baseline_workload"])
		reject("a ratio across different workloads")
	else if (!("baseline" in kv) || kv["baseline"] == "")
		reject("a ratio without baseline=")
}
END {
	printf "bench lines: %d comparison lines, %d rejected\n", n, bad
	exit bad > 0
}' "$@"
