-- LLM use of each diagnosis per model (task_id is the workflow id; model as the API named it
-- in its answers), so the report can state tokens and cost for the whole diagnosis:
-- analyze and every decide_next, retries included. llm_usage_task keeps the task budget.
CREATE TABLE IF NOT EXISTS llm_usage_task_model (
    task_id           TEXT NOT NULL,
    model             TEXT NOT NULL,
    requests          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens      BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, model)
);
CREATE INDEX IF NOT EXISTS llm_usage_task_model_updated_at_idx ON llm_usage_task_model (updated_at);
