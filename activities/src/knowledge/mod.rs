//! The knowledge base: runbooks and lessons learnt, in PostgreSQL with pgvector, searched
//! by meaning.
//!
//! Every entry is stored with the unit vector of its title, tags and content
//! ([`embed`]); a search embeds the query the same way and asks the HNSW index for the
//! nearest entries by cosine distance; `score = 1 - distance` (1 = same direction).
//! Feedback on a diagnosis that used an entry moves its usage numbers and confidence
//! ([`feedback`]). [`runbooks`] loads the shipped runbooks from files; [`KnowledgeBase::match_alert`]
//! is what the analyze step asks.

mod alert;
pub mod bench;
mod embed;
pub mod feedback;
pub mod runbooks;

pub use alert::{AlertMatch, KNOWLEDGE_BASED_MIN_SCORE, alert_text};
pub use embed::{DIMS, Embedder, MAX_TOKENS, MiniLm, OpenAiEmbedder, OpenAiEmbeddingOptions, discover_model_dir};

use chrono::{DateTime, Utc};
use lru::LruCache;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgPool};
use std::{
    num::NonZeroUsize,
    path::PathBuf,
    sync::{Arc, Mutex},
};
use uuid::Uuid;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that fails validation; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// JSON path of the bad field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No entry with this id.
    #[error("no knowledge entry with id {0}")]
    NotFound(Uuid),
    /// The embedding model failed or is missing.
    #[error("embedding: {0}")]
    Embedding(String),
    /// A runbook file could not be read or parsed.
    #[error("runbook {path}: {message}")]
    Runbook {
        /// File or folder.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invalid { field: field.into(), message: message.into() }
}

/// `[knowledge]` in the configuration (seed defaults: top_k 5, threshold 0.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KnowledgeOptions {
    /// Off: no knowledge base (its API routes answer 503, analyze skips the search).
    pub enabled: bool,
    /// Folder of the local all-MiniLM-L6-v2 model; found in the repository's
    /// `.aetherius/venv` when absent.
    pub model_dir: Option<PathBuf>,
    /// Use this OpenAI-compatible endpoint for embeddings instead of the local model.
    pub openai: Option<OpenAiEmbeddingOptions>,
    /// Matches a search returns when the caller does not say.
    pub top_k: usize,
    /// Lowest score a search returns when the caller does not say.
    pub threshold: f64,
    /// Query embeddings kept in memory (an LRU keyed by the query text).
    pub query_cache_entries: usize,
    /// Runbooks `aetherius knowledge load` reads when given no folder.
    pub runbooks_dir: PathBuf,
}

impl Default for KnowledgeOptions {
    fn default() -> Self {
        KnowledgeOptions {
            enabled: true,
            model_dir: None,
            openai: None,
            top_k: 5,
            threshold: 0.7,
            query_cache_entries: 1024,
            runbooks_dir: PathBuf::from("knowledge/runbooks"),
        }
    }
}

/// Builds the embedder `options` ask for: the OpenAI-compatible endpoint when configured,
/// else the local model (from `model_dir`, or discovered).
pub fn embedder(options: &KnowledgeOptions) -> Result<Arc<dyn Embedder>, Error> {
    Ok(match &options.openai {
        Some(o) => Arc::new(OpenAiEmbedder::new(o.clone())),
        None => Arc::new(MiniLm::from_config(options.model_dir.as_deref())?),
    })
}

/// A stored entry (the seed's `KnowledgeEntry`, without the vector).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Entry {
    /// Id.
    pub id: Uuid,
    /// Stable key of entries loaded from files, e.g. `runbook/KubePodCrashLooping`.
    pub slug: Option<String>,
    /// One line.
    pub title: String,
    /// Markdown.
    pub content: String,
    /// Lowercase word (`runbook`, `workload`, `node`, ...).
    pub category: String,
    /// Lowercase words.
    pub tags: Vec<String>,
    /// 0..1: the author's confidence blended with feedback ([`feedback`]).
    pub confidence: f32,
    /// Feedback received.
    pub usage_count: i64,
    /// Share of feedback that said the entry helped.
    pub success_rate: f32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last edited (feedback does not count as an edit).
    pub updated_at: DateTime<Utc>,
    /// Free-form JSON object (`alertname`, `source`, ...).
    pub metadata: serde_json::Value,
}

