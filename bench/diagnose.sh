#!/bin/sh
# bench/diagnose.sh: where a training step's time goes, in ONE device call, for the next round of
# engine work: (1) every step's time and concept count of the DLCM from its first step (why the
# early steps are slower than the steady state), (2) the GPU time of one steady-state step per
# kernel (ncu, one metric, only the profiled range of dlcm-bench --profile-range), (3) the tiny
# DLCM beside its torch.compile peer (fixed boundaries), whose ratio the last benchmark lacked.
# Run from a folder packed by tests/gpu/make-devbuild.sh (dlcm-bench, lib/, bench/), on the GPU
# machine. Writes to $OUT (default ./diagnose-out; more files than the device tool returns: give it
# a scratch folder and tar that into the tool's $OUT). Env: DIAG_PARTS (default "steps kernels
# tiny"; "bands" also separates the first launches' module loading from the heuristic calls of a
# new concept band), DIAG_SIZES (default "small medium"), PYTHON (default python3).
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
            "$PY" bench/step_times.py "$OUT/steps-dlcm-$size.txt"
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
    bands)
        # The cost of a concept count in a new band of 64 rows (6-13 ms once, 2026-12-02): the same
        # per-step run with every kernel module loaded at start-up (CUDA_MODULE_LOADING=EAGER)
        # against the default lazy loading. What EAGER removes is the first launch's module load;
        # what remains is the cuBLASLt heuristic call for the new shape.
        for mode in LAZY EAGER; do
            say "per-step times, DLCM small, CUDA_MODULE_LOADING=$mode"
            CUDA_MODULE_LOADING=$mode "$BENCH" --family dlcm --size small --concept-bucket 64 --warmup 10 --steps 60 \
                --per-step 1 >"$OUT/bands-$mode.txt" 2>&1 || say "dlcm-bench failed (see $OUT/bands-$mode.txt)"
        done
        "$PY" bench/step_times.py "$OUT/bands-LAZY.txt" "$OUT/bands-EAGER.txt" | tee "$OUT/bands-summary.txt"
        ;;
    *) say "unknown part '$part' (steps, kernels, tiny, bands)"; exit 2 ;;
    esac
done
say "done: $(ls "$OUT" | tr '\n' ' ')"
