-- Retention deletes by age: step outputs by when they were stored (with the audit rows whose
-- digests name them); the LLM usage of each diagnosis by when it was last written.
CREATE INDEX IF NOT EXISTS step_outputs_created_at_idx ON step_outputs (created_at);
