#!/bin/sh
# scripts/study-travel-db.sh: fits the study database into a device command's 64 MiB beside the
# archive of scripts/study-pack.sh, and merges what the command returns back into the full one.
#   slim:  results/bpe-study/bpe-study.sqlite (the full database, decompressed from the committed
#          .xz when absent) stays as it is; the working tree's bpe-study.sqlite.xz becomes a copy
#          without the per-step training metrics and the per-token held-out losses of finished
#          runs (the device resumes only queued and interrupted runs; it never reads those rows).
#          Do not commit it: `merge`
#          puts the full database back (so does `git checkout results/bpe-study/bpe-study.sqlite.xz`).
#   merge RETURNED.xz: the database a device command returned (scripts/study-device.sh's
#          bpe-study.sqlite.xz) gets back every metrics and token_losses row of the full database
#          that it lacks; the result, checked to hold every run and every such row of both,
#          replaces the full database and its committed .xz.
# Usage: scripts/study-travel-db.sh slim | merge RETURNED.xz   (from the repository root)
set -eu
DIR=results/bpe-study
FULL=$DIR/bpe-study.sqlite
XZ=$DIR/bpe-study.sqlite.xz
die() { echo "study-travel-db: $*" >&2; exit 1; }
count() { sqlite3 "$1" "$2" || die "cannot read $1"; }
command -v sqlite3 >/dev/null || die "sqlite3 not found (make deps installs it)"

case "${1:-}" in
slim)
    if [ ! -r "$FULL" ]; then
        [ -r "$XZ" ] || die "neither $FULL nor $XZ exists"
        xz -dkc "$XZ" >"$FULL.tmp" && mv "$FULL.tmp" "$FULL"
    fi
    TMP=$(mktemp /tmp/study-slim-XXXXXX.sqlite)
    trap 'rm -f "$TMP" "$TMP.xz"' EXIT
    sqlite3 "$FULL" ".backup '$TMP'" || die "cannot copy $FULL"
    sqlite3 "$TMP" "DELETE FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE status IN ('done', 'diverged', 'failed', 'cancelled'));
        DELETE FROM token_losses WHERE run_id IN (SELECT id FROM runs WHERE status IN ('done', 'diverged', 'failed', 'cancelled'));
        VACUUM;" ||
        die "cannot slim the copy of $FULL"
    xz -6 -T2 -c "$TMP" >"$TMP.xz"
    mv "$TMP.xz" "$XZ"
    echo "study-travel-db: $XZ is now the travelling copy ($(stat -c %s "$XZ") bytes; finished runs' metrics and token losses left out);"
    echo "  the full database is $FULL; after the device command: scripts/study-travel-db.sh merge RETURNED.xz"
    ;;
merge)
    RETURNED=${2:-}
    [ -r "$FULL" ] || die "$FULL (the full database) is missing: run slim before the device command"
    TMP=$(mktemp /tmp/study-merge-XXXXXX.sqlite)
    trap 'rm -f "$TMP"' EXIT
    if [ -n "$RETURNED" ] && [ -r "$RETURNED" ]; then
        xz -dc "$RETURNED" >"$TMP" || die "cannot decompress $RETURNED"
    elif [ -n "$RETURNED" ] && [ -r "$RETURNED.part-aa" ]; then
        # too large for one returned file: study-device.sh split it
        cat "$RETURNED".part-* | xz -dc >"$TMP" || die "cannot decompress the parts $RETURNED.part-*"
    else
        die "usage: study-travel-db.sh merge RETURNED.xz (the database the device command returned, or its .part-* files)"
    fi
    sqlite3 "$TMP" "ATTACH '$FULL' AS full;
        BEGIN;
        INSERT INTO metrics SELECT * FROM full.metrics m
            WHERE NOT EXISTS (SELECT 1 FROM metrics x WHERE x.run_id = m.run_id AND x.step = m.step);
        INSERT INTO token_losses SELECT * FROM full.token_losses t
            WHERE NOT EXISTS (SELECT 1 FROM token_losses x WHERE x.run_id = t.run_id AND x.split = t.split);
        COMMIT;" || die "cannot merge the metrics and token losses of $FULL into the returned database"
    # Nothing of the full database may be lost: every run and every metrics row must be there.
    lost_runs=$(count "$TMP" "ATTACH '$FULL' AS full; SELECT count(*) FROM full.runs r WHERE NOT EXISTS (SELECT 1 FROM runs x WHERE x.id = r.id);")
    lost_rows=$(count "$TMP" "ATTACH '$FULL' AS full; SELECT count(*) FROM full.metrics m WHERE NOT EXISTS (SELECT 1 FROM metrics x WHERE x.run_id = m.run_id AND x.step = m.step);")
    lost_losses=$(count "$TMP" "ATTACH '$FULL' AS full; SELECT count(*) FROM full.token_losses t WHERE NOT EXISTS (SELECT 1 FROM token_losses x WHERE x.run_id = t.run_id AND x.split = t.split);")
    [ "$lost_runs" = 0 ] && [ "$lost_rows" = 0 ] && [ "$lost_losses" = 0 ] ||
        die "the merged database lacks $lost_runs run(s), $lost_rows metrics and $lost_losses token_losses row(s) of $FULL: nothing replaced"
    sqlite3 "$TMP" "VACUUM;" || die "cannot compact the merged database"
    cp "$TMP" "$FULL.tmp" && chmod 644 "$FULL.tmp" && mv "$FULL.tmp" "$FULL"
    xz -6 -T2 -kc "$FULL" >"$XZ.tmp" && mv "$XZ.tmp" "$XZ"
    echo "study-travel-db: merged: $FULL ($(count "$FULL" "SELECT count(*) FROM runs;") runs) and $XZ replaced"
    ;;
*)
    die "usage: study-travel-db.sh slim | merge RETURNED.xz"
    ;;
esac
