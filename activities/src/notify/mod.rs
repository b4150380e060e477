//! Notifications (report pool): after the report is stored, `plan_notifications` picks the
//! channels whose routes match the diagnosis and holds back a fingerprint already notified
//! inside the repeat window; then each channel is its own activity (`notify_slack`,
//! `notify_webhook`, `notify_email`) with its own retry policy. Every delivery's status is
//! a row of the `notifications` table (one per diagnosis and channel).

pub mod link;
pub mod message;
pub mod send;

use aetherius_core::{
    ReportInput,
    notify::{ChannelKind, DeliveryInput, DeliveryStatus, PlannedDelivery},
    queues::activity,
};
use send::SendError;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use temporalio_sdk::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// `[notifications]`: channels, routes, the repeat window and the links messages carry.
/// Secrets (webhook URLs, signing secrets, SMTP credentials) come from environment variables
/// (`*_env`) or files (`*_file`, e.g. a mounted Kubernetes Secret) named here, never from the
/// configuration itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationOptions {
    /// Off: nothing is planned or sent.
    pub enabled: bool,
    /// Public URL of the API; a message links `{public_base_url}/reports/{id}`, an approval
    /// request `{public_base_url}/approvals/{token}`.
    pub public_base_url: Option<String>,
    /// A fingerprint notified on a channel is not notified there again for this long.
    pub repeat_window_secs: u64,
    /// Channels by name.
    pub channels: BTreeMap<String, ChannelOptions>,
    /// Which diagnoses go to which channels; a diagnosis goes to the channels of every route
    /// it matches. No routes: every channel gets every diagnosis.
    pub routes: Vec<Route>,
}

impl Default for NotificationOptions {
    fn default() -> Self {
        NotificationOptions {
            enabled: true,
            public_base_url: None,
            // Alertmanager's default repeat_interval.
            repeat_window_secs: 4 * 3600,
            channels: BTreeMap::new(),
            routes: vec![],
        }
    }
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the start (port 465).
    Tls,
    /// None: only for a relay on localhost or a test server.
    None,
}

/// One channel. Which fields apply depends on `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelOptions {
    /// slack, webhook or email.
    pub kind: ChannelKind,
    /// slack, webhook: environment variable holding the URL (a Slack webhook URL is a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// slack, webhook: file holding the URL (instead of `url_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// webhook: the URL itself, when it is not secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// webhook: environment variable holding the HMAC secret (`X-Aetherius-Signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// webhook: file holding the HMAC secret (instead of `secret_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// email: SMTP host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    /// email: SMTP port (587).
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// email: starttls, tls or none.
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    /// email: SMTP user and password, each from an environment variable or a file (both or
    /// neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password_file: Option<PathBuf>,
    /// email: sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// email: recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// Attempts before the delivery is recorded as failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay (doubles each attempt up to `max_interval_ms`).
    #[serde(default = "default_initial_ms")]
    pub initial_interval_ms: u64,
    #[serde(default = "default_max_ms")]
    pub max_interval_ms: u64,
    /// Bound on one attempt.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_smtp_port() -> u16 {
    587
}
fn default_attempts() -> u32 {
    5
}
fn default_initial_ms() -> u64 {
    2000
}
fn default_max_ms() -> u64 {
    60_000
}
fn default_timeout() -> u64 {
    10
}

/// A routing rule: every non-empty list must contain the diagnosis's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// Channel names.
    pub channels: Vec<String>,
    pub severities: Vec<String>,
    pub clusters: Vec<String>,
    pub namespaces: Vec<String>,
    /// Root-cause ids (`crashloop-missing-config`, ...).
    pub root_causes: Vec<String>,
    /// Root-cause ids this route never matches (`not-an-issue`, ...).
    pub except_root_causes: Vec<String>,
}

impl Route {
    fn matches(&self, r: &ReportInput) -> bool {
        let within = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v));
        let rc = r.diagnosis.root_cause.as_str();
        within(&self.severities, &r.event.severity)
            && within(&self.clusters, &r.event.cluster_id)
            && (self.namespaces.is_empty() || r.event.namespace.as_deref().is_some_and(|ns| within(&self.namespaces, ns)))
            && within(&self.root_causes, rc)
            && !self.except_root_causes.iter().any(|x| x == rc)
    }

    /// Whether an alert still under diagnosis matches: severity, cluster and namespace only,
    /// since the root cause is not known yet.
    fn matches_alert(&self, e: &aetherius_core::StandardEvent) -> bool {
        let within = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v));
        within(&self.severities, &e.severity)
            && within(&self.clusters, &e.cluster_id)
            && (self.namespaces.is_empty() || e.namespace.as_deref().is_some_and(|ns| within(&self.namespaces, ns)))
    }
}

