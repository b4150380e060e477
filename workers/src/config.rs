//! Configuration: one TOML file plus `AETHERIUS_*` environment overrides
//! (`AETHERIUS_DATABASE__URL`, `AETHERIUS_API__LISTEN`, ...), on top of the seed's defaults.
#![allow(clippy::result_large_err, reason = "figment::Error is what figment and its test Jail return; the configuration is loaded once, at start")]

use aetherius_activities::execution::ExecutionOptions;
use aetherius_activities::knowledge::KnowledgeOptions;
use aetherius_activities::llm::LlmOptions;
use aetherius_activities::notify::NotificationOptions;
use aetherius_api::ApiOptions;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where Temporal is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemporalOptions {
    /// Frontend address.
    pub address: String,
    /// Namespace.
    pub namespace: String,
    /// Appended (`@<suffix>`) to every task queue name, so deployments sharing a namespace
    /// (or tests) never take each other's tasks. Empty: the shared names.
    #[serde(default)]
    pub task_queue_suffix: String,
}

impl TemporalOptions {
    /// The task queues of this deployment.
    pub fn queues(&self) -> aetherius_core::queues::Queues {
        aetherius_core::queues::Queues::with_suffix(&self.task_queue_suffix)
    }
}

/// Where PostgreSQL is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseOptions {
    /// Connection URL (put the password in the environment, never in the file).
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Days `audit_logs` rows, the whole step outputs their digests name (`step_outputs`)
    /// and each diagnosis' LLM usage are kept; the report pool prunes older ones daily. 0
    /// keeps them forever; the database refuses fewer than 7.
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
}

fn default_audit_retention_days() -> u32 {
    365
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Temporal.
    pub temporal: TemporalOptions,
    /// PostgreSQL.
    pub database: DatabaseOptions,
    /// HTTP API.
    pub api: ApiOptions,
    /// Execution pool.
    pub execution: ExecutionOptions,
    /// Knowledge base: embedding model, search defaults (seed: top_k 5, threshold 0.7).
    #[serde(default)]
    pub knowledge: KnowledgeOptions,
    /// Kubernetes Warning events as a source (off by default).
    #[serde(default)]
    pub events: crate::events::EventsOptions,
    /// LLM (OpenAI-compatible); absent: the rules alone diagnose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmOptions>,
    /// Notifications: channels, routes, repeat window (none configured: nothing is sent).
    #[serde(default)]
    pub notifications: NotificationOptions,
    /// tracing filter (`info`, `aetherius=debug`, ...).
    pub log: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            temporal: TemporalOptions { address: "http://127.0.0.1:7233".into(), namespace: "default".into(), task_queue_suffix: String::new() },
            database: DatabaseOptions {
                url: "postgres://aetherius@127.0.0.1:5433/aetherius".into(),
                max_connections: 10,
                audit_retention_days: default_audit_retention_days(),
            },
            api: ApiOptions::default(),
            execution: ExecutionOptions::default(),
            knowledge: KnowledgeOptions::default(),
            events: crate::events::EventsOptions::default(),
            llm: None,
            notifications: NotificationOptions::default(),
            log: "info".into(),
        }
    }
}

