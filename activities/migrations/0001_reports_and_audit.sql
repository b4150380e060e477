-- Reports: one per diagnosis (workflow id), written by the report activity.
CREATE TABLE IF NOT EXISTS reports (
    id           UUID PRIMARY KEY,
    workflow_id  TEXT NOT NULL UNIQUE,
    cluster_id   TEXT NOT NULL,
    namespace    TEXT,
    alert_name   TEXT NOT NULL,
    severity     TEXT NOT NULL,
    root_cause   TEXT NOT NULL,
    resource     TEXT,
    summary      TEXT NOT NULL,
    confidence   DOUBLE PRECISION NOT NULL,
    report       JSONB NOT NULL,
    markdown     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS reports_cluster_ns_idx ON reports (cluster_id, namespace);
CREATE INDEX IF NOT EXISTS reports_created_idx ON reports (created_at DESC);
CREATE INDEX IF NOT EXISTS reports_root_cause_idx ON reports (root_cause);

-- Audit: every command a diagnosis ran and every conclusion, append-only.
CREATE TABLE IF NOT EXISTS audit_log (
    id           BIGSERIAL PRIMARY KEY,
    workflow_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    detail       JSONB NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, kind, detail)
);
CREATE INDEX IF NOT EXISTS audit_workflow_idx ON audit_log (workflow_id);
