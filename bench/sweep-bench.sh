#!/bin/sh
# bench/sweep-bench.sh: sweep throughput on one GPU: the runs of a sweep file trained by
# `dlcm-sweep run` with several packings (runs per GPU, MPS on or off), each reported as the
# aggregate analytic training FLOPs of the plan over the wall time and as a share of the bf16
# peak, beside the same runs trained one after another under torch.compile (bench/torch_ref.py
# sweep; DLCM with fixed boundaries).
# Usage: bench/sweep-bench.sh [SWEEP.yaml]   (default configs/sweep-byte-h100.yaml)
# Env: BIN (dir of dlcm-sweep, dlcm-train, dlcm-bench; default bin, bench from build/bench),
#      OUT (default build/bench/sweep), DATA_DIR (the corpus root holding <tokenizer>/train.bin,
#      like data/out; default the sweep's),
#      BUDGETS (e.g. "2e13": only these budgets of the file), PACKINGS (default "1:off 8:off 8:on",
#      runs per GPU and MPS), TORCH (1 default: also the torch.compile peer), PYTHON, PEAK_TFLOPS
#      (default 989.4, the H100/H200 SXM dense bf16 peak).
set -eu
SWEEP=${1:-configs/sweep-byte-h100.yaml}
BIN=${BIN:-bin}
BENCH=${BENCH_BIN:-$( [ -x "$BIN/dlcm-bench" ] && echo "$BIN/dlcm-bench" || echo build/bench/dlcm-bench)}
OUT=${OUT:-build/bench/sweep}
PACKINGS=${PACKINGS-"1:off 8:off 8:on"}
PY=${PYTHON:-python3}
PEAK=${PEAK_TFLOPS:-989.4}
rm -rf "$OUT"
mkdir -p "$OUT"

# the sweep file, with only the chosen budgets and the corpus directory given
cfg="$OUT/sweep.yaml"
awk -v budgets="${BUDGETS:-}" -v data="${DATA_DIR:-}" '
    /^budgets:/ && budgets != "" { print "budgets: [" budgets "]"; next }
    { print }
    /^trainer:/ && data != "" { print "  data.dir: " data; print "  data.val_domains: none" }
' "$SWEEP" >"$cfg"
"$BIN/dlcm-sweep" plan "$cfg" --csv >"$OUT/plan.csv"
runs=$(($(wc -l <"$OUT/plan.csv") - 1))
flops=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                 { s += $col["train_flops"] } END { printf "%.6g", s }' "$OUT/plan.csv")
echo "sweep $(basename "$SWEEP") budgets ${BUDGETS:-all}: $runs runs, $flops analytic training FLOPs"

failed=0
for packing in $PACKINGS; do
    per_gpu=${packing%%:*}
    mps=${packing##*:}
    t0=$(date +%s.%N)
    rc=0
    "$BIN/dlcm-sweep" run "$cfg" --db "$OUT/p$per_gpu-$mps.sqlite" --runs-dir "$OUT/runs-p$per_gpu-$mps" \
        --trainer "$BIN/dlcm-train" --max-per-gpu "$per_gpu" --mps "$mps" --quiet \
        2>"$OUT/sweep-p$per_gpu-$mps.err" || rc=$?
    t1=$(date +%s.%N)
    grep -h "^mps:\|^schedule:" "$OUT/sweep-p$per_gpu-$mps.err" || true
    # where the runs' wall time went (the trainer's phases: steps, evaluation, checkpoints,
    # held-out measurements, start-up): small runs are bound by what lies outside their steps
    "$BIN/dlcm-sweep" status --db "$OUT/p$per_gpu-$mps.sqlite" 2>/dev/null | grep "^wall time" |
        sed "s/^/PHASES per_gpu=$per_gpu mps=$mps: /" || true
    if [ "$rc" != 0 ]; then
        # a failed sweep trained less than its plan: its FLOPs over its wall time would be a
        # throughput that never happened
        echo "RESULT impl=ours-sweep runs=$runs per_gpu=$per_gpu mps=$mps exit=$rc tflops=none (the sweep failed; $OUT/sweep-p$per_gpu-$mps.err says why:)"
        head -5 "$OUT/sweep-p$per_gpu-$mps.err" | sed 's/^/  /'
        failed=1
        continue
    fi
    awk -v f="$flops" -v t0="$t0" -v t1="$t1" -v p="$per_gpu" -v m="$mps" -v rc="$rc" -v peak="$PEAK" -v n="$runs" 'BEGIN {
        w = t1 - t0
        printf "RESULT impl=ours-sweep runs=%d per_gpu=%s mps=%s exit=%d train_flops=%.4g wall_s=%.1f tflops=%.1f share_of_bf16_peak=%.4f\n",
               n, p, m, rc, f, w, f / w / 1e12, f / w / 1e12 / peak }'
done

[ "${TORCH:-1}" = 1 ] || exit "$failed"
# the torch.compile peer: each run's shape as a meta.json (dlcm-bench --meta-only), then all of
# them trained one after another in one process
mkdir -p "$OUT/meta"
: >"$OUT/torch-list.txt"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
         { print $col["id"], $col["family"], $col["d_t"], $col["d_c"], $col["n_layers"], $col["n_enc"],
                 $col["n_con"], $col["n_dec"], $col["R"], $col["vocab"], $col["T"], $col["steps"],
                 $col["train_flops"], $col["tokens"] }' "$OUT/plan.csv" |
while read -r id family d_t d_c layers enc con dec R vocab T steps train_flops tokens; do
    batch=$((tokens / steps / T))
    dir="$OUT/meta/$id"
    mkdir -p "$dir"
    if [ "$family" = dense ]; then
        shape="--d-t $d_t --layers $layers"
    else
        shape="--d-t $d_t --d-c $d_c --enc $enc --con $con --dec $dec --ratio $R"
    fi
    # shellcheck disable=SC2086
    "$BENCH" --family "$family" $shape --batch "$batch" --seq-len "$T" --vocab "$vocab" --meta-dir "$dir" \
        --meta-only 1 >/dev/null
    echo "$dir/$family-custom.json $steps $train_flops $id" >>"$OUT/torch-list.txt"
done
"$PY" bench/torch_ref.py sweep "$OUT/torch-list.txt" 2>"$OUT/torch.err" | tee "$OUT/torch.txt" |
    awk -v peak="$PEAK" '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                                     print $0 " share_of_bf16_peak_train=" sprintf("%.4f", v["tflops_train"] / peak); next }
                         { print }'
exit "$failed"
