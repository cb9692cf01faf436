#!/bin/sh
# bench/run-bench.sh: `make bench` on a GPU machine: (1) the PyTorch reference must compute our
# loss and gradients from the same weights and batch, (2) our training throughput at every
# size, (3) PyTorch eager and torch.compile on the same configs, (4) the comparison table.
# Extra arguments go to dlcm-bench (e.g. --batch 4 --steps 10). Env: BENCH_BIN, BENCH_OUT,
# PYTHON (default python3), TORCH_STEPS (default 10), TORCH_MODES (default "eager compile").
set -eu
BIN=${BENCH_BIN:-build/bench/dlcm-bench}
OUT=${BENCH_OUT:-build/bench/out}
PY=${PYTHON:-python3}
STEPS=${TORCH_STEPS:-10}
mkdir -p "$OUT/meta"
status=0
for fam in dense dlcm; do
    "$BIN" --family "$fam" --size tiny --batch 2 --seq-len 256 --dump "$OUT/check-$fam"
    "$PY" bench/torch_ref.py check "$OUT/check-$fam" || status=1
done
"$BIN" --meta-dir "$OUT/meta" "$@" | tee "$OUT/ours.txt"
: > "$OUT/torch.txt"
for meta in "$OUT"/meta/*.json; do
    # the DLCM's torch.compile peer has fixed boundaries (learned ones recompile for every M)
    fixed=""
    case "$(basename "$meta")" in dlcm-*) fixed=--fixed-boundaries ;; esac
    for mode in ${TORCH_MODES:-eager compile}; do
        extra=""
        [ "$mode" = compile ] && extra=$fixed
        "$PY" bench/torch_ref.py bench "$meta" --mode "$mode" --steps "$STEPS" $extra 2>>"$OUT/torch.err" \
            | tee -a "$OUT/torch.txt" || echo "torch $mode failed on $meta (see $OUT/torch.err)"
    done
done
"$PY" bench/torch_ref.py summary "$OUT/ours.txt" "$OUT/torch.txt" | tee "$OUT/summary.md"
exit $status
