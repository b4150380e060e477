//! Label and field selectors, as the API server parses them.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (`app=x,tier!=db,env in (a,b),!legacy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// A selector the server cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0:?}")]
pub struct InvalidSelector(pub String);

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0i32, 0, vec![]);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn set_values(rest: &str, whole: &str) -> Result<Vec<String>, InvalidSelector> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| InvalidSelector(whole.to_owned()))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect())
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter.
    pub fn parse(s: &str) -> Result<Self, InvalidSelector> {
        let mut reqs = vec![];
        for part in split_top_level(s) {
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEq(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Eq(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Eq(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().to_owned(), set_values(rest, part)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Requirement::In(k.trim().to_owned(), set_values(rest, part)?)
            } else if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Requirement::Exists(part.to_owned())
            } else {
                return Err(InvalidSelector(part.to_owned()));
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEq(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector (`involvedObject.name=x,type!=Normal`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter. Values may escape `\\`, `,` and `=` with a
    /// backslash, as clients (fields.EscapeValue) do.
    pub fn parse(s: &str) -> Result<Self, InvalidSelector> {
        let mut reqs = vec![];
        for part in split_unescaped(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, eq, value) = match operator(part) {
                Some((i, "!=")) => (&part[..i], false, &part[i + 2..]),
                Some((i, "==")) => (&part[..i], true, &part[i + 2..]),
                Some((i, _)) => (&part[..i], true, &part[i + 1..]),
                None => return Err(InvalidSelector(part.to_owned())),
            };
            reqs.push((field.trim().to_owned(), eq, unescape(value.trim())));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object's fields satisfy every requirement. A missing field reads as "".
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *eq
        })
    }
}

/// Splits a field selector on commas not escaped by a backslash.
fn split_unescaped(s: &str) -> Vec<&str> {
    let (mut parts, mut start, mut escaped) = (vec![], 0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Byte offset and text of the first unescaped `!=`, `==` or `=`.
fn operator(s: &str) -> Option<(usize, &'static str)> {
    let bytes = s.as_bytes();
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'!' if bytes.get(i + 1) == Some(&b'=') => return Some((i, "!=")),
            b'=' if bytes.get(i + 1) == Some(&b'=') => return Some((i, "==")),
            b'=' => return Some((i, "=")),
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "labels": labels}, "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn equality_and_set_based_label_selectors() {
        let p = pod(json!({"app": "checkout", "tier": "web"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&p);
        assert!(m("app=checkout"));
        assert!(m("app==checkout,tier!=db"));
        assert!(m("tier in (web, api)"));
        assert!(!m("tier notin (web)"));
        assert!(m("app"));
        assert!(m("!legacy"));
        assert!(!m("app=cart"));
        assert!(m(""));
    }

    #[test]
    fn field_selectors_on_nested_fields() {
        let p = pod(json!({}));
        assert!(FieldSelector::parse("metadata.name=p,spec.nodeName=n1").unwrap().matches(&p));
        assert!(!FieldSelector::parse("spec.nodeName!=n1").unwrap().matches(&p));
        assert!(FieldSelector::parse("involvedObject.name").is_err());
        let escaped = json!({"metadata": {"name": "a,b=c"}});
        assert!(FieldSelector::parse(r"metadata.name=a\,b\=c").unwrap().matches(&escaped));
        let node_event = json!({"involvedObject": {"name": "n1", "uid": "n1"}});
        assert!(FieldSelector::parse("involvedObject.name=n1,involvedObject.namespace=,involvedObject.uid=n1").unwrap().matches(&node_event));
        assert!(!FieldSelector::parse("involvedObject.name=n1,involvedObject.uid=other").unwrap().matches(&node_event));
    }
}
