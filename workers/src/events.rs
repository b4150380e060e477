//! Kubernetes Warning events as a source: one kube-rs watcher per configured cluster turns
//! repeated Warning events (core/v1, `type=Warning`) into `StandardEvent`s, one per involved
//! object and reason within the window, started like any alert (`aetherius_api::ingest_event`).

use aetherius_core::{AlertStatus, EventType, StandardEvent, Target, fingerprint};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::runtime::{WatchStreamExt, watcher};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

/// The `alertname` of every diagnosis a Warning event starts.
pub const ALERT_NAME: &str = "KubernetesWarningEvent";

/// The reasons watched by default: the kubelet's, the scheduler's and the controllers' that
/// mean something is broken (BackOff, Failed, FailedScheduling, FailedMount, Unhealthy,
/// OOMKilling, Evicted, FailedCreate).
pub const DEFAULT_REASONS: &[&str] =
    &["BackOff", "Failed", "FailedScheduling", "FailedMount", "Unhealthy", "OOMKilling", "Evicted", "FailedCreate"];

/// `[events]`: which clusters are watched and which Warning events start a diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsOptions {
    /// Off by default.
    pub enabled: bool,
    /// Cluster ids to watch (configured under `[execution.clusters]`); empty: all of them.
    pub clusters: Vec<String>,
    /// An event counts while its last occurrence is this recent, and one object + reason
    /// starts at most one diagnosis per window.
    pub window_secs: u64,
    /// Occurrences (`count`, or `series.count`) an event needs to count as repeated.
    pub min_count: i32,
    /// Event reasons that start a diagnosis.
    pub reasons: Vec<String>,
    /// Severity label of the diagnoses they start.
    pub severity: String,
}

impl Default for EventsOptions {
    fn default() -> Self {
        EventsOptions {
            enabled: false,
            clusters: vec![],
            window_secs: 600,
            min_count: 3,
            reasons: DEFAULT_REASONS.iter().map(|r| (*r).to_owned()).collect(),
            severity: "warning".into(),
        }
    }
}

/// Where "now" comes from (the wall clock, or a scenario's `now` in tests).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

fn chrono_of(t: &k8s_openapi::jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.as_second(), u32::try_from(t.subsec_nanosecond()).unwrap_or(0))
}

/// How often the event happened: `series.count` (events.k8s.io-style series), else the
/// deprecated `count`, else once.
pub fn occurrences(e: &Event) -> i32 {
    e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1)
}

/// When it last happened: `series.lastObservedTime`, `lastTimestamp`, `eventTime`, else
/// when the Event was created.
pub fn last_seen(e: &Event) -> Option<DateTime<Utc>> {
    let series = e.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| &t.0);
    series
        .or(e.last_timestamp.as_ref().map(|t| &t.0))
        .or(e.event_time.as_ref().map(|t| &t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| &t.0))
        .and_then(chrono_of)
}

/// When it first happened: `firstTimestamp`, `eventTime`, else when the Event was created.
pub fn first_seen(e: &Event) -> Option<DateTime<Utc>> {
    e.first_timestamp
        .as_ref()
        .map(|t| &t.0)
        .or(e.event_time.as_ref().map(|t| &t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| &t.0))
        .and_then(chrono_of)
}

/// The container a kubelet event names in `fieldPath` (`spec.containers{checkout}`).
fn container_of(field_path: &str) -> Option<&str> {
    let rest = field_path.strip_prefix("spec.containers{").or_else(|| field_path.strip_prefix("spec.initContainers{"))?;
    rest.strip_suffix('}').filter(|c| !c.is_empty())
}

/// What one object + reason is known by, for deduplication.
pub type Key = (String, Option<String>, String, String, String);