/// An entry as written by a person or a runbook file (`POST` / `PUT /knowledge`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    /// One line, 1-200 characters.
    pub title: String,
    /// Markdown, 1-65536 bytes.
    pub content: String,
    /// Lowercase word; `general` when absent.
    #[serde(default)]
    pub category: Option<String>,
    /// Lowercase words, at most 32.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The author's confidence, 0..1; 0.5 for a new entry when absent, unchanged on update.
    #[serde(default)]
    pub confidence: Option<f32>,
    /// Stable key; loading an entry with the same slug again updates it.
    #[serde(default)]
    pub slug: Option<String>,
    /// A JSON object.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// An [`EntryInput`] that passed validation, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEntry {
    title: String,
    content: String,
    category: String,
    tags: Vec<String>,
    prior: Option<f32>,
    slug: Option<String>,
    metadata: serde_json::Value,
}

/// Confidence of an entry added without one.
pub const DEFAULT_CONFIDENCE: f32 = 0.5;

fn is_word(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

impl EntryInput {
    /// Checks every field; trims, lowercases tags and category, drops duplicate tags.
    pub fn validate(self) -> Result<ValidEntry, Error> {
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 200 || title.contains(['\n', '\r']) {
            return Err(invalid("title", "must be one line of 1 to 200 characters"));
        }
        let content = self.content.trim().to_owned();
        if content.is_empty() || content.len() > 65_536 {
            return Err(invalid("content", "must hold 1 to 65536 bytes"));
        }
        let category = self.category.map(|c| c.trim().to_ascii_lowercase()).unwrap_or_else(|| "general".into());
        if !is_word(&category, 64) {
            return Err(invalid("category", format!("{category:?} is not a lowercase word (a-z, 0-9, - _ .; at most 64)")));
        }
        if self.tags.len() > 32 {
            return Err(invalid("tags", "at most 32 tags"));
        }
        let mut tags: Vec<String> = vec![];
        for (i, tag) in self.tags.iter().enumerate() {
            let tag = tag.trim().to_ascii_lowercase();
            if !is_word(&tag, 64) {
                return Err(invalid(format!("tags[{i}]"), format!("{tag:?} is not a lowercase word (a-z, 0-9, - _ .; at most 64)")));
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if let Some(c) = self.confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(invalid("confidence", format!("{c} is not between 0 and 1")));
        }
        if let Some(slug) = &self.slug {
            let ok = !slug.is_empty()
                && slug.len() <= 128
                && slug.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
            if !ok {
                return Err(invalid("slug", format!("{slug:?} must be 1 to 128 of A-Z a-z 0-9 - _ . /")));
            }
        }
        let metadata = self.metadata.unwrap_or_else(|| serde_json::json!({}));
        if !metadata.is_object() {
            return Err(invalid("metadata", "must be a JSON object"));
        }
        if metadata.to_string().len() > 16_384 {
            return Err(invalid("metadata", "must be at most 16384 bytes of JSON"));
        }
        Ok(ValidEntry { title, content, category, tags, prior: self.confidence, slug: self.slug, metadata })
    }
}

impl ValidEntry {
    /// What gets embedded: the title and tags say what the entry is about; the model reads
    /// the first [`MAX_TOKENS`] tokens, so runbooks put their meaning first. Code blocks stay
    /// in: tried without them, the kubectl lines' nouns (nodes, pvc) turned out to help
    /// ("node is not ready" ranked KubeNodeNotReady third instead of first).
    fn embedding_text(&self) -> String {
        format!("{}\n{}\n{}", self.title, self.tags.join(", "), self.content)
    }
}

/// Filters and page of `GET /knowledge`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Only entries carrying all of these tags.
    pub tags: Vec<String>,
    /// Page size, 1-500 (50 when 0).
    pub limit: u32,
    /// Entries skipped.
    pub offset: u32,
}

/// One page of entries.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// Entries by title.
    pub entries: Vec<Entry>,
    /// Entries matching the filter, over all pages.
    pub total: i64,
    /// Page size used.
    pub limit: u32,
    /// Entries skipped.
    pub offset: u32,
}

