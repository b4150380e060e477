-- Notifications: one row per diagnosis and channel with its delivery status; the repeat
-- window looks up a fingerprint's recent rows on a channel.
CREATE TABLE IF NOT EXISTS notifications (
    id           BIGSERIAL PRIMARY KEY,
    workflow_id  TEXT NOT NULL,
    report_id    UUID NOT NULL,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'retrying', 'sent', 'failed', 'suppressed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    UNIQUE (workflow_id, channel)
);
CREATE INDEX IF NOT EXISTS notifications_repeat_idx ON notifications (fingerprint, channel, created_at DESC);