impl Config {
    /// Defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, figment::Error> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(figment::Error::from(format!("config file {} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment.merge(Env::prefixed("AETHERIUS_").split("__")).extract()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "a.toml",
                "[api]\nlisten = \"0.0.0.0:9000\"\n[execution.clusters.demo]\nkubeconfig = \"/k\"\nnamespaces = [\"shop\"]\n",
            )?;
            jail.set_env("AETHERIUS_DATABASE__URL", "postgres://x@db/y");
            let c = Config::load(Some(Path::new("a.toml")))?;
            assert_eq!(c.api.listen, "0.0.0.0:9000");
            assert_eq!(c.database.url, "postgres://x@db/y");
            assert_eq!(c.api.max_payload_bytes, 10 * 1024 * 1024);
            assert_eq!(c.execution.clusters["demo"].namespaces, vec!["shop".to_owned()]);
            assert_eq!(c.execution.max_output_bytes, 1 << 20);
            Ok(())
        });
    }

    #[test]
    fn the_llm_is_off_without_a_section_and_its_key_comes_from_the_environment_only() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("none.toml", "log = \"info\"\n")?;
            assert_eq!(Config::load(Some(Path::new("none.toml")))?.llm, None);
            jail.create_file("llm.toml", "[llm]\nbase_url = \"http://127.0.0.1:8081/v1\"\nmodel = \"gemma\"\napi_key_env = \"LLM_KEY\"\n[llm.breaker]\nfailure_threshold = 2\n")?;
            jail.set_env("AETHERIUS_LLM__TASK_TOKEN_BUDGET", "1234");
            let llm = Config::load(Some(Path::new("llm.toml")))?.llm.expect("llm section");
            assert_eq!((llm.model.as_str(), llm.max_tokens, llm.temperature), ("gemma", 4000, 0.1));
            assert_eq!((llm.task_token_budget, llm.breaker.failure_threshold), (1234, 2));
            jail.create_file("key.toml", "[llm]\napi_key = \"sk-abc\"\n")?;
            let err = Config::load(Some(Path::new("key.toml"))).unwrap_err().to_string();
            assert!(err.contains("unknown field") && !err.contains("sk-abc"), "{err}");
            let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/aetherius.example.toml");
            let llm = Config::load(Some(&example))?.llm.expect("the example documents [llm]");
            assert_eq!((llm.api_key_env.as_deref(), llm.complex_model.as_deref()), (Some("OPENAI_API_KEY"), Some("gpt-4o")));
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error_not_silently_defaults() {
        assert!(Config::load(Some(Path::new("/nonexistent/aetherius.toml"))).is_err());
    }

    #[test]
    fn the_example_config_parses_with_every_credentials_provider() {
        use aetherius_activities::execution::credentials::{CredentialsOptions, VaultAuth};
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/aetherius.example.toml");
        figment::Jail::expect_with(|jail| {
            jail.set_env("AETHERIUS_EXECUTION__CLUSTERS__PROD__CREDENTIALS__ROLE", "from-env");
            let c = Config::load(Some(&example))?;
            let clusters = &c.execution.clusters;
            let provider = |id: &str| clusters[id].provider().unwrap();
            assert!(matches!(provider("legacy"), CredentialsOptions::Kubeconfig { path: Some(_), context: Some(_) }));
            assert!(matches!(provider("edge"), CredentialsOptions::Kubeconfig { .. }));
            assert_eq!(provider("local"), CredentialsOptions::InCluster);
            let CredentialsOptions::VaultKv(kv) = provider("staging") else { panic!("staging is vault_kv") };
            assert_eq!((kv.kv_version, kv.refresh_secs, kv.vault.is_none()), (2, 300, true));
            let CredentialsOptions::VaultKubernetes(k8s) = provider("prod") else { panic!("prod is vault_kubernetes") };
            assert_eq!(k8s.role, "from-env");
            assert!(matches!(k8s.vault.unwrap().auth, VaultAuth::Token { .. }));
            assert!(matches!(c.execution.vault.unwrap().auth, VaultAuth::Approle { .. }));
            let (prod, staging) = (c.api.approval.policy_for("prod"), c.api.approval.policy_for("staging"));
            assert!(prod.always && !staging.always && staging.llm_proposed, "{:?}", c.api.approval);
            assert_eq!(staging.sensitive_namespaces, vec!["payments".to_owned()]);
            let prices = &c.llm.as_ref().expect("[llm]").prices;
            assert_eq!(prices.price_for("gpt-4o-mini-2024-07-18").map(|p| p.output_per_million), Some(0.6));
            assert_eq!(prices.validate(), Ok(()));
            let n = &c.notifications;
            assert_eq!((n.enabled, n.repeat_window_secs, n.channels.len(), n.routes.len()), (true, 14400, 3, 2));
            assert_eq!(n.channels["sre-mail"].smtp_password_file.as_deref(), Some(Path::new("/var/run/secrets/aetherius/smtp-password")));
            assert_eq!(n.channels["oncall-slack"].url_file.as_deref(), Some(Path::new("/var/run/secrets/aetherius/slack-webhook-url")));
            assert_eq!(n.routes[0].except_root_causes, vec!["not-an-issue".to_owned()]);
            // The routes and kinds hold together; the secret files exist only in a pod.
            let mut without_files = n.clone();
            for ch in without_files.channels.values_mut() {
                ch.url_file = ch.url_file.take().map(|_| example.clone());
                ch.smtp_password_file = ch.smtp_password_file.take().map(|_| example.clone());
            }
            assert_eq!(without_files.validate(), Ok(()));
            let err = n.validate().unwrap_err();
            assert!(err.contains("/var/run/secrets/aetherius/"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_vault_token_in_the_file_is_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "a.toml",
                "[execution.vault]\naddress = \"http://127.0.0.1:8200\"\nauth = { method = \"token\", token = \"s.abc\" }\n",
            )?;
            let err = Config::load(Some(Path::new("a.toml"))).unwrap_err().to_string();
            assert!(err.contains("unknown field") && !err.contains("s.abc"), "{err}");
            Ok(())
        });
    }
}
