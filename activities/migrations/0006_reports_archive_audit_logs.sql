-- Reports: archiving (seed ArchiveReport) and the list filters of GET /reports.
ALTER TABLE reports ADD COLUMN IF NOT EXISTS archived_at TIMESTAMPTZ;
ALTER TABLE reports ADD COLUMN IF NOT EXISTS archived_by TEXT;
CREATE INDEX IF NOT EXISTS reports_severity_idx ON reports (severity);

-- Audit trail: one row per command attempted (allowed or refused), decision, approval and
-- notification. Append-only: the trigger below refuses UPDATE, TRUNCATE and every DELETE
-- except the retention's (aetherius_audit_prune). A trigger rather than REVOKE because the
-- dev stack (and many installs) connect as the table's owner, whom grants do not bind.
CREATE TABLE IF NOT EXISTS audit_logs (
    id             BIGSERIAL PRIMARY KEY,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    workflow_id    TEXT NOT NULL,
    -- command | decision | approval | notification
    kind           TEXT NOT NULL,
    -- Who or what acted: `aetherius`, a person (approvals), `notify:<channel>`.
    actor          TEXT NOT NULL,
    cluster_id     TEXT NOT NULL,
    namespace      TEXT,
    command        TEXT,
    -- The safety layers' or the person's decision: allowed, rejected, not_run, approved, ...
    decision       TEXT,
    -- SHA-256 (hex) of a command's output and objects.
    result_digest  TEXT,
    approver       TEXT,
    detail         JSONB NOT NULL DEFAULT '{}',
    -- Idempotence across activity retries: `<workflow>/<kind>/<seq>`.
    dedup_key      TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_logs_workflow_idx ON audit_logs (workflow_id, id);
CREATE INDEX IF NOT EXISTS audit_logs_cluster_ns_idx ON audit_logs (cluster_id, namespace, recorded_at DESC);
CREATE INDEX IF NOT EXISTS audit_logs_recorded_idx ON audit_logs (recorded_at DESC);

-- The old rows, kept.
INSERT INTO audit_logs (recorded_at, workflow_id, kind, actor, cluster_id, namespace, command, decision, approver, detail, dedup_key)
SELECT a.recorded_at, a.workflow_id,
       CASE a.kind WHEN 'conclusion' THEN 'decision' ELSE a.kind END,
       COALESCE(a.detail->>'by', 'aetherius'),
       COALESCE(r.cluster_id, ''), r.namespace,
       a.detail->>'command',
       COALESCE(a.detail->>'verdict', a.detail->>'status', a.detail->>'root_cause'),
       a.detail->>'by', a.detail, 'legacy/' || a.id
FROM audit_log a LEFT JOIN reports r ON r.workflow_id = a.workflow_id
ON CONFLICT (dedup_key) DO NOTHING;
DROP TABLE IF EXISTS audit_log;

-- Retention may delete rows older than this many days at the least, whatever it is asked.
CREATE OR REPLACE FUNCTION aetherius_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cutoff TIMESTAMPTZ := NULLIF(current_setting('aetherius.audit_prune_cutoff', true), '')::timestamptz;
BEGIN
    IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND cutoff <= now() - interval '7 days' AND OLD.recorded_at < cutoff THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION aetherius_audit_guard();
DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs;
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION aetherius_audit_guard();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM PUBLIC;

-- Retention: deletes rows older than `days` (at least 7) and returns how many.
CREATE OR REPLACE FUNCTION aetherius_audit_prune(days INTEGER) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
    cutoff TIMESTAMPTZ;
BEGIN
    IF days IS NULL OR days < 7 THEN
        RAISE EXCEPTION 'audit retention must be at least 7 days, got %', days;
    END IF;
    cutoff := now() - make_interval(days => days);
    PERFORM set_config('aetherius.audit_prune_cutoff', cutoff::text, true);
    DELETE FROM audit_logs WHERE recorded_at < cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('aetherius.audit_prune_cutoff', '', true);
    RETURN n;
END $$;