/// The diagnosis request a Warning event stands for, when it passes the filters: type
/// Warning, a configured reason, at least `min_count` occurrences, the last within the
/// window. Labels name the involved object as the rules read it (`namespace`, `pod` /
/// `deployment` / `node` ..., `involvedObject_*`, `reason`, `container`); the id is derived
/// from the labels and the first occurrence, so a restart finds the same diagnosis.
pub fn standard_event(cluster: &str, e: &Event, options: &EventsOptions, now: DateTime<Utc>) -> Option<(Key, StandardEvent)> {
    if e.type_.as_deref() != Some("Warning") {
        return None;
    }
    let reason = e.reason.as_deref().filter(|r| options.reasons.iter().any(|o| o == r))?;
    let count = occurrences(e);
    if count < options.min_count {
        return None;
    }
    let last = last_seen(e)?;
    if now.signed_duration_since(last) > chrono::Duration::seconds(i64::try_from(options.window_secs).unwrap_or(i64::MAX)) {
        return None;
    }
    let object = &e.involved_object;
    let kind = object.kind.as_deref().filter(|k| !k.is_empty())?;
    let name = object.name.as_deref().filter(|n| !n.is_empty())?;
    let namespace = object.namespace.clone().or_else(|| e.metadata.namespace.clone()).filter(|n| !n.is_empty() && kind != "Node");
    let mut labels = BTreeMap::from([
        ("alertname".to_owned(), ALERT_NAME.to_owned()),
        ("cluster".to_owned(), cluster.to_owned()),
        ("severity".to_owned(), options.severity.clone()),
        ("reason".to_owned(), reason.to_owned()),
        ("involvedObject_kind".to_owned(), kind.to_owned()),
        ("involvedObject_name".to_owned(), name.to_owned()),
    ]);
    if let Some(ns) = &namespace {
        labels.insert("namespace".into(), ns.clone());
        labels.insert("involvedObject_namespace".into(), ns.clone());
    }
    if let Some(label) = Target::label_for_kind(kind) {
        labels.insert(label.to_owned(), name.to_owned());
    }
    if let Some(container) = object.field_path.as_deref().and_then(container_of) {
        labels.insert("container".into(), container.to_owned());
    }
    let first = first_seen(e).unwrap_or(last);
    let object_ref = aetherius_core::target::resource_ref(namespace.as_deref(), kind, name);
    let mut annotations = BTreeMap::from([
        ("summary".to_owned(), format!("{reason} on {object_ref} ({count} times since {})", first.to_rfc3339())),
        ("event_count".to_owned(), count.to_string()),
        ("event_last_seen".to_owned(), last.to_rfc3339()),
    ]);
    if let Some(message) = e.message.as_deref().filter(|m| !m.is_empty()) {
        annotations.insert("description".into(), message.to_owned());
    }
    if let Some(component) = e.reporting_component.as_deref().or(e.source.as_ref().and_then(|s| s.component.as_deref())).filter(|c| !c.is_empty()) {
        annotations.insert("reporting_component".into(), component.to_owned());
    }
    let fingerprint = fingerprint::of_labels(&labels);
    let key = (cluster.to_owned(), namespace.clone(), kind.to_owned(), name.to_owned(), reason.to_owned());
    Some((
        key,
        StandardEvent {
            id: fingerprint::workflow_id(cluster, &fingerprint, first),
            event_type: EventType::Event,
            source: "kubernetes".into(),
            timestamp: first,
            cluster_id: cluster.to_owned(),
            namespace,
            severity: options.severity.to_ascii_lowercase(),
            labels,
            annotations,
            fingerprint,
            status: AlertStatus::Firing,
        },
    ))
}

/// Object + reason pairs already turned into a diagnosis, and when.
#[derive(Debug, Default)]
pub struct Seen {
    at: HashMap<Key, DateTime<Utc>>,
}

impl Seen {
    /// Whether `key` may start a diagnosis at `now` (not seen within `window`); records it.
    pub fn admit(&mut self, key: Key, now: DateTime<Utc>, window: Duration) -> bool {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        if self.at.len() > 10_000 {
            self.at.retain(|_, t| now.signed_duration_since(*t) < window);
        }
        match self.at.get(&key) {
            Some(t) if now.signed_duration_since(*t) < window => false,
            _ => {
                self.at.insert(key, now);
                true
            }
        }
    }
}