/// A semantic search (`POST /search`, the seed's `SearchQuery`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Text to search for (the seed calls it `text`).
    #[serde(alias = "text")]
    pub query: String,
    /// Most matches, 1-100; the configured top_k (5) when absent.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Lowest score, 0..1; the configured threshold (0.7) when absent.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Only this category.
    #[serde(default)]
    pub category: Option<String>,
    /// Only entries carrying all of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A search hit: the entry and how close it is (`1 - cosine distance`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// The entry.
    pub entry: Entry,
    /// 1 - cosine distance: 1 is the same direction, 0 unrelated.
    pub score: f64,
}

/// Feedback on entries a diagnosis used (`POST /feedback`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    /// Entries the feedback is about, 1-100.
    pub entry_ids: Vec<Uuid>,
    /// Whether they helped.
    pub success: bool,
    /// The diagnosis: feedback for the same (entry, workflow) counts once.
    #[serde(default)]
    pub workflow_id: Option<String>,
    /// What the person said.
    #[serde(default)]
    pub comment: Option<String>,
}

/// What feedback did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackOutcome {
    /// Entries whose numbers moved, as they are now.
    pub updated: Vec<Entry>,
    /// Entries that already had feedback for this workflow: left as they were.
    pub already_counted: Vec<Uuid>,
}

/// What loading files did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UpsertReport {
    /// New entries.
    pub inserted: usize,
    /// Entries whose text, tags, category, confidence or embedding model changed.
    pub updated: usize,
    /// Entries already as in the files.
    pub unchanged: usize,
}

const COLS: &str = "id, slug, title, content, category, tags, confidence, usage_count, success_rate, created_at, updated_at, metadata";

#[derive(sqlx::FromRow)]
struct Scored {
    #[sqlx(flatten)]
    entry: Entry,
    distance: f64,
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The knowledge base over one pair of tables. Cheap to share (`Arc`); every method takes
/// `&self`.
pub struct KnowledgeBase {
    pool: PgPool,
    embedder: Arc<dyn Embedder>,
    options: KnowledgeOptions,
    entries: String,
    feedback: String,
    cache: Mutex<LruCache<String, Arc<Vec<f32>>>>,
}

impl KnowledgeBase {
    /// Over the migrated tables `knowledge_entries` and `knowledge_feedback`.
    pub fn new(pool: PgPool, embedder: Arc<dyn Embedder>, options: KnowledgeOptions) -> KnowledgeBase {
        Self::over_tables(pool, embedder, options, "knowledge_entries".into(), "knowledge_feedback".into())
    }

    /// Over copies of the tables in their own `schema` (created when missing), for tests
    /// and benchmarks that must not touch, or be disturbed by, the real entries.
    pub async fn in_schema(
        pool: PgPool,
        embedder: Arc<dyn Embedder>,
        options: KnowledgeOptions,
        schema: &str,
    ) -> Result<KnowledgeBase, Error> {
        if !is_identifier(schema) {
            return Err(invalid("schema", format!("{schema:?} is not a lowercase SQL identifier")));
        }
        let mut tx = pool.begin().await?;
        // Concurrent creators of the same schema would race on the catalog.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(schema).execute(&mut *tx).await?;
        for sql in [
            format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
            format!("CREATE TABLE IF NOT EXISTS {schema}.knowledge_entries (LIKE knowledge_entries INCLUDING ALL)"),
            format!("CREATE TABLE IF NOT EXISTS {schema}.knowledge_feedback (LIKE knowledge_feedback INCLUDING ALL)"),
        ] {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Self::over_tables(
            pool,
            embedder,
            options,
            format!("{schema}.knowledge_entries"),
            format!("{schema}.knowledge_feedback"),
        ))
    }

