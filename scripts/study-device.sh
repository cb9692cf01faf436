#!/bin/bash
# scripts/study-device.sh: one device session of the bpe-study, inside ONE device command. It
# unpacks the archive scripts/study-pack.sh built (binaries and the bpe4096 corpus), takes the study
# database (this machine's own from an earlier call when it is still warm, else the repository's
# results/bpe-study/bpe-study.sqlite.xz, else a new one), runs `dlcm-sweep run` on the study's sweep
# files in order with MPS, automatic packing and a deadline that ends the command cleanly before
# its 10-minute limit (trainers checkpoint, unfinished runs go back to the queue), and writes to
# $OUT: the database as bpe-study.sqlite.xz (each finished run's held-out task scores and per-token
# losses included: the trainer measures them after its last step on the archive's task files and
# domain shards; without the metrics of runs the travelling copy held finished; in .part-* files
# of 15 MiB when larger, since a returned file may not exceed 16 MiB),
# sessions.tsv with this session's line added (the sweeps' wall time, the runs finished and their
# planned training FLOPs, the aggregate TFLOP/s those make over that wall time, the GPU, the runs
# left), the log and `dlcm-sweep status` (each sweep run this session with where its runs' wall time
# went: training steps, evaluation, checkpoints, held-out measurements, start-up).
#
# The lead's call (the device tool sends /work/main's checkout and the carried archive):
#   run  command: "bash scripts/study-device.sh"   carry: [".cudadev-study"]   timeout_s: 600
# then merges the returned database with `scripts/study-travel-db.sh merge`, adds the session's
# line of sessions.tsv to results/bpe-study/sessions.tsv and commits them (results/bpe-study/STATUS.md).
# Measurements that need the runs' checkpoints (which do not outlive the machine) go in
# scripts/study-device-hook.sh: run when present, from the unpacked archive, with STUDY_DB,
# STUDY_FINISHED (sweep, run and run directory of each run finished this session, tab-separated)
# and OUT. Knobs (environment): STUDY_BUDGET_S (seconds for the whole script, default 570),
# STUDY_FILES (sweep files in order), STUDY_NEW_VERSION (1: a sweep file whose settings changed is
# recorded as the sweep's next version, `dlcm-sweep run --new-version`; unchanged files are not),
# STUDY_EXTEND (1: a sweep file that only adds runs extends its recorded version, `--extend`: the
# finished runs are kept, only the new ones run),
# STUDY_PACK (the archive), STUDY_WORK (scratch, default /tmp/bpe-study).
set -u
START=$(date +%s)
REPO=$(pwd)
BUDGET=${STUDY_BUDGET_S:-570}
PACK=${STUDY_PACK:-.cudadev-study/bpe-study-pack.tar.xz}
WORK=${STUDY_WORK:-/tmp/bpe-study}
OUT=${OUT:-$WORK/out}
FILES=${STUDY_FILES:-"configs/study-coord-dt.yaml configs/study-coord-dc.yaml configs/study-mup-dt.yaml
configs/study-mup-dc.yaml configs/study-parser.yaml configs/study-isoflop.yaml"}
# The repository keeps the database xz-compressed: raw, it would not travel beside the archive
# within the device tool's 64 MiB.
REPO_DB_XZ=results/bpe-study/bpe-study.sqlite.xz
REPO_DB=$WORK/repo-copy.sqlite
DB=$WORK/bpe-study.sqlite
GRACE=20          # seconds a trainer gets to checkpoint after the deadline
RESERVE=30        # seconds kept after the sweeps for the hook and copying out
LOG=$OUT/study-device.log
mkdir -p "$WORK" "$OUT"
exec > >(tee -a "$LOG") 2>&1
left() { echo $((START + BUDGET - $(date +%s))); }
say() { echo "study-device: $(date -u +%H:%M:%S) $*"; }

# ---- the archive: binaries and corpus (unpacked again when it changed)
[ -r "$PACK" ] || { say "no archive at $PACK: build it with scripts/study-pack.sh and carry its folder"; exit 2; }
STAMP=$(stat -c '%s %Y' "$PACK")
if [ "$(cat "$WORK/pack.stamp" 2>/dev/null)" != "$STAMP" ]; then
    rm -rf "$WORK/pack" && mkdir -p "$WORK/pack"
    if command -v xz >/dev/null; then
        xz -dc "$PACK" | tar -C "$WORK/pack" -xf - || { say "cannot unpack $PACK"; exit 1; }
    else
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$PACK" "$WORK/pack" ||
            { say "cannot unpack $PACK"; exit 1; }
    fi
    echo "$STAMP" >"$WORK/pack.stamp"
fi
say "archive $PACK unpacked in $WORK/pack (binaries of commit $(cat "$WORK/pack/COMMIT"))"
export LD_LIBRARY_PATH=$WORK/pack/lib:${LD_LIBRARY_PATH:-}
export PATH=$WORK/pack/bin:$PATH   # spm_encode for the held-out tasks of BPE runs
SWEEP=$WORK/pack/bin/dlcm-sweep
GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
say "GPU: ${GPU:-none found}"

# ---- the database: the newer of this machine's and the repository's (more runs done wins)
done_runs() { python3 -c 'import sqlite3, sys
try:
    db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
    print(db.execute("SELECT count(*) FROM runs WHERE status = \"done\"").fetchone()[0])
except Exception:
    print(-1)' "$1"; }
rm -f "$REPO_DB"
if [ -r "$REPO/$REPO_DB_XZ" ]; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
        "$REPO/$REPO_DB_XZ" "$REPO_DB" || { say "cannot decompress $REPO_DB_XZ"; exit 1; }
fi
if [ -r "$REPO_DB" ] && [ "$(done_runs "$REPO_DB")" -gt "$( [ -r "$DB" ] && done_runs "$DB" || echo -1)" ]; then
    cp "$REPO_DB" "$DB" && rm -f "$DB-wal" "$DB-shm"
    say "database from the repository ($(done_runs "$DB") runs done)"
elif [ -r "$DB" ]; then
    say "database kept from an earlier call on this machine ($(done_runs "$DB") runs done)"
else
    say "a new database"
fi

SESSION_START=$(date +%s)
list_finished() { # the runs done this session: sweep, run, run directory
    python3 - "$DB" "$SESSION_START" >"$WORK/finished.tsv" 2>/dev/null <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for sweep, run, out_dir in db.execute(
        "SELECT s.name, r.id, r.out_dir FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
        "WHERE r.status = 'done' AND r.finished_at >= ? ORDER BY r.finished_at", (float(sys.argv[2]),)):
    print(f"{sweep}\t{run}\t{out_dir}")
PYEOF
}

# ---- the sweeps, in order, until the deadline
SWEEPS_START=$(date +%s)
cd "$WORK/pack" # the runs read data/out/bpe4096 from here
for f in $FILES; do
    deadline=$(( $(left) - RESERVE - GRACE ))
    if [ "$deadline" -lt 60 ]; then say "$(left) s left: no more sweeps this session"; break; fi
    say "$f: dlcm-sweep run with a deadline of $deadline s"
    version_flag=""
    [ "${STUDY_NEW_VERSION:-0}" = 1 ] && version_flag=--new-version
    [ "${STUDY_EXTEND:-0}" = 1 ] && version_flag="$version_flag --extend" # both: dlcm-sweep refuses
    "$SWEEP" run "$REPO/$f" $version_flag --db "$DB" --runs-dir "$WORK/runs" --deadline "$deadline" \
        --stop-grace "$GRACE" --status-every 30
    rc=$?
    case $rc in
        0) say "$f: every run done" ;;
        3) say "$f: stopped at the deadline; its queued runs run in the next session"; break ;;
        1) say "$f: some runs failed (dlcm-sweep status --runs names them); going on" ;;
        *) say "$f: dlcm-sweep exited $rc; stopping"; break ;;
    esac
