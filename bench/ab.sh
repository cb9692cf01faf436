#!/bin/sh
# bench/ab.sh: one engine change measured against its base in ONE device call: the GPU tests of the
# changed build, then dlcm-bench of both builds interleaved (A B A B ...) on the same shapes, and
# the median tokens/s of each with the ratio B/A. Interleaving puts both builds under the same
# clocks and neighbours; the medians of REPEATS runs keep one slow run from deciding.
# Usage: bench/ab.sh DIR_A DIR_B   (each a folder made by tests/gpu/make-devbuild.sh: dlcm-bench,
#        dlcm-gpu-tests, lib/; A the base, B the change). Writes to $OUT (default ./ab-out): gpu-tests.log,
#        bench.txt (every RESULT line, tagged build=A or B), summary.md.
# Env: AB_CONFIGS (default "dense medium,dlcm medium,dlcm small"), AB_REPEATS (3), AB_WARMUP (30),
#      AB_STEPS (20), AB_TESTS (1: run B's GPU tests first; a failure stops the benchmark), PYTHON.
set -u
A=${1:-}
B=${2:-}
OUT=${OUT:-./ab-out}
PY=${PYTHON:-python3}
CONFIGS=${AB_CONFIGS:-dense medium,dlcm medium,dlcm small}
REPEATS=${AB_REPEATS:-3}
WARMUP=${AB_WARMUP:-30}
STEPS=${AB_STEPS:-20}
for dir in "$A" "$B"; do
    [ -n "$dir" ] && [ -x "$dir/dlcm-bench" ] ||
        { echo "usage: bench/ab.sh DIR_A DIR_B (folders with dlcm-bench, from tests/gpu/make-devbuild.sh)" >&2; exit 2; }
done
mkdir -p "$OUT"
say() { echo "ab: $(date -u +%H:%M:%S) $*"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1

if [ "${AB_TESTS:-1}" = 1 ]; then
    [ -x "$B/dlcm-gpu-tests" ] || { say "no $B/dlcm-gpu-tests"; exit 2; }
    say "GPU tests of B"
    (cd "$B" && LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-} ./dlcm-gpu-tests -j8) >"$OUT/gpu-tests.log" 2>&1
    rc=$?
    tail -1 "$OUT/gpu-tests.log"
    [ $rc = 0 ] || { say "B's GPU tests failed (rc $rc): no benchmark of a wrong build"; exit 1; }
fi

: >"$OUT/bench.txt"
rep=1
while [ $rep -le "$REPEATS" ]; do
    echo "$CONFIGS" | tr ',' '\n' | while read -r family size; do
        [ -n "$family" ] || continue
        for build in A B; do
            eval dir=\$$build
            (cd "$dir" && LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-} ./dlcm-bench --family "$family" --size "$size" \
                --concept-bucket 64 --warmup "$WARMUP" --steps "$STEPS") 2>>"$OUT/bench.err" |
                sed -n "s/^RESULT /RESULT build=$build repeat=$rep /p" >>"$OUT/bench.txt"
        done
    done
    say "repeat $rep of $REPEATS done"
    rep=$((rep + 1))
done

"$PY" - "$OUT/bench.txt" <<'EOF' | tee "$OUT/summary.md"
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    key = (kv["family"], kv["size"])
    runs.setdefault(key, {}).setdefault(kv["build"], []).append(float(kv["tokens_per_s"]))
print("| family | size | A tok/s (median) | B tok/s (median) | B/A | runs A, B | B/A range |")
print("|---|---|---|---|---|---|---|")
for (family, size), by in sorted(runs.items()):
    a, b = by.get("A", []), by.get("B", [])
    if not a or not b:
        print("| %s | %s | %s | %s | - | %d, %d | - |" % (family, size, a or "-", b or "-", len(a), len(b)))
        continue
    ma, mb = statistics.median(a), statistics.median(b)
    print("| %s | %s | %.0f | %.0f | %.3f | %d, %d | %.3f-%.3f |"
          % (family, size, ma, mb, mb / ma, len(a), len(b), min(b) / max(a), max(b) / min(a)))
EOF