    fn over_tables(pool: PgPool, embedder: Arc<dyn Embedder>, options: KnowledgeOptions, entries: String, feedback: String) -> Self {
        let size = NonZeroUsize::new(options.query_cache_entries).unwrap_or(NonZeroUsize::MIN);
        KnowledgeBase { pool, embedder, options, entries, feedback, cache: Mutex::new(LruCache::new(size)) }
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The options it was built with.
    pub fn options(&self) -> &KnowledgeOptions {
        &self.options
    }

    /// The pool it stores into.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// `template` with `{E}` / `{F}` / `{COLS}` filled in. Table names are validated
    /// identifiers, never user input.
    fn sql(&self, template: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(template.replace("{COLS}", COLS).replace("{E}", &self.entries).replace("{F}", &self.feedback))
    }

    async fn embed_one(&self, text: String) -> Result<Vec<f32>, Error> {
        let mut v = self.embedder.embed(std::slice::from_ref(&text)).await?;
        v.pop().ok_or_else(|| Error::Embedding("the model returned no vector".into()))
    }

    /// The vector of a search text, from the cache when the same text was asked recently.
    pub async fn embed_query(&self, text: &str) -> Result<Arc<Vec<f32>>, Error> {
        let key = text.trim();
        if let Some(v) = self.cache.lock().expect("cache lock").get(key) {
            return Ok(v.clone());
        }
        let v = Arc::new(self.embed_one(key.to_owned()).await?);
        self.cache.lock().expect("cache lock").put(key.to_owned(), v.clone());
        Ok(v)
    }

    /// Adds an entry.
    pub async fn add(&self, input: EntryInput) -> Result<Entry, Error> {
        let e = input.validate()?;
        let embedding = self.embed_one(e.embedding_text()).await?;
        self.insert(&e, &embedding).await
    }

    async fn insert(&self, e: &ValidEntry, embedding: &[f32]) -> Result<Entry, Error> {
        let prior = e.prior.unwrap_or(DEFAULT_CONFIDENCE);
        let entry = sqlx::query_as::<_, Entry>(self.sql(
            "INSERT INTO {E} (id, slug, title, content, category, tags, embedding, embedding_model, prior_confidence, confidence, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7::real[]::vector, $8, $9, $9, $10)
             RETURNING {COLS}",
        ))
        .bind(Uuid::new_v4())
        .bind(&e.slug)
        .bind(&e.title)
        .bind(&e.content)
        .bind(&e.category)
        .bind(&e.tags)
        .bind(embedding)
        .bind(self.embedder.model_id())
        .bind(prior)
        .bind(&e.metadata)
        .fetch_one(&self.pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                invalid("slug", format!("{:?} is already taken", e.slug.as_deref().unwrap_or_default()))
            }
            _ => Error::Database(err),
        })?;
        Ok(entry)
    }

    /// Replaces the written fields of entry `id`; its usage numbers stay. The embedding is
    /// recomputed only when the embedded text changed.
    pub async fn update(&self, id: Uuid, input: EntryInput) -> Result<Entry, Error> {
        let e = input.validate()?;
        let current = self.get(id).await?;
        let same_text = current.title == e.title && current.content == e.content && current.tags == e.tags;
        let embedding = if same_text { None } else { Some(self.embed_one(e.embedding_text()).await?) };
        self.rewrite(id, &e, embedding.as_deref()).await
    }

