-- LLM token accounting: per UTC day (the daily budget, shared by every replica and kept
-- across restarts) and per diagnosis (the task budget; task_id is the workflow id).
CREATE TABLE IF NOT EXISTS llm_usage_daily (
    day               DATE NOT NULL,
    model             TEXT NOT NULL,
    requests          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens      BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (day, model)
);

CREATE TABLE IF NOT EXISTS llm_usage_task (
    task_id           TEXT PRIMARY KEY,
    requests          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens      BIGINT NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Old rows can be pruned by age.
CREATE INDEX IF NOT EXISTS llm_usage_task_updated_at_idx ON llm_usage_task (updated_at);
