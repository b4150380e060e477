//! Reading a scenario folder.

use aetherius_core::AlertmanagerAlert;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

/// Problems reading a scenario; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// File could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// File is not valid YAML of the expected shape.
    #[error("{path}: {message}")]
    Format {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

/// `expect:` of scenario.yaml: for the harness only.
#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    /// Expected taxonomy id.
    pub root_cause: String,
    /// Accepted resources (a single string becomes a one-item list; empty means any).
    #[serde(default, deserialize_with = "one_or_many")]
    pub resource: Vec<String>,
    /// Strings that must appear in the evidence or root-cause text.
    #[serde(default)]
    pub evidence: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => vec![],
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// `cluster:` of scenario.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterBehaviour {
    /// `<resource>` or `<namespace>/<resource>` the agent may not read.
    #[serde(default)]
    pub forbidden: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ScenarioFile {
    id: String,
    #[serde(default)]
    title: String,
    alert: AlertmanagerAlert,
    expect: Option<Expect>,
    now: Option<DateTime<Utc>>,
    #[serde(default)]
    cluster: ClusterBehaviour,
}

/// (namespace, pod, container, previous) of a log file.
pub type LogKey = (String, String, String, bool);

/// What the fixture cluster serves.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Every object, with `apiVersion` and `kind`.
    pub objects: Vec<Value>,
    /// PodMetrics / NodeMetrics objects.
    pub metrics: Vec<Value>,
    /// (namespace, pod, container, previous) → log text.
    pub logs: BTreeMap<LogKey, String>,
    /// Forbidden resources.
    pub forbidden: Vec<String>,
    /// The snapshot's moment.
    pub now: DateTime<Utc>,
    /// Whether items of built-in lists carry `kind`/`apiVersion`. A real API server leaves
    /// them out (only the List has them); tests turn this on to prove no diagnosis depends
    /// on them.
    pub typed_list_items: bool,
}

/// A scenario folder.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Folder name / id.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// The alert it raised.
    pub alert: AlertmanagerAlert,
    /// Expected diagnosis, when given.
    pub expect: Option<Expect>,
    /// The cluster it describes.
    pub cluster: Cluster,
}

impl Scenario {
    /// Reads `dir` (a folder holding scenario.yaml).
    pub fn load(dir: &Path) -> Result<Scenario, Error> {
        let file: ScenarioFile = parse_yaml(&dir.join("scenario.yaml"))?;
        let now = file.now.unwrap_or(file.alert.starts_at + Duration::minutes(10));
        let objects = read_object_dir(&dir.join("objects"))?;
        let metrics = read_object_dir(&dir.join("metrics"))?;
        let logs = read_logs(&dir.join("logs"))?;
        Ok(Scenario {
            id: file.id,
            title: file.title,
            alert: file.alert,
            expect: file.expect,
            cluster: Cluster { objects, metrics, logs, forbidden: file.cluster.forbidden, now, typed_list_items: false },
        })
    }

    /// Every scenario folder directly under `root`, sorted by name.
    pub fn load_all(root: &Path) -> Result<Vec<Scenario>, Error> {
        let mut dirs: Vec<PathBuf> = read_dir(root)?
            .into_iter()
            .filter(|p| p.join("scenario.yaml").is_file())
            .collect();
        dirs.sort();
        dirs.iter().map(|d| Scenario::load(d)).collect()
    }

    /// The cluster id the alert belongs to (`cluster` label, else `default`).
    pub fn cluster_id(&self) -> String {
        self.alert.labels.get("cluster").cloned().unwrap_or_else(|| "default".into())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |source| Error::Io { path: dir.to_owned(), source };
    let mut out = vec![];
    for entry in fs::read_dir(dir).map_err(io)? {
        out.push(entry.map_err(io)?.path());
    }
    out.sort();
    Ok(out)
}

fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    serde_yaml::from_str(&text).map_err(|e| Error::Format { path: path.to_owned(), message: e.to_string() })
}

/// Reads every `.yaml`/`.yml`/`.json` file of `dir` (absent dir: nothing): one object per
/// document, multi-document files, and `kind: List`.
fn read_object_dir(dir: &Path) -> Result<Vec<Value>, Error> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut objects = vec![];
    for path in read_dir(dir)? {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = Value::deserialize(doc)
                .map_err(|e| Error::Format { path: path.clone(), message: e.to_string() })?;
            push_object(value, &mut objects, &path)?;
        }
    }
    Ok(objects)
}

fn push_object(value: Value, out: &mut Vec<Value>, path: &Path) -> Result<(), Error> {
    if value.is_null() {
        return Ok(());
    }
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind == "List" || kind.ends_with("List") && value.get("items").is_some() {
        for item in value.get("items").and_then(Value::as_array).cloned().unwrap_or_default() {
            push_object(item, out, path)?;
        }
        return Ok(());
    }
    if kind.is_empty() || value.get("apiVersion").is_none() {
        return Err(Error::Format {
            path: path.to_owned(),
            message: "every object needs apiVersion and kind".into(),
        });
    }
    out.push(value);
    Ok(())
}

fn read_logs(dir: &Path) -> Result<BTreeMap<LogKey, String>, Error> {
    let mut logs = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(logs);
    }
    for ns_dir in read_dir(dir)? {
        let ns = file_name(&ns_dir);
        for pod_dir in read_dir(&ns_dir)? {
            let pod = file_name(&pod_dir);
            for file in read_dir(&pod_dir)? {
                let name = file_name(&file);
                let (container, previous) = if let Some(c) = name.strip_suffix(".previous.log") {
                    (c.to_owned(), true)
                } else if let Some(c) = name.strip_suffix(".log") {
                    (c.to_owned(), false)
                } else {
                    continue;
                };
                let text = fs::read_to_string(&file).map_err(|source| Error::Io { path: file.clone(), source })?;
                logs.insert((ns.clone(), pod.clone(), container, previous), text);
            }
        }
    }
    Ok(logs)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
