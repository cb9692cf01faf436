#!/bin/sh
# scripts/study-pack.sh: builds the archive that scripts/study-device.sh unpacks on the GPU machine:
# dlcm-train, dlcm-sweep and dlcm-score linked as tests/gpu/make-devbuild.sh links them (OpenBLAS
# static, the shared libraries the GPU machine lacks beside them), and the bpe4096 corpus the study
# reads (train and validation shards, tokenizer, stamps) with the held-out task files, in one
# xz-compressed tar. The device tool carries at most 64 MiB with the repository, so the archive
# must stay under STUDY_PACK_LIMIT_MIB (default 52: the tracked tree is ~8 MiB); it is checked.
# Usage: scripts/study-pack.sh [ARCHIVE]   (default /work/main/.cudadev-study/bpe-study-pack.tar.xz;
#        /work/main/.cudadev* is ignored by git there, so `run` carries it with carry: [".cudadev-study"])
set -eu
ARCHIVE=${1:-/work/main/.cudadev-study/bpe-study-pack.tar.xz}
LIMIT_MIB=${STUDY_PACK_LIMIT_MIB:-52}
CORPUS=data/out/bpe4096
TASKS=data/out/tasks
for f in "$CORPUS/train.bin" "$CORPUS/val.bin" "$CORPUS/tokenizer.model" "$TASKS/cloze.jsonl"; do
    [ -r "$f" ] || { echo "study-pack: $f is missing: build the corpus first (make data)" >&2; exit 2; }
done
STAGE=$(mktemp -d /tmp/study-pack-XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

# The binaries, as the device build links them (make-devbuild.sh also builds the GPU tests and the
# benchmark; only the programs a study runs are packed).
tests/gpu/make-devbuild.sh "$STAGE/devbuild" >/dev/null
make -j2 bin/dlcm-score >/dev/null
PART=$(make -s -p -n 2>/dev/null | sed -n 's/^PART_LIBS *:\?= *//p' | tail -1)
LIBS=$(make -s -p -n 2>/dev/null | sed -n 's/^EXT_LIBS *:\?= *//p' | tail -1)
STATIC_LIBS=$(echo "$LIBS" | sed 's/-lopenblas/-Wl,-Bstatic -lopenblas -Wl,-Bdynamic -lgfortran/')
mkdir -p "$STAGE/pack/bin" "$STAGE/pack/$CORPUS" "$STAGE/pack/$TASKS"
cc -O2 -o "$STAGE/pack/bin/dlcm-score" build/engine/train/score_main.o -Wl,--start-group $PART -Wl,--end-group $STATIC_LIBS
strip --strip-debug "$STAGE/pack/bin/dlcm-score"
cp "$STAGE/devbuild/dlcm-train" "$STAGE/devbuild/dlcm-sweep" "$STAGE/pack/bin/"
cp -r "$STAGE/devbuild/lib" "$STAGE/pack/lib"
ldd "$STAGE/pack/bin/dlcm-score" | awk '/=> \// {print $3}' |
    grep -v -E '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt)\.so' |
    while read -r lib; do cp -L "$lib" "$STAGE/pack/lib/"; done
# spm_encode (sentencepiece): the trainer encodes the held-out task texts with it after a BPE run,
# and the GPU machine's image has no sentencepiece.
SPM=$(command -v spm_encode) || { echo "study-pack: spm_encode not found (make deps installs sentencepiece)" >&2; exit 2; }
cp "$SPM" "$STAGE/pack/bin/"
ldd "$SPM" | awk '/=> \// {print $3}' | grep -E '/libsentencepiece[^/]*\.so' |
    while read -r lib; do cp -L "$lib" "$STAGE/pack/lib/"; done
git rev-parse HEAD >"$STAGE/pack/COMMIT" 2>/dev/null || echo unknown >"$STAGE/pack/COMMIT"

# The corpus: every shard the study's runs read (train, val, val-<domain>), the tokenizer and stamps.
cp "$CORPUS"/*.bin "$CORPUS"/tokenizer.model "$CORPUS"/tokenizer.vocab "$STAGE/pack/$CORPUS/"
for f in MODEL_STAMP SHARDS_STAMP stats.tsv; do [ -r "$CORPUS/$f" ] && cp "$CORPUS/$f" "$STAGE/pack/$CORPUS/"; done
cp "$TASKS"/*.jsonl "$STAGE/pack/$TASKS/"
[ -r "$TASKS/STAMP" ] && cp "$TASKS/STAMP" "$STAGE/pack/$TASKS/"

mkdir -p "$(dirname "$ARCHIVE")"
# -6 -T2: xz -9 gains under 1 % on the token shards and takes twice as long.
tar -C "$STAGE/pack" -cf - . | xz -6 -T2 >"$ARCHIVE.tmp"
mv "$ARCHIVE.tmp" "$ARCHIVE"
BYTES=$(stat -c %s "$ARCHIVE")
MIB=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "study-pack: $ARCHIVE: $MIB MiB (limit $LIMIT_MIB MiB), commit $(cat "$STAGE/pack/COMMIT")"
if [ "$BYTES" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "study-pack: the archive is over $LIMIT_MIB MiB: the device tool would refuse it with the tree" >&2
    exit 1
fi
# What travels besides it: the checkout the device tool sends (tracked files), the database included.
TREE=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
TOTAL_MIB=$(awk -v a="$BYTES" -v t="$TREE" 'BEGIN { printf "%.1f", (a + t) / 1048576 }')
echo "study-pack: with this checkout's tracked files ($(awk -v t="$TREE" 'BEGIN { printf "%.1f", t / 1048576 }') MiB): $TOTAL_MIB MiB of the 64 MiB a call carries"
if [ $((BYTES + TREE)) -gt $((63 * 1048576)) ]; then
    echo "study-pack: archive and tree exceed 63 MiB together" >&2
    exit 1
fi
