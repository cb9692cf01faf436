#!/bin/sh
# Device run 2 of helper "fuse": GPU tests of the fuse build, then dlcm-bench before (base = main's
# build) and after (fuse), interleaved, bf16, batch 8 x 1024, V 8192; seconds per run logged.
set -u
mkdir -p /tmp/dev && tar -C /tmp/dev -xJf devpack.tar.xz
cd /tmp/dev
export LD_LIBRARY_PATH=/tmp/dev/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/device.txt" 2>&1
start=$(date +%s)
timeout 60 ./fuse/dlcm-gpu-tests -j8 --verbose > "$OUT/gpu-tests.log" 2>&1
echo "rc=$? seconds=$(( $(date +%s) - start ))" >> "$OUT/gpu-tests.log"
B="$OUT/bench.txt"
run() {
    label=$1; shift
    t0=$(date +%s)
    echo "## $label: $*" >> "$B"
    timeout 45 "$@" 2>&1 | sed "s/^RESULT /RESULT build=$label /" >> "$B"
    echo "## $label: $(( $(date +%s) - t0 )) s" >> "$B"
}
run fuse ./fuse/dlcm-bench --family dlcm --steps 10 --warmup 10
run base ./base/dlcm-bench --family dlcm --steps 10 --warmup 10
run fuse-bucket64 ./fuse/dlcm-bench --family dlcm --steps 10 --warmup 10 --concept-bucket 64
run fuse-warm60 ./fuse/dlcm-bench --family dlcm --steps 10 --warmup 60
run base-warm60 ./base/dlcm-bench --family dlcm --steps 10 --warmup 60
run fuse-bucket64-warm60 ./fuse/dlcm-bench --family dlcm --steps 10 --warmup 60 --concept-bucket 64
run fuse-dense ./fuse/dlcm-bench --family dense --steps 10 --warmup 10
run base-dense ./base/dlcm-bench --family dense --steps 10 --warmup 10
echo "total seconds $(( $(date +%s) - start ))" >> "$B"
