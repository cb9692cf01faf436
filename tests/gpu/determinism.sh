#!/bin/sh
# tests/gpu/determinism.sh: on a GPU machine, two runs of a config with the same seed end with
# identical checkpoints, and runs stopped mid-way (SIGTERM, SIGKILL) and resumed end identical
# to the uninterrupted one. "Identical": parameters, AdamW m and v, every counter and the config
# text byte for byte; only the wall-clock field train_seconds (and so the checksums) may differ.
# Without a GPU it says so and exits 0 (skipped).
# Resumes use --resume, so a resume that silently started over would fail.
# Usage: tests/gpu/determinism.sh [TRAIN_BIN [CONFIG [WORK_DIR]]] [-- extra dlcm-train options]
# Env: DEVICE (default cuda; cpu checks the script itself), PYTHON (default python3),
# STOP_AT (default 70: the step of the --stop-at-step trial).
set -u
TRAIN=${1:-bin/dlcm-train}
CONFIG=${2:-configs/tiny-dlcm.yaml}
own_work=0
[ -n "${3:-}" ] || own_work=1
WORK=${3:-$(mktemp -d)}
[ $# -gt 3 ] && shift 3 || shift $#
[ "${1:-}" = "--" ] && shift
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
HERE=$(dirname "$0")

if [ "$DEVICE" = cuda ] && ! nvidia-smi -L >/dev/null 2>&1; then
    echo "determinism: skipped: no CUDA GPU on this machine"
    [ $own_work -eq 0 ] || rmdir "$WORK"
    exit 0
fi
mkdir -p "$WORK"
RUN="$WORK/run" # every run trains in the same directory, so the config text and run id match
train() { "$TRAIN" "$CONFIG" --out "$RUN" --device "$DEVICE" --quiet "$@"; }
fail=0

# $1: name to keep the finished run under
keep() { rm -rf "$WORK/$1"; mv "$RUN" "$WORK/$1"; }

# $1, $2: kept runs whose checkpoints must match
same() {
    if "$PY" "$HERE/checkpoint_diff.py" "$WORK/$1/checkpoint.bin" "$WORK/$2/checkpoint.bin"; then
        echo "determinism: $1 = $2: identical"
    else
        echo "determinism: FAIL: $1 and $2 differ"
        fail=1
    fi
}

# $1: signal; the trainer is stopped once its first checkpoint exists (mid-run), then resumed
interrupted() {
    sig=$1
    shift
    rm -rf "$RUN"
    # the trainer itself in the background (not a shell function: $! would be a subshell and the
    # signal would leave the trainer running)
    "$TRAIN" "$CONFIG" --out "$RUN" --device "$DEVICE" --quiet "$@" >"$WORK/kill-$sig.log" 2>&1 &
    pid=$!
    waited=0
    while [ ! -f "$RUN/checkpoint.bin" ] && kill -0 $pid 2>/dev/null && [ $waited -lt 6000 ]; do
        sleep 0.01
        waited=$((waited + 1))
    done
    kill -s "$sig" $pid 2>/dev/null
    wait $pid
    echo "determinism: SIG$sig: trainer exit $?, checkpoint at step $("$PY" -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1], "rb").read(), 32)[0])' "$RUN/checkpoint.bin")"
}

shift_args="$*"
train "$@" >"$WORK/a.log" 2>&1 || { echo "determinism: FAIL: run a exited $?"; cat "$WORK/a.log"; exit 1; }
keep a
train "$@" >"$WORK/b.log" 2>&1 || { echo "determinism: FAIL: run b exited $?"; cat "$WORK/b.log"; exit 1; }
keep b
same a b

for sig in TERM KILL; do
    interrupted $sig "$@"
    train "$@" --resume >"$WORK/resume-$sig.log" 2>&1 || { echo "determinism: FAIL: resume after SIG$sig exited $?"; cat "$WORK/resume-$sig.log"; fail=1; continue; }
    keep "resumed-$sig"
    same a "resumed-$sig"
done

rm -rf "$RUN"
train "$@" --stop-at-step "${STOP_AT:-70}" >"$WORK/stop.log" 2>&1 && train "$@" --resume >>"$WORK/stop.log" 2>&1 &&
    keep resumed-stop-at && same a resumed-stop-at || { echo "determinism: FAIL: stop-at-step run"; fail=1; }

[ $fail -eq 0 ] && echo "determinism: PASS ($DEVICE, $CONFIG $shift_args)" || echo "determinism: FAILED (runs in $WORK)"
[ $fail -eq 0 ] && [ $own_work -eq 1 ] && rm -rf "$WORK"
exit $fail
