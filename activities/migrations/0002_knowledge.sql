-- Knowledge base: runbooks and past diagnoses, searched by meaning (pgvector).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS knowledge_entries (
    id               UUID PRIMARY KEY,
    -- Stable key of entries loaded from files (`runbook/KubePodCrashLooping`): loading
    -- again updates them in place. NULL for entries people add through the API.
    slug             TEXT UNIQUE,
    title            TEXT NOT NULL,
    content          TEXT NOT NULL,
    category         TEXT NOT NULL,
    tags             TEXT[] NOT NULL DEFAULT '{}',
    -- Unit vector of title, tags and content; only vectors of one model are compared.
    embedding        vector(384) NOT NULL,
    embedding_model  TEXT NOT NULL,
    -- The author's confidence; `confidence` is this blended with the feedback received
    -- (formula in activities/src/knowledge/feedback.rs).
    prior_confidence REAL NOT NULL,
    confidence       REAL NOT NULL,
    usage_count      BIGINT NOT NULL DEFAULT 0,
    success_count    BIGINT NOT NULL DEFAULT 0,
    success_rate     REAL NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    metadata         JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS knowledge_entries_embedding_idx ON knowledge_entries USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS knowledge_entries_category_idx ON knowledge_entries (category);
CREATE INDEX IF NOT EXISTS knowledge_entries_tags_idx ON knowledge_entries USING gin (tags);

-- Every piece of feedback, kept for audit. One count per (entry, diagnosis): a retried
-- or repeated feedback for the same workflow does not move the numbers twice (the
-- unique index also serves lookups by entry).
CREATE TABLE IF NOT EXISTS knowledge_feedback (
    id           BIGSERIAL PRIMARY KEY,
    entry_id     UUID NOT NULL,
    success      BOOLEAN NOT NULL,
    workflow_id  TEXT,
    comment      TEXT,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (entry_id, workflow_id)
);
