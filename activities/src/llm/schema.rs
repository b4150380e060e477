//! The structured outputs asked for: each request names a JSON Schema in `response_format`
//! (`strict: true`), and each answer is validated against it with `jsonschema` before it
//! is deserialized. Strict mode's subset only: every property required, no extra
//! properties, `null` through a type union.

use aetherius_core::{Evidence, RootCause};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use std::sync::LazyLock;

/// Most evidence items asked for.
pub const MAX_EVIDENCE: usize = 8;
/// Most commands asked for.
pub const MAX_COMMANDS: usize = 5;

/// One answer shape: its name in `response_format` and its schema.
pub struct AnswerSchema {
    /// `response_format.json_schema.name`.
    pub name: &'static str,
    /// What the answer is for (sent as the schema's description).
    pub description: &'static str,
    /// The JSON Schema.
    pub schema: Value,
    validator: jsonschema::Validator,
}

impl AnswerSchema {
    fn new(name: &'static str, description: &'static str, schema: Value) -> AnswerSchema {
        let validator = jsonschema::draft202012::new(&schema).expect("the answer schema is valid JSON Schema");
        AnswerSchema { name, description, schema, validator }
    }

    /// Parses `content` as JSON, validates it against the schema and deserializes it.
    pub fn parse<T: DeserializeOwned>(&self, content: &str) -> Result<T, AnswerError> {
        let value: Value = serde_json::from_str(strip_fences(content)).map_err(|e| AnswerError::NotJson(e.to_string()))?;
        let errors: Vec<String> =
            self.validator.iter_errors(&value).take(8).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if !errors.is_empty() {
            return Err(AnswerError::Schema(errors));
        }
        serde_json::from_value(value).map_err(|e| AnswerError::Schema(vec![e.to_string()]))
    }
}

/// Why an answer's content is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The content is not JSON.
    NotJson(String),
    /// The JSON does not follow the schema.
    Schema(Vec<String>),
}

/// Some servers wrap JSON in a Markdown fence even in JSON mode.
fn strip_fences(content: &str) -> &str {
    let t = content.trim();
    let Some(rest) = t.strip_prefix("```") else { return t };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Answer of the analysis call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisAnswer {
    /// Taxonomy id.
    pub root_cause: RootCause,
    /// `<namespace>/<Kind>/<name>` to change, if known.
    pub resource: Option<String>,
    /// 0..1.
    pub confidence: f64,
    /// For a human.
    pub summary: String,
    /// What supports it.
    pub evidence: Vec<Evidence>,
    /// Read-only kubectl lines worth running next.
    pub next_commands: Vec<String>,
}

/// Answer of the next-step call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextStepsAnswer {
    /// Why these reads.
    pub reason: String,
    /// Read-only kubectl lines.
    pub commands: Vec<String>,
}

fn commands_schema() -> Value {
    json!({
        "type": "array",
        "maxItems": MAX_COMMANDS,
        "items": {"type": "string", "description": "one read-only kubectl line, e.g. kubectl get pod NAME -n NAMESPACE"}
    })
}

/// The analysis schema (root cause from the taxonomy, enumerated).
pub static ANALYSIS: LazyLock<AnswerSchema> = LazyLock::new(|| {
    let ids: Vec<&str> = RootCause::ALL.iter().map(|c| c.as_str()).collect();
    AnswerSchema::new(
        "diagnosis_analysis",
        "Root cause of a Kubernetes alert, from the taxonomy, with evidence and read-only next commands.",
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["root_cause", "resource", "confidence", "summary", "evidence", "next_commands"],
            "properties": {
                "root_cause": {"type": "string", "enum": ids},
                "resource": {"type": ["string", "null"], "description": "namespace/Kind/name of the object to change"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "summary": {"type": "string"},
                "evidence": {
                    "type": "array",
                    "maxItems": MAX_EVIDENCE,
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["source", "detail"],
                        "properties": {"source": {"type": "string"}, "detail": {"type": "string"}}
                    }
                },
                "next_commands": commands_schema()
            }
        }),
    )
});

/// The next-step schema.
pub static NEXT_STEPS: LazyLock<AnswerSchema> = LazyLock::new(|| {
    AnswerSchema::new(
        "diagnosis_next_steps",
        "Read-only kubectl commands worth running next in a Kubernetes diagnosis.",
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["reason", "commands"],
            "properties": {"reason": {"type": "string"}, "commands": commands_schema()}
        }),
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({
            "root_cause": "oom-killed", "resource": "shop/Deployment/checkout", "confidence": 0.8,
            "summary": "s", "evidence": [{"source": "pod", "detail": "OOMKilled"}], "next_commands": []
        })
    }

    #[test]
    fn a_valid_answer_parses_and_every_taxonomy_id_is_enumerated() {
        let a: AnalysisAnswer = ANALYSIS.parse(&good().to_string()).unwrap();
        assert_eq!(a.root_cause, RootCause::OomKilled);
        assert_eq!(ANALYSIS.schema["properties"]["root_cause"]["enum"].as_array().unwrap().len(), RootCause::ALL.len());
        let fenced = format!("```json\n{}\n```", good());
        assert!(ANALYSIS.parse::<AnalysisAnswer>(&fenced).is_ok());
    }

    #[test]
    fn schema_violations_are_reported_not_deserialized_around() {
        let mut v = good();
        v["root_cause"] = json!("cosmic-rays");
        assert!(matches!(ANALYSIS.parse::<AnalysisAnswer>(&v.to_string()), Err(AnswerError::Schema(_))));
        let mut v = good();
        v["confidence"] = json!(7);
        assert!(matches!(ANALYSIS.parse::<AnalysisAnswer>(&v.to_string()), Err(AnswerError::Schema(_))));
        let mut v = good();
        v.as_object_mut().unwrap().remove("evidence");
        assert!(matches!(ANALYSIS.parse::<AnalysisAnswer>(&v.to_string()), Err(AnswerError::Schema(_))));
        let mut v = good();
        v["extra"] = json!(1);
        assert!(matches!(ANALYSIS.parse::<AnalysisAnswer>(&v.to_string()), Err(AnswerError::Schema(_))));
        assert!(matches!(ANALYSIS.parse::<AnalysisAnswer>("the pod is broken"), Err(AnswerError::NotJson(_))));
    }
}