    /// Writes `e` over entry `id`; `embedding` when it changed. A new prior confidence
    /// recomputes the confidence from the feedback so far (the formula of
    /// [`feedback::Stats::confidence`], in SQL).
    async fn rewrite(&self, id: Uuid, e: &ValidEntry, embedding: Option<&[f32]>) -> Result<Entry, Error> {
        let row = sqlx::query_as::<_, Entry>(self.sql(
            "UPDATE {E} SET slug = COALESCE($2, slug), title = $3, content = $4, category = $5, tags = $6,
                 embedding = COALESCE($7::real[]::vector, embedding),
                 embedding_model = CASE WHEN $7::real[] IS NULL THEN embedding_model ELSE $8 END,
                 prior_confidence = COALESCE($9, prior_confidence),
                 confidence = (($10 * COALESCE($9, prior_confidence) + success_count) / ($10 + usage_count))::real,
                 metadata = $11, updated_at = now()
             WHERE id = $1 RETURNING {COLS}",
        ))
        .bind(id)
        .bind(&e.slug)
        .bind(&e.title)
        .bind(&e.content)
        .bind(&e.category)
        .bind(&e.tags)
        .bind(embedding)
        .bind(self.embedder.model_id())
        .bind(e.prior)
        .bind(feedback::PRIOR_WEIGHT)
        .bind(&e.metadata)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                invalid("slug", format!("{:?} is already taken", e.slug.as_deref().unwrap_or_default()))
            }
            _ => Error::Database(err),
        })?;
        row.ok_or(Error::NotFound(id))
    }

    /// Deletes entry `id` and its feedback.
    pub async fn delete(&self, id: Uuid) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query(self.sql("DELETE FROM {E} WHERE id = $1")).bind(id).execute(&mut *tx).await?;
        if gone.rows_affected() == 0 {
            return Err(Error::NotFound(id));
        }
        sqlx::query(self.sql("DELETE FROM {F} WHERE entry_id = $1")).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Entry `id`.
    pub async fn get(&self, id: Uuid) -> Result<Entry, Error> {
        sqlx::query_as::<_, Entry>(self.sql("SELECT {COLS} FROM {E} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound(id))
    }

    /// The entry loaded under `slug`, if any.
    pub async fn get_by_slug(&self, slug: &str) -> Result<Option<Entry>, Error> {
        Ok(sqlx::query_as::<_, Entry>(self.sql("SELECT {COLS} FROM {E} WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// One page of entries by title.
    pub async fn list(&self, filter: &ListFilter) -> Result<Page, Error> {
        let limit = match filter.limit {
            0 => 50,
            l if l > 500 => return Err(invalid("limit", format!("{l} is over 500"))),
            l => l,
        };
        let tags: Vec<String> = filter.tags.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
        let category = filter.category.as_deref().map(|c| c.trim().to_ascii_lowercase());
        let entries = sqlx::query_as::<_, Entry>(self.sql(
            "SELECT {COLS} FROM {E} WHERE ($1::text IS NULL OR category = $1) AND tags @> $2::text[]
             ORDER BY title, id LIMIT $3 OFFSET $4",
        ))
        .bind(&category)
        .bind(&tags)
        .bind(i64::from(limit))
        .bind(i64::from(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(self.sql("SELECT count(*) FROM {E} WHERE ($1::text IS NULL OR category = $1) AND tags @> $2::text[]"))
            .bind(&category)
            .bind(&tags)
            .fetch_one(&self.pool)
            .await?;
        Ok(Page { entries, total, limit, offset: filter.offset })
    }

    /// Entries closest in meaning to `query.query`, best first, at most `top_k`, none
    /// under `threshold`.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<Match>, Error> {
        let text = query.query.trim();
        if text.is_empty() || text.len() > 10_000 {
            return Err(invalid("query", "must hold 1 to 10000 bytes of text"));
        }
        let top_k = query.top_k.unwrap_or(self.options.top_k);
        if !(1..=100).contains(&top_k) {
            return Err(invalid("top_k", format!("{top_k} is not between 1 and 100")));
        }
        let threshold = query.threshold.unwrap_or(self.options.threshold);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(invalid("threshold", format!("{threshold} is not between 0 and 1")));
        }
        let vector = self.embed_query(text).await?;
        let filter = ListFilter { category: query.category.clone(), tags: query.tags.clone(), ..Default::default() };
        self.search_by_vector(&vector, top_k, threshold, &filter).await
    }

    /// The vector-search half of [`search`](Self::search): the `top_k` entries nearest to
    /// `vector` (made by this base's embedder) with a score of at least `threshold`.
    pub async fn search_by_vector(&self, vector: &[f32], top_k: usize, threshold: f64, filter: &ListFilter) -> Result<Vec<Match>, Error> {
        if vector.len() != DIMS {
            return Err(invalid("vector", format!("has {} dimensions, not {DIMS}", vector.len())));
        }
        let tags: Vec<String> = filter.tags.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
        let category = filter.category.as_deref().map(|c| c.trim().to_ascii_lowercase());
        let mut tx = self.pool.begin().await?;
        // With a filter (model, category, tags) the HNSW scan keeps going until it has
        // top_k rows that pass, instead of filtering a fixed candidate list (pgvector 0.8).
        sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order").execute(&mut *tx).await?;
        let rows = sqlx::query_as::<_, Scored>(self.sql(
            "SELECT {COLS}, embedding <=> $1::real[]::vector AS distance FROM {E}
             WHERE embedding_model = $2 AND ($3::text IS NULL OR category = $3) AND tags @> $4::text[]
             ORDER BY embedding <=> $1::real[]::vector LIMIT $5",
        ))
        .bind(vector)
        .bind(self.embedder.model_id())
        .bind(&category)
        .bind(&tags)
        .bind(top_k as i64)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut matches: Vec<Match> = rows
            .into_iter()
            .map(|r| Match { entry: r.entry, score: 1.0 - r.distance })
            .filter(|m| m.score >= threshold)
            .collect();
        // relaxed_order may return rows slightly out of order.
        matches.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(matches)
    }

    /// Records feedback and moves the numbers of the entries it names
    /// ([`feedback`] has the formula). All or nothing: an unknown id changes nothing.
    pub async fn feedback(&self, input: FeedbackInput) -> Result<FeedbackOutcome, Error> {
        let mut ids = input.entry_ids.clone();
        ids.sort();
        ids.dedup();
        if ids.is_empty() || ids.len() > 100 {
            return Err(invalid("entry_ids", "must name 1 to 100 entries"));
        }
        if let Some(w) = &input.workflow_id
            && (w.is_empty() || w.len() > 512 || w.chars().any(char::is_control))
        {
            return Err(invalid("workflow_id", "must be 1 to 512 characters without control characters"));
        }
        if input.comment.as_ref().is_some_and(|c| c.len() > 4096) {
            return Err(invalid("comment", "must be at most 4096 bytes"));
        }
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(Uuid, f32, i64, i64)> = sqlx::query_as(self.sql(
            "SELECT id, prior_confidence, usage_count, success_count FROM {E} WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(missing) = ids.iter().find(|id| !rows.iter().any(|r| r.0 == **id)) {
            return Err(Error::NotFound(*missing));
        }
        let mut outcome = FeedbackOutcome { updated: vec![], already_counted: vec![] };
        for (id, prior, usage_count, success_count) in rows {
            let recorded = sqlx::query(self.sql(
                "INSERT INTO {F} (entry_id, success, workflow_id, comment) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (entry_id, workflow_id) DO NOTHING",
            ))
            .bind(id)
            .bind(input.success)
            .bind(&input.workflow_id)
            .bind(&input.comment)
            .execute(&mut *tx)
            .await?;
            if recorded.rows_affected() == 0 {
                outcome.already_counted.push(id);
                continue;
            }
            let after = feedback::Stats { prior, usage_count, success_count }.after(input.success);
            let entry = sqlx::query_as::<_, Entry>(self.sql(
                "UPDATE {E} SET usage_count = $2, success_count = $3, success_rate = $4, confidence = $5 WHERE id = $1 RETURNING {COLS}",
            ))
            .bind(id)
            .bind(after.usage_count)
            .bind(after.success_count)
            .bind(after.success_rate())
            .bind(after.confidence())
            .fetch_one(&mut *tx)
            .await?;
            outcome.updated.push(entry);
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Inserts or updates entries by slug (each must have one). Entries already as given
    /// are not touched and not re-embedded; their usage numbers are never reset.
    pub async fn upsert(&self, inputs: Vec<EntryInput>) -> Result<UpsertReport, Error> {
        let mut valid = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let v = input.validate().map_err(|e| match e {
                Error::Invalid { field, message } => invalid(format!("[{i}].{field}"), message),
                other => other,
            })?;
            if v.slug.is_none() {
                return Err(invalid(format!("[{i}].slug"), "required to load an entry idempotently"));
            }
            valid.push(v);
        }
        let slugs: Vec<&str> = valid.iter().filter_map(|v| v.slug.as_deref()).collect();
        type Current = (String, Uuid, String, String, String, Vec<String>, f32, serde_json::Value, String);
        let current: Vec<Current> = sqlx::query_as(self.sql(
            "SELECT slug, id, title, content, category, tags, prior_confidence, metadata, embedding_model FROM {E} WHERE slug = ANY($1)",
        ))
        .bind(&slugs)
        .fetch_all(&self.pool)
        .await?;
        let model = self.embedder.model_id();
        let mut report = UpsertReport::default();
        let mut to_embed = vec![];
        let mut plans = vec![];
        for v in &valid {
            let existing = current.iter().find(|c| Some(c.0.as_str()) == v.slug.as_deref());
            let (id, needs_vector, changed) = match existing {
                None => (None, true, true),
                Some((_, id, title, content, category, tags, prior, metadata, emodel)) => {
                    let needs_vector = *title != v.title || *content != v.content || *tags != v.tags || emodel != model;
                    let changed = needs_vector
                        || *category != v.category
                        || *metadata != v.metadata
                        || v.prior.is_some_and(|p| p != *prior);
                    (Some(*id), needs_vector, changed)
                }
            };
            if !changed {
                report.unchanged += 1;
                continue;
            }
            if needs_vector {
                to_embed.push(v.embedding_text());
            }
            plans.push((v, id, needs_vector));
        }
        let mut vectors = self.embedder.embed(&to_embed).await?.into_iter();
        for (v, id, needs_vector) in plans {
            let vector = if needs_vector { vectors.next() } else { None };
            match id {
                None => {
                    let vector = vector.ok_or_else(|| Error::Embedding("the model returned too few vectors".into()))?;
                    self.insert(v, &vector).await?;
                    report.inserted += 1;
                }
                Some(id) => {
                    self.rewrite(id, v, vector.as_deref()).await?;
                    report.updated += 1;
                }
            }
        }
        Ok(report)
    }

    /// Entries whose vectors another model made, which searches with this embedder skip;
    /// loading the runbooks again re-embeds the ones that came from files.
    pub async fn entries_of_other_models(&self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(self.sql("SELECT count(*) FROM {E} WHERE embedding_model <> $1"))
            .bind(self.embedder.model_id())
            .fetch_one(&self.pool)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EntryInput {
        EntryInput { title: " Crash loop ".into(), content: "body".into(), ..Default::default() }
    }

    #[test]
    fn validation_normalises_and_defaults() {
        let v = EntryInput { tags: vec!["Pod".into(), "pod".into(), " restart ".into()], ..input() }.validate().unwrap();
        assert_eq!(v.title, "Crash loop");
        assert_eq!(v.category, "general");
        assert_eq!(v.tags, vec!["pod", "restart"]);
        assert_eq!(v.metadata, serde_json::json!({}));
        assert_eq!(v.prior, None);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let field = |i: EntryInput| match i.validate() {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(field(EntryInput { title: "".into(), ..input() }), "title");
        assert_eq!(field(EntryInput { title: "a\nb".into(), ..input() }), "title");
        assert_eq!(field(EntryInput { content: "  ".into(), ..input() }), "content");
        assert_eq!(field(EntryInput { category: Some("Has Space".into()), ..input() }), "category");
        assert_eq!(field(EntryInput { tags: vec!["ok".into(), "no way".into()], ..input() }), "tags[1]");
        assert_eq!(field(EntryInput { confidence: Some(1.5), ..input() }), "confidence");
        assert_eq!(field(EntryInput { confidence: Some(f32::NAN), ..input() }), "confidence");
        assert_eq!(field(EntryInput { slug: Some("a b".into()), ..input() }), "slug");
        assert_eq!(field(EntryInput { metadata: Some(serde_json::json!([1])), ..input() }), "metadata");
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(is_identifier("kb_test_1"));
        assert!(!is_identifier("public; DROP TABLE x"));
        assert!(!is_identifier("Upper"));
        assert!(!is_identifier(""));
    }
}
