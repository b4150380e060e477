//! `[llm]` in the configuration. Absent: no LLM, the rules alone diagnose.

use aetherius_core::ModelSpend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[llm]`: an OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, vLLM,
/// Ollama, llama.cpp's server) and the limits around it. Defaults from the seed
/// (max_tokens 4000, temperature 0.1, 3 retries). The API key never goes in the file:
/// `api_key_env` names the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmOptions {
    /// Off: the section is kept but no LLM is asked.
    pub enabled: bool,
    /// Base URL of the API, up to and including `/v1`.
    pub base_url: String,
    /// Name of the environment variable holding the API key; none for local servers.
    pub api_key_env: Option<String>,
    /// Model for ordinary tasks.
    pub model: String,
    /// Model for complex tasks (complexity score at or above `complex_threshold`); `model`
    /// when absent.
    pub complex_model: Option<String>,
    /// Complexity (0-10, see [`Complexity::score`]) from which `complex_model` is used
    /// (seed: 7).
    pub complex_threshold: u32,
    /// Most completion tokens one answer may use (lowered to what the budget has left).
    pub max_tokens: u32,
    /// Send the limit as `max_completion_tokens` (newer OpenAI models) instead of
    /// `max_tokens` (what every compatible server reads).
    pub max_completion_tokens_field: bool,
    /// Sampling temperature.
    pub temperature: f32,
    /// Seconds one HTTP attempt may take.
    pub timeout_secs: f64,
    /// Seconds one call may take, retries and their waits included. Keep it under the
    /// reasoning activities' start-to-close timeout (60 s) so the rules still answer.
    pub deadline_secs: f64,
    /// Retries after the first attempt, with exponential backoff, on timeouts, connection
    /// errors, 429 and 5xx.
    pub retries: usize,
    /// First backoff delay, seconds (doubles each retry, with jitter).
    pub backoff_initial_secs: f64,
    /// Longest `Retry-After` honoured; a 429 asking for more ends the call at once.
    pub max_retry_after_secs: f64,
    /// Tokens one diagnosis (workflow) may spend, prompts included.
    pub task_token_budget: u64,
    /// Tokens all diagnoses together may spend per UTC day (stored in PostgreSQL, shared
    /// by every replica).
    pub daily_token_budget: u64,
    /// Requests per minute this process sends (token bucket).
    pub requests_per_minute: u32,
    /// Requests that may go at once before the rate applies.
    pub burst: u32,
    /// Bytes of context (alert, findings, step outputs) a prompt may carry.
    pub max_prompt_bytes: usize,
    /// Ask the LLM in `decide_next` when the rules are not confident.
    pub consult_on_decide: bool,
    /// Circuit breaker.
    pub breaker: BreakerOptions,
    /// `[llm.prices."<model>"]`: what a model costs, so the report can state each
    /// diagnosis' cost. None are built in: list prices change and contracts differ.
    pub prices: Prices,
}

/// Prices by model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Prices(pub BTreeMap<String, ModelPrice>);

/// USD per million tokens, as providers publish them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Per million prompt (input) tokens.
    pub input_per_million: f64,
    /// Per million completion (output) tokens.
    pub output_per_million: f64,
}

/// `2024-07-18`, `20241022`, `002`, `0613`: what providers append to name a snapshot.
fn snapshot_suffix(rest: &str) -> bool {
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = rest.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => digits(y, 4) && digits(m, 2) && digits(d, 2),
        [one] => digits(one, 8) || digits(one, 3) || digits(one, 4),
        _ => false,
    }
}

impl Prices {
    /// The price of `model` as the API names it in its answers (for Azure OpenAI that is the
    /// model, not the deployment): the exact name, else a configured name followed by
    /// nothing but a snapshot suffix, `-YYYY-MM-DD`, `-YYYYMMDD` or `-NNN(N)`
    /// (`gpt-4o-mini` prices `gpt-4o-mini-2024-07-18`, `claude-3-5-sonnet` prices
    /// `claude-3-5-sonnet-20241022`, `gemini-1.5-flash` prices `gemini-1.5-flash-002`). A
    /// sibling model never matches (`gpt-4` does not price `gpt-4-32k` or
    /// `gpt-4-1106-preview`, `gpt-4o` not `gpt-4o-mini`), and an exact key for a snapshot
    /// whose price differs wins.
    pub fn price_for(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(p) = self.0.get(model) {
            return Some(p);
        }
        self.0.iter().find(|(name, _)| model.strip_prefix(name.as_str()).and_then(|rest| rest.strip_prefix('-')).is_some_and(snapshot_suffix)).map(|(_, p)| p)
    }

    /// `spend` with its cost, when its model has a price.
    pub fn priced(&self, mut spend: ModelSpend) -> ModelSpend {
        spend.cost_usd = self.price_for(&spend.model).map(|p| {
            (spend.prompt_tokens as f64 * p.input_per_million + spend.completion_tokens as f64 * p.output_per_million) / 1_000_000.0
        });
        spend
    }

    /// Every price is a finite number, zero or more.
    pub fn validate(&self) -> Result<(), String> {
        for (model, p) in &self.0 {
            for (field, v) in [("input_per_million", p.input_per_million), ("output_per_million", p.output_per_million)] {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("llm.prices.\"{model}\".{field}: {v} is not a price (a number of USD, zero or more)"));
                }
            }
        }
        Ok(())
    }
}

impl Default for LlmOptions {
    fn default() -> Self {
        LlmOptions {
            enabled: true,
            base_url: "https://api.openai.com/v1".into(),
            api_key_env: None,
            model: "gpt-4o-mini".into(),
            complex_model: None,
            complex_threshold: 7,
            max_tokens: 4000,
            max_completion_tokens_field: false,
            temperature: 0.1,
            timeout_secs: 30.0,
            deadline_secs: 45.0,
            retries: 3,
            backoff_initial_secs: 0.5,
            max_retry_after_secs: 20.0,
            task_token_budget: 20_000,
            daily_token_budget: 2_000_000,
            requests_per_minute: 60,
            burst: 10,
            max_prompt_bytes: 24_000,
            consult_on_decide: true,
            breaker: BreakerOptions::default(),
            prices: Prices::default(),
        }
    }
}

/// `[llm.breaker]`: closed → open after `failure_threshold` consecutive failures →
/// half-open (one probe) after `cooldown_secs` → closed on success, open again on failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerOptions {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// Seconds the breaker stays open before one probe is let through.
    pub cooldown_secs: f64,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions { failure_threshold: 5, cooldown_secs: 60.0 }
    }
}

/// How hard a task looks: picks the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Complexity {
    /// Severity weight: 4 critical, 3 error/high, 2 warning, 1 otherwise.
    pub severity: u32,
    /// Rule findings so far.
    pub findings: usize,
    /// Distinct root causes among them (more than one: the rules disagree).
    pub distinct_causes: usize,
    /// Steps read so far.
    pub steps: usize,
}

impl Complexity {
    /// Severity weight of a lowercased severity label.
    pub fn severity_weight(severity: &str) -> u32 {
        match severity {
            "critical" | "page" | "fatal" | "emergency" => 4,
            "error" | "high" | "major" => 3,
            "warning" | "warn" | "medium" => 2,
            _ => 1,
        }
    }

    /// 0-10: severity + findings (at most 3) + 1 when the rules disagree + steps / 2 (at
    /// most 2).
    pub fn score(&self) -> u32 {
        let findings = self.findings.min(3) as u32;
        let disagree = u32::from(self.distinct_causes > 1);
        let steps = (self.steps / 2).min(2) as u32;
        (self.severity + findings + disagree + steps).min(10)
    }
}

impl LlmOptions {
    /// The model for a task of this complexity.
    pub fn model_for(&self, complexity: &Complexity) -> &str {
        match &self.complex_model {
            Some(m) if complexity.score() >= self.complex_threshold => m,
            _ => &self.model,
        }
    }

    /// Whether `[llm]` asks for an LLM at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled && !self.base_url.trim().is_empty() && !self.model.trim().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_complex_model_is_chosen_from_the_threshold_up() {
        let o = LlmOptions { complex_model: Some("big".into()), model: "small".into(), ..Default::default() };
        let warning = Complexity { severity: Complexity::severity_weight("warning"), ..Default::default() };
        assert_eq!(o.model_for(&warning), "small");
        let critical = Complexity { severity: Complexity::severity_weight("critical"), findings: 2, distinct_causes: 2, steps: 0 };
        assert_eq!(critical.score(), 7);
        assert_eq!(o.model_for(&critical), "big");
        let no_complex = LlmOptions { complex_model: None, ..o };
        assert_eq!(no_complex.model_for(&critical), "small");
    }

    #[test]
    fn prices_match_snapshots_but_not_sibling_models() {
        let o: LlmOptions = serde_json::from_str(
            r#"{"prices": {"gpt-4o": {"input_per_million": 2.5, "output_per_million": 10.0},
                           "gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}}"#,
        )
        .expect("prices parse");
        let p = &o.prices;
        assert_eq!(p.price_for("gpt-4o-mini").unwrap().input_per_million, 0.15);
        assert_eq!(p.price_for("gpt-4o-mini-2024-07-18").unwrap().input_per_million, 0.15);
        assert_eq!(p.price_for("gpt-4o-2024-08-06").unwrap().input_per_million, 2.5);
        assert!(p.price_for("gpt-4o-realtime").is_none(), "a sibling model is not a snapshot");
        assert!(p.price_for("gpt-4").is_none());
        let many: Prices = serde_json::from_str(
            r#"{"gpt-4": {"input_per_million": 30, "output_per_million": 60},
                "claude-3-5-sonnet": {"input_per_million": 3, "output_per_million": 15},
                "gemini-1.5-flash": {"input_per_million": 0.075, "output_per_million": 0.3},
                "gpt-3.5-turbo": {"input_per_million": 0.5, "output_per_million": 1.5},
                "gpt-4o-2024-05-13": {"input_per_million": 5, "output_per_million": 15},
                "gpt-4o": {"input_per_million": 2.5, "output_per_million": 10}}"#,
        )
        .unwrap();
        for (model, priced_as) in [
            ("gpt-4-0613", Some(30.0)),
            ("gpt-4-32k", None),
            ("gpt-4-1106-preview", None),
            ("claude-3-5-sonnet-20241022", Some(3.0)),
            ("gemini-1.5-flash-002", Some(0.075)),
            ("gemini-1.5-flash-8b", None),
            ("gpt-3.5-turbo-16k", None),
            ("gpt-3.5-turbo-0125", Some(0.5)),
            ("gpt-4o-2024-05-13", Some(5.0)),
            ("gpt-4o-2024-08-06", Some(2.5)),
            ("llama3.1:8b", None),
        ] {
            assert_eq!(many.price_for(model).map(|p| p.input_per_million), priced_as, "{model}");
        }
        let spend = ModelSpend { model: "gpt-4o-mini-2024-07-18".into(), requests: 2, prompt_tokens: 1_000_000, completion_tokens: 500_000, total_tokens: 1_500_000, cost_usd: None };
        let cost = p.priced(spend.clone()).cost_usd.expect("priced");
        assert!((cost - 0.45).abs() < 1e-9, "{cost}");
        assert_eq!(Prices::default().priced(spend).cost_usd, None);
        let negative = Prices([("m".to_owned(), ModelPrice { input_per_million: -1.0, output_per_million: 0.0 })].into());
        assert!(negative.validate().unwrap_err().contains("llm.prices.\"m\".input_per_million"));
        assert!(p.validate().is_ok());
    }

    #[test]
    fn the_score_is_bounded() {
        let c = Complexity { severity: 4, findings: 50, distinct_causes: 9, steps: 40 };
        assert_eq!(c.score(), 10);
    }

    #[test]
    fn an_api_key_in_the_file_is_an_unknown_field() {
        let err = serde_json::from_str::<LlmOptions>(r#"{"api_key":"sk-live-abc"}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let ok: LlmOptions = serde_json::from_str(r#"{"api_key_env":"OPENAI_API_KEY","model":"m"}"#).unwrap();
        assert_eq!((ok.max_tokens, ok.temperature, ok.retries), (4000, 0.1, 3));
    }
}