impl NotificationOptions {
    /// The channels `r` goes to, by name, each once.
    pub fn channels_for(&self, r: &ReportInput) -> Vec<String> {
        self.routed(|route| route.matches(r), |_| true)
    }

    /// The Slack channels an approval request of `e` goes to: those of every route matching
    /// its severity, cluster and namespace (root-cause filters do not apply: no cause yet).
    pub fn slack_channels_for_alert(&self, e: &aetherius_core::StandardEvent) -> Vec<String> {
        self.routed(|route| route.matches_alert(e), |c| c.kind == ChannelKind::Slack)
    }

    /// The configured channels of every route that `matches` (every channel when there are no
    /// routes) that `keep` accepts, by name, each once.
    fn routed(&self, matches: impl Fn(&Route) -> bool, keep: impl Fn(&ChannelOptions) -> bool) -> Vec<String> {
        let mut names: Vec<String> = if self.routes.is_empty() {
            self.channels.keys().cloned().collect()
        } else {
            self.routes.iter().filter(|route| matches(route)).flat_map(|route| route.channels.iter().cloned()).collect()
        };
        names.sort();
        names.dedup();
        names.retain(|n| self.channels.get(n).is_some_and(&keep));
        names
    }

    /// Refuses routes naming unknown channels and channels missing what their kind needs.
    pub fn validate(&self) -> Result<(), String> {
        for (i, route) in self.routes.iter().enumerate() {
            if let Some(c) = route.channels.iter().find(|c| !self.channels.contains_key(*c)) {
                return Err(format!("notifications.routes[{i}] names channel {c:?}, which is not in notifications.channels"));
            }
        }
        for (name, c) in &self.channels {
            let missing = |what: &str| Err(format!("notifications.channels.{name} ({:?}) needs {what}", c.kind));
            match c.kind {
                ChannelKind::Slack if c.url.is_some() => return Err(format!("notifications.channels.{name}: a Slack webhook URL is a secret: use url_env or url_file")),
                ChannelKind::Slack if c.url_env.is_none() && c.url_file.is_none() => return missing("url_env or url_file"),
                ChannelKind::Webhook if c.url_env.is_none() && c.url_file.is_none() && c.url.is_none() => return missing("url, url_env or url_file"),
                ChannelKind::Email if c.smtp_host.is_none() || c.from.is_none() || c.to.is_empty() => return missing("smtp_host, from and to"),
                ChannelKind::Email if (c.smtp_username_env.is_some() || c.smtp_username_file.is_some()) != (c.smtp_password_env.is_some() || c.smtp_password_file.is_some()) => {
                    return missing("both an SMTP user and a password, or neither");
                }
                _ => {}
            }
            let pairs = [
                ("url", c.url_env.is_some() as u8 + c.url_file.is_some() as u8 + c.url.is_some() as u8),
                ("secret", c.secret_env.is_some() as u8 + c.secret_file.is_some() as u8),
                ("smtp_username", c.smtp_username_env.is_some() as u8 + c.smtp_username_file.is_some() as u8),
                ("smtp_password", c.smtp_password_env.is_some() as u8 + c.smtp_password_file.is_some() as u8),
            ];
            if let Some((what, _)) = pairs.iter().find(|(_, n)| *n > 1) {
                return Err(format!("notifications.channels.{name}: set one of {what}_env and {what}_file{}", if *what == "url" { " and url" } else { "" }));
            }
            // A Secret that is not mounted is a configuration error at start, not at the first alert.
            for file in [&c.url_file, &c.secret_file, &c.smtp_username_file, &c.smtp_password_file].into_iter().flatten() {
                file_secret(file).map_err(|e| format!("notifications.channels.{name}: {e}"))?;
            }
            if c.max_attempts == 0 {
                return Err(format!("notifications.channels.{name}.max_attempts must be at least 1"));
            }
        }
        Ok(())
    }
}

fn env_secret(var: &str) -> Result<String, SendError> {
    std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| SendError::Permanent(format!("environment variable {var} is not set")))
}

