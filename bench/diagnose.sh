#!/bin/sh
# bench/diagnose.sh: where a training step's time goes, in ONE device call, for the next round of
# engine work: (1) every step's time and concept count of the DLCM from its first step (why the
# early steps are slower than the steady state), (2) the GPU time of one steady-state step per
# kernel (ncu, one metric, only the profiled range of dlcm-bench --profile-range), (3) the tiny
# DLCM beside its torch.compile peer (fixed boundaries), whose ratio the last benchmark lacked.
# Run from a folder packed by tests/gpu/make-devbuild.sh (dlcm-bench, lib/, bench/), on the GPU
# machine. Writes to $OUT (default ./diagnose-out). Env: DIAG_PARTS (default "steps kernels tiny"),
# DIAG_SIZES (default "small medium"), PYTHON (default python3).
set -u
OUT=${OUT:-./diagnose-out}
PY=${PYTHON:-python3}
BENCH=./dlcm-bench
PARTS=${DIAG_PARTS:-steps kernels tiny}
SIZES=${DIAG_SIZES:-small medium}
mkdir -p "$OUT"
[ -x "$BENCH" ] || { echo "diagnose: no $BENCH here: run from a folder made by tests/gpu/make-devbuild.sh" >&2; exit 2; }
export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1
say() { echo "diagnose: $(date -u +%H:%M:%S) $*"; }

for part in $PARTS; do
    case $part in
    steps)
        # Step times from the first step: the early steps' excess and the concept counts behind it.
        for size in $SIZES; do
            say "per-step times, DLCM $size"
            "$BENCH" --family dlcm --size "$size" --concept-bucket 64 --warmup 10 --steps 60 --per-step 1 \
                >"$OUT/steps-dlcm-$size.txt" 2>&1 || say "dlcm-bench failed (see $OUT/steps-dlcm-$size.txt)"
            "$PY" - "$OUT/steps-dlcm-$size.txt" <<'EOF'
import sys
rows = [dict(kv.split("=", 1) for kv in l.split()[1:]) for l in open(sys.argv[1]) if l.startswith("STEP ")]
if not rows:
    sys.exit("no STEP lines")
ms = [float(r["ms"]) for r in rows]
bands = [int(float(r["concepts"])) // 64 for r in rows]
def mean(xs): return sum(xs) / len(xs) if xs else float("nan")
print("%s: steps 0-9 %.1f ms, 10-19 %.1f ms, 20-39 %.1f ms, 40-69 %.1f ms; concept bands of 64 seen: %d, new after step 10: %d"
      % (sys.argv[1], mean(ms[:10]), mean(ms[10:20]), mean(ms[20:40]), mean(ms[40:70]), len(set(bands)),
         len(set(bands[10:]) - set(bands[:10]))))
EOF
        done ;;
    kernels)
        # One steady-state step per config, every kernel's GPU time.
        if ! command -v ncu >/dev/null; then say "no ncu on this machine: kernel times skipped"; continue; fi
        for cfg in "dlcm medium" "dense medium" "dlcm small"; do
            set -- $cfg
            say "kernel times, $1 $2 (one step after 30)"
            ncu --profile-from-start off --metrics gpu__time_duration.sum --csv --page raw \
                "$BENCH" --family "$1" --size "$2" --concept-bucket 64 --warmup 30 --steps 1 --profile-range 1 \
                >"$OUT/ncu-$1-$2.csv" 2>"$OUT/ncu-$1-$2.err" || say "ncu failed (see $OUT/ncu-$1-$2.err)"
            "$PY" bench/ncu_summary.py "$OUT/ncu-$1-$2.csv" 25 | tee "$OUT/kernels-$1-$2.txt"
        done ;;
    tiny)
        # The tiny DLCM, ours beside torch.compile with fixed boundaries (its best case).
        say "tiny DLCM: ours and torch.compile"
        mkdir -p "$OUT/meta"
        "$BENCH" --family dlcm --size tiny --concept-bucket 64 --warmup 10 --steps 10 --meta-dir "$OUT/meta" \
            | tee "$OUT/tiny-ours-warm10.txt"
        "$BENCH" --family dlcm --size tiny --concept-bucket 64 --warmup 60 --steps 10 | tee "$OUT/tiny-ours-warm60.txt"
        "$PY" bench/torch_ref.py bench "$OUT/meta/dlcm-tiny.json" --mode compile --steps 10 --fixed-boundaries \
            2>"$OUT/tiny-torch.err" | tee "$OUT/tiny-torch.txt" || say "torch.compile failed (see $OUT/tiny-torch.err)"
        "$PY" bench/torch_ref.py summary "$OUT/tiny-ours-warm10.txt" "$OUT/tiny-torch.txt" | tee "$OUT/tiny-summary.md" ;;
    *) say "unknown part '$part' (steps, kernels, tiny)"; exit 2 ;;
    esac
done
say "done: $(ls "$OUT" | tr '\n' ' ')"
