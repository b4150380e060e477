-- Priority's history term counts recent reports of one alert on one cluster (api/src/history.rs).
CREATE INDEX IF NOT EXISTS reports_alert_cluster_created_idx ON reports (alert_name, cluster_id, created_at DESC);