/// The secret in `path`, trailing newline trimmed. Errors name the path, never the content.
fn file_secret(path: &Path) -> Result<String, SendError> {
    let text = std::fs::read_to_string(path).map_err(|e| SendError::Permanent(format!("secret file {}: {}", path.display(), e.kind())))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(SendError::Permanent(format!("secret file {} is empty", path.display())));
    }
    Ok(value.to_owned())
}

/// The secret from the environment variable or the file configured, if either is.
fn secret(env: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>, SendError> {
    match (env, file) {
        (Some(var), _) => env_secret(var).map(Some),
        (None, Some(path)) => file_secret(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// Activities of notifications (report pool).
pub struct NotifyActivities {
    pool: PgPool,
    options: NotificationOptions,
    /// `{ui}/namespaces/{namespace}/workflows/{id}`.
    temporal_ui: String,
    http: reqwest::Client,
    /// Public URL of the API and the link key: both, or no approve / reject links.
    approval_links: Option<(String, String)>,
}

/// A stored report: its id, input and Markdown.
struct Stored {
    id: uuid::Uuid,
    input: ReportInput,
    markdown: String,
}

impl NotifyActivities {
    /// Notifications configured by `options`; links into the Temporal UI at `temporal_ui_url`.
    pub fn new(pool: PgPool, options: NotificationOptions, temporal_ui_url: &str, namespace: &str) -> Self {
        // reqwest is built without a bundled provider (see the workspace Cargo.toml).
        let _ = rustls::crypto::ring::default_provider().install_default();
        NotifyActivities {
            pool,
            options,
            temporal_ui: format!("{}/namespaces/{namespace}/workflows", temporal_ui_url.trim_end_matches('/')),
            http: reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default(),
            approval_links: None,
        }
    }

    /// Approval requests carry approve / reject links under `public_base_url`, signed with
    /// `key` (`[api.approval] link_secret_*`); without either, they carry none.
    pub fn with_approval_links(mut self, key: Option<String>) -> Self {
        let base = self.options.public_base_url.as_deref().map(|u| u.trim_end_matches('/').to_owned());
        self.approval_links = base.zip(key);
        self
    }

    /// Posts the waiting step of `n` to every Slack channel its alert routes to. `Ok(n)`: sent
    /// to `n` channels. Fails (to be retried) only when every channel failed; each channel's
    /// outcome is an audit row.
    pub async fn post_approval(&self, n: &aetherius_core::notify::ApprovalNotice) -> Result<usize, SendError> {
        if !self.options.enabled {
            return Ok(0);
        }
        let decide = self.approval_links.as_ref().map(|(base, key)| {
            let url = |verdict| {
                let claims = link::LinkClaims {
                    workflow_id: n.workflow_id.clone(),
                    step_id: n.pending.step_id.clone(),
                    verdict,
                    expires_at: n.pending.expires_at.timestamp(),
                };
                format!("{base}/approvals/{}", link::sign(key.as_bytes(), &claims))
            };
            (url(link::LinkVerdict::Approve), url(link::LinkVerdict::Reject))
        });
        let links = message::ApprovalLinks { decide, temporal: format!("{}/{}", self.temporal_ui, n.workflow_id) };
        let body = serde_json::to_vec(&message::approval_slack(n, &links)).expect("JSON");
        let channels = self.options.slack_channels_for_alert(&n.event);
        let (mut sent, mut last_error) = (0, None);
        for name in &channels {
            let c = &self.options.channels[name];
            let outcome = match secret(&c.url_env, &c.url_file) {
                Ok(Some(url)) => send::post_json_within(&self.http, &url, body.clone(), &[], Duration::from_secs(c.timeout_secs.max(1))).await,
                Ok(None) => Err(SendError::Permanent("no url".into())),
                Err(e) => Err(e),
            };
            let entry = crate::report::audit::AuditEntry {
                workflow_id: n.workflow_id.clone(),
                kind: "notification",
                actor: format!("notify:{name}"),
                cluster_id: n.event.cluster_id.clone(),
                namespace: n.event.namespace.clone(),
                command: Some(n.pending.command.clone()),
                decision: Some(if outcome.is_ok() { "sent" } else { "failed" }.into()),
                result_digest: None,
                approver: None,
                detail: serde_json::json!({"approval_request": n.pending.step_id, "links": links.decide.is_some(),
                                           "error": outcome.as_ref().err().map(ToString::to_string)}),
                // One row per step, channel and outcome, however often a retry posts it.
                dedup_key: format!("{}/notification/approval/{}/{name}/{}", n.workflow_id, n.pending.step_id, if outcome.is_ok() { "sent" } else { "failed" }),
            };
            match outcome {
                Ok(()) => sent += 1,
                Err(e) => last_error = Some(e),
            }
            if let Ok(mut conn) = self.pool.acquire().await {
                let _ = crate::report::audit::record(&mut conn, &entry).await;
            }
        }
        tracing::info!(workflow_id = %n.workflow_id, step = %n.pending.step_id, channels = channels.len(), sent, "approval request");
        match last_error {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    async fn stored(&self, workflow_id: &str) -> Result<Stored, sqlx::Error> {
        let (id, report, markdown): (uuid::Uuid, serde_json::Value, String) =
            sqlx::query_as("SELECT id, report, markdown FROM reports WHERE workflow_id = $1").bind(workflow_id).fetch_one(&self.pool).await?;
        let input = serde_json::from_value(report).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Stored { id, input, markdown })
    }

    fn links(&self, s: &Stored) -> message::Links {
        message::Links {
            report: self.options.public_base_url.as_ref().map(|b| format!("{}/reports/{}", b.trim_end_matches('/'), s.id)),
            temporal: format!("{}/{}", self.temporal_ui, s.input.workflow_id),
        }
    }

    /// The channels the stored report of `workflow_id` goes to. Each gets a row: `pending`,
    /// or `suppressed` when its fingerprint was notified there (pending, retrying or sent)
    /// inside the repeat window. Idempotent: a retried plan returns what is still to send.
    pub async fn plan(&self, workflow_id: &str) -> Result<Vec<PlannedDelivery>, sqlx::Error> {
        if !self.options.enabled || self.options.channels.is_empty() {
            return Ok(vec![]);
        }
        let stored = self.stored(workflow_id).await?;
        let fingerprint = &stored.input.event.fingerprint;
        let mut planned = vec![];
        for name in self.options.channels_for(&stored.input) {
            let c = &self.options.channels[&name];
            let mut tx = self.pool.begin().await?;
            // One planner at a time per fingerprint and channel: two diagnoses of re-sent
            // alerts cannot both see "not notified yet".
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                .bind(format!("notify\n{fingerprint}\n{name}"))
                .execute(&mut *tx)
                .await?;
            let existing: Option<String> = sqlx::query_scalar("SELECT status FROM notifications WHERE workflow_id = $1 AND channel = $2")
                .bind(workflow_id)
                .bind(&name)
                .fetch_optional(&mut *tx)
                .await?;
            let status = match existing {
                Some(s) => s,
                None => {
                    let recent: Option<String> = sqlx::query_scalar(
                        "SELECT workflow_id FROM notifications WHERE fingerprint = $1 AND channel = $2 AND workflow_id <> $3
                           AND status IN ('pending', 'retrying', 'sent') AND created_at > now() - make_interval(secs => $4)
                         ORDER BY created_at DESC LIMIT 1",
                    )
                    .bind(fingerprint)
                    .bind(&name)
                    .bind(workflow_id)
                    .bind(self.options.repeat_window_secs as f64)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (status, note) = match &recent {
                        Some(other) => (DeliveryStatus::Suppressed, Some(format!("already notified by {other} inside the repeat window"))),
                        None => (DeliveryStatus::Pending, None),
                    };
                    sqlx::query(
                        "INSERT INTO notifications (workflow_id, report_id, channel, kind, fingerprint, status, last_error)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workflow_id, channel) DO NOTHING",
                    )
                    .bind(workflow_id)
                    .bind(stored.id)
                    .bind(&name)
                    .bind(kind_name(c.kind))
                    .bind(fingerprint)
                    .bind(status.as_str())
                    .bind(&note)
                    .execute(&mut *tx)
                    .await?;
                    if status == DeliveryStatus::Suppressed {
                        let entry = crate::report::audit::AuditEntry::notification(&stored.input, &name, status.as_str(), serde_json::json!({"note": note}));
                        crate::report::audit::record(&mut tx, &entry).await?;
                    }
                    status.as_str().to_owned()
                }
            };
            tx.commit().await?;
            if status == "pending" || status == "retrying" {
                planned.push(PlannedDelivery {
                    channel: name.clone(),
                    kind: c.kind,
                    max_attempts: c.max_attempts.max(1),
                    initial_interval_ms: c.initial_interval_ms,
                    max_interval_ms: c.max_interval_ms,
                    attempt_timeout_secs: c.timeout_secs.max(1),
                });
            }
        }
        Ok(planned)
    }

    async fn record(&self, input: &DeliveryInput, status: DeliveryStatus, attempt: u32, error: Option<String>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications SET status = $3, attempts = GREATEST(attempts, $4), last_error = $5, updated_at = now(),
                    sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
             WHERE workflow_id = $1 AND channel = $2",
        )
        .bind(&input.workflow_id)
        .bind(&input.channel)
        .bind(status.as_str())
        .bind(attempt as i32)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn attempt(&self, kind: ChannelKind, input: &DeliveryInput, stored: &Stored) -> Result<(), SendError> {
        let c = self
            .options
            .channels
            .get(&input.channel)
            .filter(|c| c.kind == kind)
            .ok_or_else(|| SendError::Permanent(format!("no {} channel named {:?} in [notifications.channels]", kind_name(kind), input.channel)))?;
        let links = self.links(stored);
        let timeout = Duration::from_secs(c.timeout_secs.max(1));
        let http = &self.http;
        match kind {
            ChannelKind::Slack => {
                let url = secret(&c.url_env, &c.url_file)?.ok_or_else(|| SendError::Permanent("no url".into()))?;
                let body = serde_json::to_vec(&message::slack(&stored.input, &links)).expect("JSON");
                send::post_json_within(http, &url, body, &[], timeout).await
            }
            ChannelKind::Webhook => {
                let url = match &c.url {
                    Some(u) => u.clone(),
                    None => secret(&c.url_env, &c.url_file)?.ok_or_else(|| SendError::Permanent("no url".into()))?,
                };
                let body = serde_json::to_vec(&message::webhook(&stored.input, &stored.id.to_string(), &links)).expect("JSON");
                let mut headers = vec![("x-aetherius-delivery", format!("{}/{}", input.workflow_id, input.channel))];
                if let Some(secret) = secret(&c.secret_env, &c.secret_file)? {
                    let t = chrono::Utc::now().timestamp().max(0) as u64;
                    headers.push(("x-aetherius-signature", send::signature(secret.as_bytes(), t, &body)));
                }
                send::post_json_within(http, &url, body, &headers, timeout).await
            }
            ChannelKind::Email => {
                let credentials = match (secret(&c.smtp_username_env, &c.smtp_username_file)?, secret(&c.smtp_password_env, &c.smtp_password_file)?) {
                    (Some(u), Some(p)) => Some((u, p)),
                    _ => None,
                };
                let smtp = send::Smtp { host: c.smtp_host.clone().unwrap_or_default(), port: c.smtp_port, tls: c.smtp_tls, credentials, timeout };
                let (subject, body) = message::email(&stored.input, &stored.markdown, &links);
                let html = crate::report::render(&stored.input, crate::report::Format::Html);
                send::email(&smtp, c.from.as_deref().unwrap_or_default(), &c.to, &subject, body, Some(html)).await
            }
        }
    }

    /// One attempt on one channel, its outcome recorded. The last attempt (or one the
    /// endpoint refuses for good) records `failed`.
    pub async fn deliver(&self, kind: ChannelKind, input: &DeliveryInput, attempt: u32) -> Result<DeliveryStatus, ActivityError> {
        let current: Option<String> = sqlx::query_scalar("SELECT status FROM notifications WHERE workflow_id = $1 AND channel = $2")
            .bind(&input.workflow_id)
            .bind(&input.channel)
            .fetch_optional(&self.pool)
            .await
            .map_err(ActivityError::from)?;
        if current.as_deref() == Some("sent") {
            return Ok(DeliveryStatus::Sent);
        }
        // The stored report: what the message says, and what the audit row names.
        let stored = self.stored(&input.workflow_id).await;
        let outcome = match &stored {
            Ok(stored) => self.attempt(kind, input, stored).await,
            Err(e) => Err(SendError::Retry { reason: format!("reading the report: {e}"), after: None }),
        };
        let last = attempt >= input.max_attempts;
        let (status, error) = match &outcome {
            Ok(()) => (DeliveryStatus::Sent, None),
            Err(SendError::Permanent(e)) => (DeliveryStatus::Failed, Some(e.clone())),
            Err(e) if last => (DeliveryStatus::Failed, Some(format!("{e} (attempt {attempt} of {})", input.max_attempts))),
            Err(e) => (DeliveryStatus::Retrying, Some(format!("{e} (attempt {attempt} of {})", input.max_attempts))),
        };
        self.record(input, status, attempt, error.clone()).await.map_err(ActivityError::from)?;
        if let (DeliveryStatus::Sent | DeliveryStatus::Failed, Ok(stored)) = (status, &stored) {
            // The audit trail's row for this notification (once per diagnosis and channel).
            let detail = serde_json::json!({"attempts": attempt, "error": error});
            let entry = crate::report::audit::AuditEntry::notification(&stored.input, &input.channel, status.as_str(), detail);
            let mut conn = self.pool.acquire().await.map_err(ActivityError::from)?;
            crate::report::audit::record(&mut conn, &entry).await.map_err(ActivityError::from)?;
        }
        tracing::info!(workflow_id = %input.workflow_id, channel = %input.channel, status = status.as_str(), attempt, error = error.as_deref().unwrap_or(""), "notification");
        match outcome {
            Ok(()) => Ok(status),
            Err(SendError::Permanent(e)) => Err(ActivityError::application(ApplicationFailure::non_retryable(SendError::Permanent(e)))),
            Err(e @ SendError::Retry { after, .. }) => {
                let failure = ApplicationFailure::builder(e).non_retryable(last).maybe_next_retry_delay(after).build();
                Err(ActivityError::application(failure))
            }
        }
    }
}

fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Slack => "slack",
        ChannelKind::Webhook => "webhook",
        ChannelKind::Email => "email",
    }
}

#[activities]
impl NotifyActivities {
    /// The channels a stored report goes to.
    #[activity(name = activity::PLAN_NOTIFICATIONS)]
    pub async fn plan_notifications(self: Arc<Self>, ctx: ActivityContext, workflow_id: String) -> Result<Vec<PlannedDelivery>, ActivityError> {
        crate::heartbeat::heartbeating(&ctx, self.plan(&workflow_id)).await?.map_err(ActivityError::from)
    }

    /// Sends the report to one Slack channel.
    #[activity(name = activity::NOTIFY_SLACK)]
    pub async fn notify_slack(self: Arc<Self>, ctx: ActivityContext, input: DeliveryInput) -> Result<DeliveryStatus, ActivityError> {
        crate::heartbeat::heartbeating(&ctx, self.deliver(ChannelKind::Slack, &input, ctx.info().attempt)).await?
    }

    /// Sends the report to one generic webhook.
    #[activity(name = activity::NOTIFY_WEBHOOK)]
    pub async fn notify_webhook(self: Arc<Self>, ctx: ActivityContext, input: DeliveryInput) -> Result<DeliveryStatus, ActivityError> {
        crate::heartbeat::heartbeating(&ctx, self.deliver(ChannelKind::Webhook, &input, ctx.info().attempt)).await?
    }

    /// Posts a step waiting for approval to the alert's Slack channels.
    #[activity(name = activity::NOTIFY_APPROVAL)]
    pub async fn notify_approval(self: Arc<Self>, _ctx: ActivityContext, notice: aetherius_core::notify::ApprovalNotice) -> Result<u32, ActivityError> {
        match self.post_approval(&notice).await {
            Ok(n) => Ok(n as u32),
            Err(SendError::Permanent(e)) => Err(ActivityError::application(ApplicationFailure::non_retryable(SendError::Permanent(e)))),
            Err(e @ SendError::Retry { after, .. }) => Err(ActivityError::application(ApplicationFailure::builder(e).maybe_next_retry_delay(after).build())),
        }
    }

    /// Sends the report by email.
    #[activity(name = activity::NOTIFY_EMAIL)]
    pub async fn notify_email(self: Arc<Self>, ctx: ActivityContext, input: DeliveryInput) -> Result<DeliveryStatus, ActivityError> {
        crate::heartbeat::heartbeating(&ctx, self.deliver(ChannelKind::Email, &input, ctx.info().attempt)).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(toml_routes: Vec<Route>) -> NotificationOptions {
        let ch = |kind| ChannelOptions {
            kind,
            url_env: Some("X".into()),
            url_file: None,
            url: None,
            secret_env: None,
            secret_file: None,
            smtp_host: Some("h".into()),
            smtp_port: 25,
            smtp_tls: SmtpTls::None,
            smtp_username_env: None,
            smtp_username_file: None,
            smtp_password_env: None,
            smtp_password_file: None,
            from: Some("a@b.c".into()),
            to: vec!["d@e.f".into()],
            max_attempts: 3,
            initial_interval_ms: 10,
            max_interval_ms: 10,
            timeout_secs: 1,
        };
        NotificationOptions {
            channels: [("slack".to_owned(), ch(ChannelKind::Slack)), ("mail".to_owned(), ch(ChannelKind::Email))].into(),
            routes: toml_routes,
            ..Default::default()
        }
    }

    #[test]
    fn routes_select_channels_by_severity_cluster_namespace_and_root_cause() {
        let r = message::tests::report(); // critical, prod/shop, crashloop-missing-config
        assert_eq!(options(vec![]).channels_for(&r), vec!["mail", "slack"]);
        let route = |channels: &[&str], f: &dyn Fn(&mut Route)| {
            let mut x = Route { channels: channels.iter().map(|c| (*c).to_owned()).collect(), ..Default::default() };
            f(&mut x);
            x
        };
        let o = options(vec![
            route(&["slack"], &|x| x.severities = vec!["critical".into()]),
            route(&["mail"], &|x| x.severities = vec!["warning".into()]),
        ]);
        assert_eq!(o.channels_for(&r), vec!["slack"]);
        let o = options(vec![route(&["mail"], &|x| {
            x.clusters = vec!["prod".into()];
            x.namespaces = vec!["payments".into()];
        })]);
        assert!(o.channels_for(&r).is_empty());
        let o = options(vec![route(&["mail", "slack"], &|x| x.root_causes = vec!["crashloop-missing-config".into()])]);
        assert_eq!(o.channels_for(&r), vec!["mail", "slack"]);
        let o = options(vec![route(&["mail"], &|x| x.except_root_causes = vec!["crashloop-missing-config".into()])]);
        assert!(o.channels_for(&r).is_empty());
        assert!(options(vec![route(&["nope"], &|_| {})]).validate().unwrap_err().contains("nope"));
    }

    #[test]
    fn a_secret_in_the_file_is_refused() {
        let v: NotificationOptions = serde_json::from_value(serde_json::json!({
            "channels": {"s": {"kind": "slack", "url": "https://hooks.slack.com/services/T/B/hidden"}}
        }))
        .unwrap();
        let err = v.validate().unwrap_err();
        assert!(err.contains("url_file") && !err.contains("hidden"), "{err}");
        let err: Result<NotificationOptions, _> = serde_json::from_value(serde_json::json!({"channels": {"m": {"kind": "email", "smtp_password": "x"}}}));
        assert!(err.unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn secrets_are_read_from_files_trimmed_and_a_missing_file_is_named_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("url");
        std::fs::write(&url, "https://hooks.slack.com/services/T/B/hidden\n").unwrap();
        assert_eq!(file_secret(&url).unwrap(), "https://hooks.slack.com/services/T/B/hidden");
        let mut o = options(vec![]);
        let slack = o.channels.get_mut("slack").unwrap();
        slack.url_env = None;
        slack.url_file = Some(url.clone());
        assert_eq!(o.validate(), Ok(()));
        let slack = o.channels.get_mut("slack").unwrap();
        slack.url_env = Some("X".into());
        assert!(o.validate().unwrap_err().contains("one of url_env and url_file"));
        let slack = o.channels.get_mut("slack").unwrap();
        slack.url_env = None;
        slack.url_file = Some(dir.path().join("absent"));
        let err = o.validate().unwrap_err();
        assert!(err.contains("absent") && err.contains("not found"), "{err}");
        std::fs::write(&url, "\n").unwrap();
        let err = file_secret(&url).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        std::fs::write(&url, "s3cret-value").unwrap();
        let mail = o.channels.get_mut("mail").unwrap();
        mail.smtp_password_file = Some(dir.path().join("nope"));
        mail.smtp_username_env = Some("U".into());
        let err = o.validate().unwrap_err();
        assert!(err.contains("notifications.channels.mail") && err.contains("nope"), "{err}");
    }
}
