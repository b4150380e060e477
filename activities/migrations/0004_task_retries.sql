-- Retries: a diagnosis started again with the same input, linked to the one it retries.
CREATE TABLE IF NOT EXISTS task_retries (
    retry_id      TEXT PRIMARY KEY,
    original_id   TEXT NOT NULL,
    requested_by  TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS task_retries_original_idx ON task_retries (original_id);