done
cd "$REPO"
SWEEPS_END=$(date +%s)

# ---- measurements of others that need the checkpoints (which do not outlive the machine): an
# executable scripts/study-device-hook.sh is run with the finished runs listed, while time is left
HOOK=$REPO/scripts/study-device-hook.sh
list_finished
if [ -x "$HOOK" ] && [ "$(left)" -gt 25 ]; then
    say "running $HOOK ($(( $(left) - 20 )) s at most)"
    (cd "$WORK/pack" && STUDY_DB=$DB STUDY_FINISHED=$WORK/finished.tsv OUT=$OUT timeout $(( $(left) - 20 )) "$HOOK") ||
        say "$HOOK exited $?"
fi

# ---- what the session did, and the outputs
python3 - "$DB" "$SWEEPS_START" "$SWEEPS_END" "$GPU" "$REPO/results/bpe-study/sessions.tsv" "$OUT/sessions.tsv" <<'EOF'
import os, sqlite3, sys, time
db_path, start, end, gpu, old, new = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
db = sqlite3.connect("file:" + db_path + "?mode=ro", uri=True)
n, flops = db.execute("SELECT count(*), coalesce(sum(train_flops), 0) FROM runs WHERE status = 'done' "
                      "AND finished_at >= ? AND finished_at <= ?", (start, end + 60)).fetchone()
