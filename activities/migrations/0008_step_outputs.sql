-- Step outputs too large for workflow history: the whole (redacted) output and objects of a
-- step, by workflow and step (activity) id; history keeps a capped copy and the sha256.
CREATE TABLE IF NOT EXISTS step_outputs (
    workflow_id  TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    command      TEXT NOT NULL,
    output       TEXT NOT NULL,
    objects      JSONB NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, step_id)
);
