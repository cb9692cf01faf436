-- tests/data/schema_v1.sql: the database schema of version 1, kept to test the migration to the
-- current one (db/migrate.c).

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sweeps (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    file       TEXT,              -- the sweep YAML it came from
    config     TEXT,              -- the sweep file's text, as read
    created_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    id              TEXT PRIMARY KEY,   -- hash of the resolved run config and engine version
    sweep_id        INTEGER REFERENCES sweeps(id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'diverged')),
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
    finished_at     REAL
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
