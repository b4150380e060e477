//! Runbooks as files: Markdown with a small front matter, loaded into the knowledge base
//! under a stable slug so loading again updates them in place.
//!
//! ```text
//! ---
//! title: KubePodCrashLooping: a container keeps crashing and restarting
//! alertname: KubePodCrashLooping
//! category: workload
//! tags: pod, crashloop, restart
//! confidence: 0.8
//! ---
//! ## What it means
//! ...
//! ```
//!
//! `title` is required; `category` defaults to `runbook`, `confidence` to
//! [`DEFAULT_CONFIDENCE`]. The slug is `runbook/<file name without .md>`.

use super::{EntryInput, Error};
use std::path::Path;

/// The author's confidence when a runbook does not state one.
pub const DEFAULT_CONFIDENCE: f32 = 0.7;

/// Every `*.md` file of `dir` except `README.md`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<EntryInput>, Error> {
    let read_err = |e: std::io::Error| Error::Runbook { path: dir.display().to_string(), message: e.to_string() };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md") && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Runbook { path: path.display().to_string(), message: e.to_string() })?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            parse(stem, &text).map_err(|message| Error::Runbook { path: path.display().to_string(), message })
        })
        .collect()
}

/// One runbook named `stem` (its file name without `.md`).
pub fn parse(stem: &str, text: &str) -> Result<EntryInput, String> {
    let rest = text.strip_prefix("---\n").ok_or("does not start with a `---` front matter line")?;
    let (front, body) = rest.split_once("\n---\n").ok_or("front matter has no closing `---` line")?;
    let mut entry = EntryInput {
        slug: Some(format!("runbook/{stem}")),
        category: Some("runbook".into()),
        confidence: Some(DEFAULT_CONFIDENCE),
        content: body.trim().to_owned(),
        ..Default::default()
    };
    let mut metadata = serde_json::json!({"source": "runbook", "file": format!("{stem}.md")});
    for (n, line) in front.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (key, value) = line.split_once(':').ok_or_else(|| format!("front matter line {}: expected `key: value`", n + 2))?;
        let value = value.trim();
        match key.trim() {
            "title" => entry.title = value.to_owned(),
            "category" => entry.category = Some(value.to_owned()),
            "alertname" => metadata["alertname"] = value.into(),
            "tags" => {
                let list = value.trim_start_matches('[').trim_end_matches(']');
                entry.tags = list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
            }
            "confidence" => {
                entry.confidence = Some(value.parse().map_err(|_| format!("confidence: {value:?} is not a number"))?);
            }
            other => return Err(format!("front matter line {}: unknown key {other:?}", n + 2)),
        }
    }
    if entry.title.is_empty() {
        return Err("front matter has no title".into());
    }
    entry.metadata = Some(metadata);
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRASH: &str = "---\ntitle: Crash loop\nalertname: KubePodCrashLooping\ncategory: workload\ntags: [pod, restart]\nconfidence: 0.8\n---\n## What it means\nIt crashes.\n";

    #[test]
    fn front_matter_becomes_the_entry_and_the_file_name_its_slug() {
        let e = parse("KubePodCrashLooping", CRASH).unwrap();
        assert_eq!(e.slug.as_deref(), Some("runbook/KubePodCrashLooping"));
        assert_eq!(e.title, "Crash loop");
        assert_eq!(e.category.as_deref(), Some("workload"));
        assert_eq!(e.tags, vec!["pod", "restart"]);
        assert_eq!(e.confidence, Some(0.8));
        assert_eq!(e.content, "## What it means\nIt crashes.");
        assert_eq!(e.metadata.unwrap()["alertname"], "KubePodCrashLooping");
    }

    #[test]
    fn a_typo_in_the_front_matter_is_an_error_not_ignored() {
        let err = parse("x", "---\ntitle: T\ntgas: a\n---\nbody").unwrap_err();
        assert!(err.contains("tgas"), "{err}");
        assert!(parse("x", "no front matter").is_err());
        assert!(parse("x", "---\ncategory: a\n---\nbody").unwrap_err().contains("title"));
    }

    #[test]
    fn the_shipped_runbooks_all_parse_and_name_their_alert() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/runbooks");
        let entries = load_dir(&dir).unwrap();
        assert!(entries.len() >= 25, "only {} runbooks", entries.len());
        for e in &entries {
            e.clone().validate().unwrap_or_else(|err| panic!("{:?}: {err}", e.slug));
            let alertname = e.metadata.as_ref().unwrap()["alertname"].as_str().unwrap_or_default();
            assert_eq!(e.slug.as_deref(), Some(format!("runbook/{alertname}").as_str()));
        }
    }
}
