#!/bin/sh
# bench/ab.sh: engine changes measured against their base in ONE device call: the GPU tests of each
# changed build, then dlcm-bench of every build interleaved (A B C A B C ...) on the same shapes,
# and the median tokens/s of each with its ratio to A. Interleaving puts the builds under the same
# clocks and neighbours; the medians of REPEATS runs keep one slow run from deciding.
# Usage: bench/ab.sh DIR_A DIR_B [DIR_C ...]   (each a folder made by tests/gpu/make-devbuild.sh:
#        dlcm-bench, dlcm-gpu-tests, lib/; A the base, B, C ... the changes, labelled by letter).
#        Writes to $OUT (default ./ab-out): gpu-tests-<letter>.log, bench.txt (every RESULT line,
#        tagged build=<letter>), summary.md (rewritten after every repeat, so a call cut short
#        keeps the repeats it finished).
# Env: AB_CONFIGS (default "dense medium,dlcm medium,dlcm small"), AB_REPEATS (3), AB_WARMUP (30),
#      AB_STEPS (20), AB_TESTS (1: run each change's GPU tests first; a build that fails them is
#      left out of the benchmark), PYTHON.
set -u
OUT=${OUT:-./ab-out}
PY=${PYTHON:-python3}
CONFIGS=${AB_CONFIGS:-dense medium,dlcm medium,dlcm small}
REPEATS=${AB_REPEATS:-3}
WARMUP=${AB_WARMUP:-30}
STEPS=${AB_STEPS:-20}
LETTERS="A B C D E F G H"
usage() { echo "usage: bench/ab.sh DIR_A DIR_B [DIR_C ...] (folders with dlcm-bench, from tests/gpu/make-devbuild.sh; at most 8)" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 8 ] || usage
for dir in "$@"; do [ -x "$dir/dlcm-bench" ] || usage; done
mkdir -p "$OUT"
say() { echo "ab: $(date -u +%H:%M:%S) $*"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1

# builds: "letter dir" lines of the builds that take part (A always; a change whose tests fail, not)
BUILDS=$OUT/builds.txt
: >"$BUILDS"
i=0
for dir in "$@"; do
    letter=$(echo $LETTERS | cut -d' ' -f$((i + 1)))
    i=$((i + 1))
    if [ $i -gt 1 ] && [ "${AB_TESTS:-1}" = 1 ]; then
        [ -x "$dir/dlcm-gpu-tests" ] || { say "no $dir/dlcm-gpu-tests: build $letter left out"; continue; }
        say "GPU tests of $letter ($dir)"
        (cd "$dir" && LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-} ./dlcm-gpu-tests -j8) >"$OUT/gpu-tests-$letter.log" 2>&1
        rc=$?
        tail -1 "$OUT/gpu-tests-$letter.log"
        if [ $rc != 0 ]; then
            # which tests and seeds failed, kept in the summary (a device call may return only
            # that): DLCM_TEST_SEED=<seed> replays a failing draw
            grep -E "\[FAIL\]|Assertion|seed [0-9]+" "$OUT/gpu-tests-$letter.log" | head -20 \
                >"$OUT/gpu-test-failures-$letter.txt"
            say "$letter's GPU tests failed (rc $rc): no benchmark of a wrong build"
            cat "$OUT/gpu-test-failures-$letter.txt"
            continue
        fi
    fi
    echo "$letter $dir" >>"$BUILDS"
done
[ "$(wc -l <"$BUILDS")" -ge 2 ] || { say "no change passed its GPU tests: nothing to compare"; exit 1; }

# The medians so far, rewritten after every repeat.
summarize() {
    "$PY" - "$OUT/bench.txt" >"$OUT/summary.md" <<'EOF'
import statistics, sys
runs, setups, letters = {}, {}, set()
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    key = (kv["family"], kv["size"])
    runs.setdefault(key, {}).setdefault(kv["build"], []).append(float(kv["tokens_per_s"]))
    if "setup_s" in kv:
        setups.setdefault(key, {}).setdefault(kv["build"], []).append(float(kv["setup_s"]))
    letters.add(kv["build"])
print("| family | size | build | tok/s (median) | runs | /A (medians) | /A range (worst, best) | set-up s (median) |")
print("|---|---|---|---|---|---|---|---|")
for (family, size), by in sorted(runs.items()):
    a = by.get("A", [])
    for letter in sorted(letters):
        x = by.get(letter, [])
        if not x:
            continue
        setup = setups.get((family, size), {}).get(letter)
        setup = "%.2f" % statistics.median(setup) if setup else "-"
        if letter == "A" or not a:
            print("| %s | %s | %s | %.0f | %d | - | - | %s |" % (family, size, letter, statistics.median(x), len(x), setup))
            continue
        ma, mx = statistics.median(a), statistics.median(x)
        print("| %s | %s | %s | %.0f | %d | %.3f | %.3f-%.3f | %s |"
              % (family, size, letter, mx, len(x), mx / ma, min(x) / max(a), max(x) / min(a), setup))
EOF
    for failures in "$OUT"/gpu-test-failures-*.txt; do
        [ -s "$failures" ] || continue
        failed=${failures##*-}
        printf '\nBuild %s failed its GPU tests (left out above):\n\n' "${failed%.txt}" >>"$OUT/summary.md"
        sed 's/^/    /' "$failures" >>"$OUT/summary.md"
    done
}

: >"$OUT/bench.txt"
rep=1
while [ $rep -le "$REPEATS" ]; do
    echo "$CONFIGS" | tr ',' '\n' | while read -r family size; do
        [ -n "$family" ] || continue
        while read -r letter dir; do
            (cd "$dir" && LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-} ./dlcm-bench --family "$family" --size "$size" \
                --concept-bucket 64 --warmup "$WARMUP" --steps "$STEPS") </dev/null 2>>"$OUT/bench.err" |
                sed -n "s/^RESULT /RESULT build=$letter repeat=$rep /p" >>"$OUT/bench.txt"
        done <"$BUILDS"
    done
    summarize
    say "repeat $rep of $REPEATS done"
    rep=$((rep + 1))
done
cat "$OUT/summary.md"
