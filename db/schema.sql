-- db/schema.sql: the dlcm database, schema version 5. Built into db/db.c (db/schema.inc).
-- Sweeps own runs; runs own metrics, evaluations and module statistics; fits reference a sweep
-- by name (or a CSV file) and keep their full JSON. The views at the end answer everyday
-- questions (db/migrate.c brings a version 1, 2, 3 or 4 database here).

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sweeps (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    file       TEXT,              -- the sweep YAML it came from
    config     TEXT,              -- the sweep file's text, as read
    created_at REAL NOT NULL,
    -- version 2
    base_name  TEXT,              -- the name in the sweep file (name is NAME.vK from version 2 on)
    version    INTEGER NOT NULL DEFAULT 1,
    tags       TEXT,              -- comma-separated labels
    notes      TEXT
);

CREATE TABLE IF NOT EXISTS runs (
    id              TEXT PRIMARY KEY,   -- hash of the resolved run config and engine version
    sweep_id        INTEGER REFERENCES sweeps(id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'diverged', 'cancelled')),
    config          TEXT NOT NULL,      -- the resolved run config (YAML)
    family          TEXT NOT NULL CHECK (family IN ('dense', 'dlcm')),
    parametrization TEXT,               -- mup | sp
    d_t INTEGER, d_c INTEGER, n_layers INTEGER, n_enc INTEGER, n_con INTEGER, n_dec INTEGER,
    vocab INTEGER, seq_len INTEGER,
    R_target        REAL,               -- target compression ratio (dlcm)
    N               INTEGER,            -- non-embedding parameters
    embedding_params   INTEGER,
    unembedding_params INTEGER,
    P               REAL,               -- backbone share of N
    fwd_flops_per_token   REAL,         -- analytic, at the target R
    train_flops_per_token REAL,
    tokens          INTEGER,            -- planned training tokens D
    steps           INTEGER,            -- planned optimizer steps
    budget          REAL,               -- the sweep's FLOPs budget C this run belongs to
    train_flops     REAL,               -- realized planned compute 3 F D
    lr              REAL,
    seed            INTEGER,
    -- filled by the trainer
    flops_launched  REAL,               -- matrix-product FLOPs the backend actually launched
    realized_R_train REAL,
    realized_R_eval  REAL,
    final_train_loss REAL,
    final_val_loss   REAL,
    initial_loss     REAL,
    tokens_done     INTEGER DEFAULT 0,
    steps_done      INTEGER DEFAULT 0,
    tokens_per_s    REAL,
    peak_mem_bytes  INTEGER,
    device          TEXT,
    -- filled by the scheduler
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    stderr_tail     TEXT,
    out_dir         TEXT,
    heartbeat_at    REAL,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    -- version 2: where and from what the run was made (recorded at each launch), labels
    git_commit      TEXT,               -- the scheduler's source commit
    git_dirty       INTEGER,            -- 1 when built from a tree with uncommitted changes
    host            TEXT,
    gpu_model       TEXT,
    gpu_driver      TEXT,
    corpus_hash     TEXT,               -- sha256 of the corpus text (the shards' stamp)
    tokenizer_hash  TEXT,               -- sha256 of the tokenizer model ('byte' for bytes)
    tags            TEXT,
    notes           TEXT,
    -- version 4
    epochs          REAL                -- planned tokens / tokens of its training shard (NULL: unknown)
);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep_id, status);