left = db.execute("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')").fetchone()[0]
wall = max(end - start, 1e-9)
header = "date_utc\twall_s\truns_done\ttrain_flops\taggregate_tflops\tgpu\truns_left\n"
line = "%s\t%.0f\t%d\t%.4g\t%.2f\t%s\t%d\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)), wall, n, flops,
                                           flops / wall / 1e12, gpu or "none", left)
text = open(old).read() if os.path.exists(old) else header
open(new, "w").write(text + line)
print("study-device: session: %s" % line.strip())
EOF
# One consistent file (no -wal beside it), through SQLite's backup.
python3 -c 'import sqlite3, sys
src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2]); src.backup(dst); dst.close(); src.close()' \
    "$DB" "$OUT/bpe-study.sqlite"
# What comes back from the device is at most 16 MiB a file: the per-step metrics and per-token
# losses of the runs the repository's (travelling) copy already held finished are left out, as
# scripts/study-travel-db.sh slim leaves them out, and its merge puts them back from the full
# database; a copy still too large comes back in parts that the merge joins.
if [ -r "$REPO_DB" ]; then
    python3 - "$OUT/bpe-study.sqlite" "$REPO_DB" <<'EOF' || say "cannot slim the returned copy: it comes back whole"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("ATTACH ? AS repo", (sys.argv[2],))
done_before = "SELECT id FROM repo.runs WHERE status IN ('done', 'diverged', 'failed', 'cancelled')"
with db:
    db.execute("DELETE FROM metrics WHERE run_id IN (%s)" % done_before)
    db.execute("DELETE FROM token_losses WHERE run_id IN (%s)" % done_before)
db.execute("DETACH repo")
db.execute("VACUUM")
db.close()
EOF
fi
python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(open(sys.argv[1], "rb"), lzma.open(sys.argv[1] + ".xz", "wb", preset=6))' \
    "$OUT/bpe-study.sqlite" && rm "$OUT/bpe-study.sqlite" || { say "cannot compress the database copy"; exit 1; }
if [ "$(stat -c %s "$OUT/bpe-study.sqlite.xz")" -gt $((15 * 1024 * 1024)) ]; then
    split -b 15M "$OUT/bpe-study.sqlite.xz" "$OUT/bpe-study.sqlite.xz.part-" && rm "$OUT/bpe-study.sqlite.xz"
    say "database returned in parts: $(cd "$OUT" && ls bpe-study.sqlite.xz.part-* | tr '\n' ' ')(study-travel-db.sh merge joins them)"
else
    say "database returned as bpe-study.sqlite.xz (the runs finished before this session without their metrics)"
fi
(cd "$WORK/pack" && "$SWEEP" status --db "$DB") >"$OUT/status.txt" 2>&1
# Each sweep with runs finished this session (list_finished's list) on its own: its progress and
# where its runs' wall time went.
for name in $(cut -f1 "$WORK/finished.tsv" 2>/dev/null | sort -u); do
    (cd "$WORK/pack" && "$SWEEP" status --db "$DB" --sweep "$name") >>"$OUT/status.txt" 2>&1
done
grep "^wall time" "$OUT/status.txt" | sed 's/^/study-device: /'
say "done in $(( $(date +%s) - START )) s; outputs in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exec >&- 2>&-
wait # for tee to write the log's last lines