/// Watches `client`'s Warning events until the stream fails for good, sending each new
/// object + reason to `sink`. Watch errors are retried with kube-rs' default backoff (0.8 s
/// doubling to 30 s); an authentication or authorization error ends the watch so the
/// caller can fetch fresh credentials.
pub async fn watch(
    cluster: &str,
    client: kube::Client,
    options: &EventsOptions,
    namespaces: &[String],
    clock: &Clock,
    seen: &mut Seen,
    sink: &tokio::sync::mpsc::UnboundedSender<StandardEvent>,
) -> watcher::Error {
    let api: kube::Api<Event> = kube::Api::all(client);
    let config = watcher::Config::default().fields("type=Warning");
    let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
    let window = Duration::from_secs(options.window_secs);
    while let Some(item) = stream.next().await {
        let e = match item {
            Ok(watcher::Event::Apply(e) | watcher::Event::InitApply(e)) => e,
            Ok(_) => continue,
            Err(err) => {
                tracing::warn!(cluster, error = %err, "watching Warning events");
                if is_auth_error(&err) {
                    return err;
                }
                continue;
            }
        };
        let now = clock();
        let Some((key, event)) = standard_event(cluster, &e, options, now) else { continue };
        if !namespaces.is_empty() && event.namespace.as_ref().is_some_and(|n| !namespaces.contains(n)) {
            continue;
        }
        if seen.admit(key, now, window) && sink.send(event).is_err() {
            break;
        }
    }
    watcher::Error::NoResourceVersion
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn is_auth_error(err: &watcher::Error) -> bool {
    let client_err = match err {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => return matches!(status.code, 401 | 403),
        _ => return false,
    };
    matches!(client_err, kube::Error::Api(status) if matches!(status.code, 401 | 403))
}

/// Watches every selected cluster in the background and starts a diagnosis per new object +
/// reason through the API's ingest path. Never returns an error: a cluster whose client
/// cannot be built or whose watch is refused is retried with backoff (up to 5 min).
pub fn spawn(
    options: EventsOptions,
    clusters: aetherius_activities::execution::Clusters,
    state: aetherius_api::AppState,
) -> Vec<tokio::task::JoinHandle<()>> {
    spawn_with_clock(options, clusters, state, Arc::new(Utc::now))
}

/// [`spawn`] measuring the window on `clock`.
pub fn spawn_with_clock(
    options: EventsOptions,
    clusters: aetherius_activities::execution::Clusters,
    state: aetherius_api::AppState,
    clock: Clock,
) -> Vec<tokio::task::JoinHandle<()>> {
    if !options.enabled {
        return vec![];
    }
    let ids: Vec<String> = if options.clusters.is_empty() {
        clusters.options().clusters.keys().cloned().collect()
    } else {
        options.clusters.clone()
    };
    let options = Arc::new(options);
    ids.into_iter()
        .map(|id| {
            let (options, clusters, state, clock) = (options.clone(), clusters.clone(), state.clone(), clock.clone());
            tokio::spawn(async move { watch_forever(&id, &options, &clusters, &state, &clock).await })
        })
        .collect()
}

async fn watch_forever(
    cluster: &str,
    options: &EventsOptions,
    clusters: &aetherius_activities::execution::Clusters,
    state: &aetherius_api::AppState,
    clock: &Clock,
) {
    let namespaces = clusters.options().clusters.get(cluster).map(|c| c.namespaces.clone()).unwrap_or_default();
    let mut seen = Seen::default();
    let mut delay = Duration::from_secs(1);
    let (sink, mut events) = tokio::sync::mpsc::unbounded_channel::<StandardEvent>();
    let (state, id) = (state.clone(), cluster.to_owned());
    let ingest = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let workflow_id = event.id.clone();
            match aetherius_api::ingest_event(&state, event).await {
                Ok(ingest) => tracing::info!(cluster = %id, %workflow_id, status = ingest.status, "Warning event ingested"),
                Err(e) => tracing::warn!(cluster = %id, %workflow_id, error = %e, "could not start the diagnosis of a Warning event"),
            }
        }
    });
    // Ends the ingest task when this watch is dropped (the process stops).
    let _ingest = AbortOnDrop(ingest);
    tracing::info!(cluster, "watching Warning events");
    loop {
        match clusters.client(cluster).await {
            Ok(client) => {
                let err = watch(cluster, client, options, &namespaces, clock, &mut seen, &sink).await;
                tracing::warn!(cluster, error = %err, retry_in_secs = delay.as_secs(), "Warning event watch stopped; fetching credentials again");
                clusters.invalidate(cluster);
            }
            Err(e) => tracing::warn!(cluster, error = %e, retry_in_secs = delay.as_secs(), "no client for the Warning event watch"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(300));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    fn backoff(count: i32, last: &str) -> Event {
        event(serde_json::json!({
            "metadata": {"name": "checkout-1.18e9b753d06e93b6", "namespace": "shop", "resourceVersion": "74034133", "creationTimestamp": "2026-11-20T09:38:17Z"},
            "involvedObject": {"apiVersion": "v1", "fieldPath": "spec.containers{checkout}", "kind": "Pod", "name": "checkout-1", "namespace": "shop"},
            "reason": "BackOff", "type": "Warning", "count": count,
            "message": "Back-off restarting failed container checkout in pod checkout-1_shop(b2875307-4357-4ab7-9c6b-ea538fc3a27f)",
            "firstTimestamp": "2026-11-20T09:38:17Z", "lastTimestamp": last, "eventTime": null,
            "reportingComponent": "kubelet", "source": {"component": "kubelet", "host": "ip-10-0-1-23"}
        }))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_repeated_backoff_names_its_pod_and_container_as_the_rules_read_them() {
        let (key, e) = standard_event("demo", &backoff(116, "2026-11-20T10:04:51Z"), &EventsOptions::default(), at("2026-11-20T10:05:00Z")).unwrap();
        assert_eq!(key, ("demo".into(), Some("shop".into()), "Pod".into(), "checkout-1".into(), "BackOff".into()));
        assert_eq!((e.event_type, e.source.as_str(), e.severity.as_str()), (EventType::Event, "kubernetes", "warning"));
        assert_eq!(e.labels["pod"], "checkout-1");
        assert_eq!(e.labels["container"], "checkout");
        assert_eq!(e.labels["alertname"], ALERT_NAME);
        assert_eq!(e.timestamp, at("2026-11-20T09:38:17Z"));
        assert!(e.annotations["description"].starts_with("Back-off restarting failed container"));
        assert_eq!(e.annotations["event_count"], "116");
        let subject = aetherius_core::target::subject(e.alertname(), &e.labels);
        assert_eq!(subject, aetherius_core::target::Subject::Object(Target { namespace: Some("shop".into()), kind: "Pod".into(), name: "checkout-1".into() }));
        // The same Event counted again is the same diagnosis (id from the first occurrence).
        let (_, again) = standard_event("demo", &backoff(120, "2026-11-20T10:06:00Z"), &EventsOptions::default(), at("2026-11-20T10:06:00Z")).unwrap();
        assert_eq!(again.id, e.id);
    }

    #[test]
    fn rare_old_normal_or_unlisted_events_start_nothing() {
        let options = EventsOptions::default();
        let now = at("2026-11-20T10:05:00Z");
        assert!(standard_event("demo", &backoff(2, "2026-11-20T10:04:51Z"), &options, now).is_none(), "below min_count");
        assert!(standard_event("demo", &backoff(9, "2026-11-20T09:50:00Z"), &options, now).is_none(), "last seen before the window");
        let mut normal = backoff(9, "2026-11-20T10:04:51Z");
        normal.type_ = Some("Normal".into());
        assert!(standard_event("demo", &normal, &options, now).is_none());
        let mut pulled = backoff(9, "2026-11-20T10:04:51Z");
        pulled.reason = Some("Pulled".into());
        assert!(standard_event("demo", &pulled, &options, now).is_none());
    }

    #[test]
    fn series_count_and_node_events_are_understood() {
        // An events.k8s.io-style series (count on `series`, the deprecated count absent), about a node.
        let e = event(serde_json::json!({
            "metadata": {"name": "n1.1", "namespace": "default", "creationTimestamp": "2026-11-20T09:00:00Z"},
            "involvedObject": {"kind": "Node", "name": "ip-10-0-1-23", "namespace": "default"},
            "reason": "OOMKilling", "type": "Warning", "eventTime": "2026-11-20T09:00:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2026-11-20T10:04:00.000000Z"},
            "message": "Memory cgroup out of memory: Killed process 4242 (java)"
        }));
        let (key, s) = standard_event("prod", &e, &EventsOptions::default(), at("2026-11-20T10:05:00Z")).unwrap();
        assert_eq!(key.1, None, "a node is cluster-scoped");
        assert_eq!((s.labels["node"].as_str(), s.namespace.as_deref()), ("ip-10-0-1-23", None));
        assert_eq!(s.annotations["event_count"], "4");
    }

    #[test]
    fn one_object_and_reason_start_once_per_window() {
        let mut seen = Seen::default();
        let key: Key = ("demo".into(), Some("shop".into()), "Pod".into(), "a".into(), "BackOff".into());
        let window = Duration::from_secs(600);
        assert!(seen.admit(key.clone(), at("2026-11-20T10:00:00Z"), window));
        assert!(!seen.admit(key.clone(), at("2026-11-20T10:09:59Z"), window));
        let mut other = key.clone();
        other.4 = "Unhealthy".into();
        assert!(seen.admit(other, at("2026-11-20T10:01:00Z"), window));
        assert!(seen.admit(key, at("2026-11-20T10:10:00Z"), window), "a new window");
    }
}