CREATE TABLE IF NOT EXISTS metrics (
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    tokens      INTEGER NOT NULL,
    train_loss  REAL,
    aux_loss    REAL,
    realized_R  REAL,
    lr          REAL,
    grad_norm   REAL,
    tokens_per_s REAL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE IF NOT EXISTS evals (
    run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    split      TEXT NOT NULL,       -- 'val' or 'val-<domain>'
    loss       REAL NOT NULL,
    realized_R REAL,
    PRIMARY KEY (run_id, step, split)
);

CREATE TABLE IF NOT EXISTS module_stats (   -- μP coordinate check: mean |x| per module
    run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step     INTEGER NOT NULL,
    module   TEXT NOT NULL,
    mean_abs REAL NOT NULL,
    PRIMARY KEY (run_id, step, module)
);

-- Version 3: what the trainer measures on held-out data after its last step (engine/train/heldout.c).
-- Held-out tasks (data/out/tasks): the first `items` items of each file, scored by length-normalized
-- log-likelihood (engine/train/tasks.h), accuracy with its Wilson 95 % interval.
CREATE TABLE IF NOT EXISTS task_scores (
    run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task            TEXT NOT NULL,      -- cloze | next_sentence | definition
    items           INTEGER NOT NULL,   -- items scored
    items_available INTEGER,            -- items in the file
    correct         INTEGER NOT NULL,
    accuracy        REAL NOT NULL,
    ci_low          REAL NOT NULL,
    ci_high         REAL NOT NULL,
    chance          REAL,               -- mean 1 / candidates
    answer_logprob  REAL,               -- mean log-likelihood of the right ending (nats per item)
    PRIMARY KEY (run_id, task)
);

-- Per-token losses on fixed windows of each held-out domain shard, so that runs can be compared
-- token by token (the loss by position within a concept against a dense model on the same
-- tokens). Windows are seq_len tokens at offsets k * (shard tokens - seq_len) / windows; the
-- targets are tokens 1 .. seq_len - 1 of each window. tokens_hash tells whether two runs scored
-- the same tokens.
CREATE TABLE IF NOT EXISTS token_losses (
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    split       TEXT NOT NULL,          -- 'val-<domain>'
    seq_len     INTEGER NOT NULL,
    windows     INTEGER NOT NULL,
    tokens_hash TEXT NOT NULL,          -- FNV-1a 64 of the windows' token ids, hex
    loss        BLOB NOT NULL,          -- float32 per target token (nats), little-endian
    concept_pos BLOB,                   -- uint8 per target token: its position within its concept
                                        -- (0 = first; 255 = 255 or more); NULL for a dense run
    PRIMARY KEY (run_id, split)
);

-- Where a run's wall time went (version 5): seconds of the trainer's phases, summed over the
-- trainer processes that worked on the run (a resumed run has several). phase: setup (data,
-- device, model, optimizer, database), eval (validation passes), train (the steps, with their
-- metric and progress writes), checkpoint (writing it), heldout (task scores and per-token losses
-- after the last step). For a run of one process, what its wall time (finished_at - started_at)
-- holds beyond their sum is launch, process start-up and the end.
CREATE TABLE IF NOT EXISTS run_phases (
    run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    phase     TEXT NOT NULL CHECK (phase IN ('setup', 'eval', 'train', 'checkpoint', 'heldout')),
    seconds   REAL NOT NULL,
    processes INTEGER NOT NULL DEFAULT 1,  -- trainer processes whose seconds are summed
    PRIMARY KEY (run_id, phase)
);

CREATE TABLE IF NOT EXISTS fits (
    id         INTEGER PRIMARY KEY,
    source     TEXT NOT NULL,       -- 'sweep:<name>' or 'csv:<path>'
    law        TEXT NOT NULL,       -- chinchilla | dlcm | decay | mup
    created_at REAL NOT NULL,
    n_points   INTEGER NOT NULL,
    objective  REAL,
    r2         REAL,
    json       TEXT NOT NULL        -- coefficients, intervals, data selection, estimator settings
);

-- Everyday questions (version 2). Loss is the final validation loss, else the training loss.
CREATE VIEW IF NOT EXISTS run_summary AS
SELECT s.name AS sweep, r.id AS run, r.status, r.family, r.parametrization, r.N, r.P, r.R_target AS R,
       r.budget, r.tokens AS D, r.lr, r.seed, coalesce(r.final_val_loss, r.final_train_loss) AS loss,
       r.final_val_loss AS val_loss, r.final_train_loss AS train_loss, r.steps_done, r.steps,
       CASE WHEN r.steps > 0 THEN 1.0 * r.steps_done / r.steps END AS progress,
       r.tokens_per_s, r.finished_at - r.started_at AS seconds, r.attempts, r.error,
       r.git_commit, r.git_dirty, r.host, r.gpu_model, r.corpus_hash, r.tokenizer_hash,
       coalesce(r.tags, s.tags) AS tags, r.notes, r.epochs
FROM runs r LEFT JOIN sweeps s ON s.id = r.sweep_id;

CREATE VIEW IF NOT EXISTS run_curve AS
SELECT s.name AS sweep, m.run_id AS run, m.step, m.tokens, m.train_loss, e.loss AS val_loss,
       m.lr, m.grad_norm, m.realized_R, m.tokens_per_s
FROM metrics m JOIN runs r ON r.id = m.run_id LEFT JOIN sweeps s ON s.id = r.sweep_id
LEFT JOIN evals e ON e.run_id = m.run_id AND e.step = m.step AND e.split = 'val';

CREATE VIEW IF NOT EXISTS sweep_summary AS
SELECT s.name AS sweep, coalesce(s.base_name, s.name) AS base_name, s.version, count(r.id) AS runs,
       sum(r.status = 'done') AS done, sum(r.status = 'running') AS running,
       sum(r.status = 'queued') AS queued, sum(r.status = 'failed') AS failed,
       sum(r.status = 'diverged') AS diverged, sum(r.status = 'cancelled') AS cancelled,
       min(CASE WHEN r.status = 'done' THEN coalesce(r.final_val_loss, r.final_train_loss) END) AS best_loss,
       sum(r.train_flops) AS planned_flops, s.tags, s.notes, s.created_at
FROM sweeps s LEFT JOIN runs r ON r.sweep_id = s.id GROUP BY s.id;
