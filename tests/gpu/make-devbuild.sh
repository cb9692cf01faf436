#!/bin/sh
# tests/gpu/make-devbuild.sh: packs the GPU test binary (and the benchmark, when built) with the
# shared libraries the GPU machine lacks into DEST (default /work/main/.devbuild), so the
# device tool can carry it. OpenBLAS is linked statically to keep the folder small.
# Usage: tests/gpu/make-devbuild.sh [DEST]
set -eu
DEST=${1:-/work/main/.devbuild}
BUILD=build
make -j2 "$BUILD/tests/dlcm-gpu-tests" "$BUILD/bench/dlcm-bench" bin/dlcm-train bin/dlcm-sweep >/dev/null
mkdir -p "$DEST/lib"
link_static_blas() { # $1 = output, rest = the link line's objects and libraries
    out=$1; shift
    cc -O2 -o "$out" "$@"
}
LIBS=$(make -s -p -n 2>/dev/null | sed -n 's/^EXT_LIBS *:\?= *//p' | tail -1)
PART=$(make -s -p -n 2>/dev/null | sed -n 's/^PART_LIBS *:\?= *//p' | tail -1)
STATIC_LIBS=$(echo "$LIBS" | sed 's/-lopenblas/-Wl,-Bstatic -lopenblas -Wl,-Bdynamic -lgfortran/')
link_static_blas "$DEST/dlcm-gpu-tests" "$BUILD"/tests/gpu/*.o -Wl,--start-group $PART -Wl,--end-group $STATIC_LIBS -lcriterion
strip --strip-debug "$DEST/dlcm-gpu-tests"
link_static_blas "$DEST/dlcm-bench" "$BUILD"/bench/bench.o -Wl,--start-group $PART -Wl,--end-group $STATIC_LIBS
strip --strip-debug "$DEST/dlcm-bench"
link_static_blas "$DEST/dlcm-train" "$BUILD"/engine/train/train_main.o -Wl,--start-group $PART -Wl,--end-group $STATIC_LIBS
link_static_blas "$DEST/dlcm-sweep" "$BUILD"/sweep/main.o -Wl,--start-group $PART -Wl,--end-group $STATIC_LIBS
strip --strip-debug "$DEST/dlcm-train" "$DEST/dlcm-sweep"
mkdir -p "$DEST/bench" "$DEST/tests/gpu" "$DEST/configs"
cp bench/*.py bench/*.sh "$DEST/bench/"
cp tests/gpu/*.sh tests/gpu/*.py "$DEST/tests/gpu/"
cp configs/*.yaml "$DEST/configs/"
# every shared library outside glibc and CUDA that the binaries need
for bin in "$DEST"/dlcm-*; do
    ldd "$bin" | awk '/=> \// {print $3}' |
        grep -v -E '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt)\.so' |
        while read -r lib; do cp -L "$lib" "$DEST/lib/"; done
done
du -sh "$DEST"
