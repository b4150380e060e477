//! `aetherius bench knowledge`: how fast the vector search and the query embedding are.
//!
//! The vector-search figure runs against tables of its own (schema `aetherius_bench` by
//! default) filled with synthetic vectors, not model output: embedding 50k texts would take
//! hours on a small machine. The vectors are clustered the way text embeddings are (one
//! cluster per [`PER_CLUSTER`] entries; every entry and every query a random point near its
//! cluster's centre, cosine ~0.8 to it). Uniform random unit vectors, which have no
//! structure at all, are the worst case for any approximate index (measured here: recall@5
//! of 0.14 at 50k entries with pgvector's default ef_search) and nothing like text. Recall
//! against an exact scan is reported next to the latency, so speed is never bought with
//! wrong answers. The embedding figures run the real model on real-looking text.

use super::{DIMS, Embedder, Error, KnowledgeBase, KnowledgeOptions, ListFilter};
use sqlx::{AssertSqlSafe, PgPool, QueryBuilder};
use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Entries in the table.
    pub entries: usize,
    /// Timed vector searches.
    pub queries: usize,
    /// Schema of the benchmark's own tables.
    pub schema: String,
    /// Refill even when the table already holds `entries` rows.
    pub fresh: bool,
    /// Seed of the random vectors.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions { entries: 50_000, queries: 1000, schema: "aetherius_bench".into(), fresh: false, seed: 42 }
    }
}

/// Percentiles of a set of timings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Percentiles {
    /// Of `samples` (not empty).
    pub fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        let at = |q: f64| samples[(((samples.len() as f64) * q).ceil() as usize).clamp(1, samples.len()) - 1];
        Percentiles { n: samples.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99), max: *samples.last().expect("samples") }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(f, "n={} p50={:.3} ms p95={:.3} ms p99={:.3} ms max={:.3} ms", self.n, ms(self.p50), ms(self.p95), ms(self.p99), ms(self.max))
    }
}

/// The measured figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Entries searched.
    pub entries: i64,
    /// Seconds spent filling and indexing (0 when the table was reused).
    pub fill_secs: f64,
    /// Top-5 vector search, no filter.
    pub search: Percentiles,
    /// Top-5 vector search restricted to one category of eight.
    pub search_filtered: Percentiles,
    /// Share of the exact top 5 the index returned.
    pub recall_at_5: f64,
    /// First embedding of the process (loads the model for the local embedder).
    pub embed_first: Duration,
    /// One short query, not cached.
    pub embed_uncached: Percentiles,
    /// One short query, answered from the cache.
    pub embed_cached: Percentiles,
    /// One text of the model's full length (256 tokens), not cached.
    pub embed_long: Percentiles,
    /// Per text when 32 runbook-length texts are embedded in one call.
    pub embed_bulk_per_text: Duration,
    /// Threads candle computes with.
    pub threads: usize,
    /// Whether this is a debug build.
    pub debug_build: bool,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(f, "knowledge benchmark ({} build, {} compute threads)", if self.debug_build { "debug" } else { "release" }, self.threads)?;
        writeln!(f, "vector search over {} entries of synthetic clustered vectors (filled in {:.1} s):", self.entries, self.fill_secs)?;
        writeln!(f, "  top 5, no filter:          {}", self.search)?;
        writeln!(f, "  top 5, 1 of 8 categories:  {}", self.search_filtered)?;
        writeln!(f, "  recall@5 against exact:    {:.3}", self.recall_at_5)?;
        writeln!(f, "query embedding:")?;
        writeln!(f, "  first call (loads model):  {:.1} ms", ms(self.embed_first))?;
        writeln!(f, "  short query, uncached:     {}", self.embed_uncached)?;
        writeln!(f, "  short query, cached:       {}", self.embed_cached)?;
        writeln!(f, "  256-token text, uncached:  {}", self.embed_long)?;
        write!(f, "  bulk, 32 runbook texts:    {:.1} ms per text", ms(self.embed_bulk_per_text))
    }
}

/// Entries per cluster of synthetic vectors.
pub const PER_CLUSTER: usize = 50;

/// Standard deviation of the per-coordinate noise around a cluster centre: a point ends
/// up at cosine ~0.8 from its centre in 384 dimensions.
const SPREAD: f32 = 0.04;

/// xorshift64*: reproducible vectors without a dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn gaussian(&mut self) -> f32 {
        let (u1, u2) = (self.next_f64().max(f64::MIN_POSITIVE), self.next_f64());
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Uniform on the unit sphere: normalised Gaussian coordinates.
    fn unit_vector(&mut self) -> Vec<f32> {
        super::embed::normalise((0..DIMS).map(|_| self.gaussian()).collect())
    }

    /// A random unit vector near `centre`.
    fn near(&mut self, centre: &[f32]) -> Vec<f32> {
        super::embed::normalise(centre.iter().map(|c| c + SPREAD * self.gaussian()).collect())
    }

    /// A cluster index below `n`.
    fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n - 1)
    }
}

/// The cluster centres of a table of `entries` entries (the same for the fill and the
/// queries).
fn centres(seed: u64, entries: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed ^ 0xC1A5_7E85);
    (0..entries.div_ceil(PER_CLUSTER).max(1)).map(|_| rng.unit_vector()).collect()
}

const CATEGORIES: [&str; 8] = ["workload", "node", "storage", "network", "control-plane", "capacity", "monitoring", "general"];

/// Short questions a person or an alert would ask.
const QUERIES: [&str; 12] = [
    "pod keeps restarting after start",
    "deployment rollout is stuck",
    "node is not ready",
    "persistent volume is almost full",
    "container is throttled on cpu",
    "job failed to complete",
    "image cannot be pulled",
    "api server error budget burning",
    "certificate about to expire",
    "prometheus target is down",
    "memory usage of the node is high",
    "quota exceeded in namespace",
];

/// Fills (unless reusable) and measures. Prints nothing; the caller shows the report.
pub async fn run(pool: PgPool, embedder: Arc<dyn Embedder>, options: &BenchOptions) -> Result<BenchReport, Error> {
    let kb_options = KnowledgeOptions::default();
    let entries_table = format!("{}.knowledge_entries", options.schema);
    if !super::is_identifier(&options.schema) {
        return Err(super::invalid("schema", format!("{:?} is not a lowercase SQL identifier", options.schema)));
    }
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&entries_table).fetch_one(&pool).await?;
    let have: i64 = if exists {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {entries_table}"))).fetch_one(&pool).await?
    } else {
        0
    };
    let mut fill_secs = 0.0;
    if options.fresh || have != options.entries as i64 {
        let started = Instant::now();
        fill(&pool, embedder.model_id(), options).await?;
        fill_secs = started.elapsed().as_secs_f64();
    }
    let kb = KnowledgeBase::in_schema(pool.clone(), embedder.clone(), kb_options, &options.schema).await?;
    let entries: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {entries_table}"))).fetch_one(&pool).await?;

    let centres = centres(options.seed, options.entries);
    let mut rng = Rng(options.seed ^ 0x9E37_79B9_7F4A_7C15);
    let queries: Vec<Vec<f32>> = (0..options.queries.max(1))
        .map(|_| {
            let cluster = rng.below(centres.len());
            rng.near(&centres[cluster])
        })
        .collect();
    let all = ListFilter::default();
    for q in queries.iter().take(20) {
        kb.search_by_vector(q, 5, 0.0, &all).await?;
    }
    let mut times = Vec::with_capacity(queries.len());
    for q in &queries {
        let t = Instant::now();
        kb.search_by_vector(q, 5, 0.0, &all).await?;
        times.push(t.elapsed());
    }
    let search = Percentiles::of(times);

    let mut times = vec![];
    for (i, q) in queries.iter().take(200).enumerate() {
        let filter = ListFilter { category: Some(CATEGORIES[i % CATEGORIES.len()].into()), ..Default::default() };
        let t = Instant::now();
        kb.search_by_vector(q, 5, 0.0, &filter).await?;
        times.push(t.elapsed());
    }
    let search_filtered = Percentiles::of(times);
    let recall_at_5 = recall(&kb, &pool, &entries_table, &queries[..queries.len().min(50)]).await?;

    // Embeddings: the model itself, then through the knowledge base's cache.
    let t = Instant::now();
    embedder.embed(&["warm up".to_owned()]).await?;
    let embed_first = t.elapsed();
    let mut times = vec![];
    for round in 0..5 {
        for q in QUERIES {
            let text = format!("{q} ({round})");
            let t = Instant::now();
            embedder.embed(&[text]).await?;
            times.push(t.elapsed());
        }
    }
    let embed_uncached = Percentiles::of(times);
    kb.embed_query(QUERIES[0]).await?;
    let mut times = vec![];
    for _ in 0..1000 {
        let t = Instant::now();
        kb.embed_query(QUERIES[0]).await?;
        times.push(t.elapsed());
    }
    let embed_cached = Percentiles::of(times);
    let long = "The pod was evicted because the node ran out of memory and the kubelet reclaimed resources. ".repeat(20);
    let mut times = vec![];
    for i in 0..10 {
        let t = Instant::now();
        embedder.embed(&[format!("{i} {long}")]).await?;
        times.push(t.elapsed());
    }
    let embed_long = Percentiles::of(times);
    let bulk: Vec<String> = (0..32).map(|i| format!("{} {}", QUERIES[i % QUERIES.len()], &long[..(200 + 37 * i).min(long.len())])).collect();
    let t = Instant::now();
    embedder.embed(&bulk).await?;
    let embed_bulk_per_text = t.elapsed() / 32;

    Ok(BenchReport {
        entries,
        fill_secs,
        search,
        search_filtered,
        recall_at_5,
        embed_first,
        embed_uncached,
        embed_cached,
        embed_long,
        embed_bulk_per_text,
        threads: candle_core::utils::get_num_threads(),
        debug_build: cfg!(debug_assertions),
    })
}

/// Drops and refills the benchmark schema, then builds the indexes the migration builds.
async fn fill(pool: &PgPool, model: &str, options: &BenchOptions) -> Result<(), Error> {
    let schema = &options.schema;
    for sql in [
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
        // No indexes yet: building HNSW once over all rows is much faster than growing it.
        format!("CREATE TABLE {schema}.knowledge_entries (LIKE knowledge_entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"),
        format!("CREATE TABLE {schema}.knowledge_feedback (LIKE knowledge_feedback INCLUDING ALL)"),
    ] {
        sqlx::query(AssertSqlSafe(sql)).execute(pool).await?;
    }
    let centres = centres(options.seed, options.entries);
    let mut rng = Rng(options.seed);
    let mut n = 0;
    while n < options.entries {
        let rows = (options.entries - n).min(500);
        let mut qb = QueryBuilder::new(format!(
            "INSERT INTO {schema}.knowledge_entries (id, title, content, category, tags, embedding, embedding_model, prior_confidence, confidence) "
        ));
        qb.push_values(n..n + rows, |mut b, i| {
            b.push_bind(uuid::Uuid::new_v4())
                .push_bind(format!("bench entry {i}"))
                .push_bind(format!("synthetic entry {i} for the knowledge benchmark"))
                .push_bind(CATEGORIES[i % CATEGORIES.len()])
                .push_bind(vec![format!("t{}", i % 50)])
                .push_bind(rng.near(&centres[i % centres.len()]))
                .push_unseparated("::real[]::vector")
                .push_bind(model.to_owned())
                .push_bind(0.5f32)
                .push_bind(0.5f32);
        });
        qb.build().execute(pool).await?;
        n += rows;
    }
    let mut conn = pool.acquire().await?;
    // The graph of 50k x 384 floats does not fit the default 64 MB: building it in memory
    // is several times faster than on disk.
    sqlx::query("SET maintenance_work_mem = '512MB'").execute(&mut *conn).await?;
    for sql in [
        format!("CREATE INDEX ON {schema}.knowledge_entries USING hnsw (embedding vector_cosine_ops)"),
        format!("CREATE INDEX ON {schema}.knowledge_entries (category)"),
        format!("CREATE INDEX ON {schema}.knowledge_entries USING gin (tags)"),
        format!("ANALYZE {schema}.knowledge_entries"),
        "RESET maintenance_work_mem".to_owned(),
    ] {
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Share of the exact top 5 (sequential scan) that the index returns.
async fn recall(kb: &KnowledgeBase, pool: &PgPool, table: &str, queries: &[Vec<f32>]) -> Result<f64, Error> {
    let mut hits = 0usize;
    let mut total = 0usize;
    for q in queries {
        let approx: Vec<uuid::Uuid> = kb.search_by_vector(q, 5, 0.0, &ListFilter::default()).await?.into_iter().map(|m| m.entry.id).collect();
        let mut tx = pool.begin().await?;
        sqlx::query("SET LOCAL enable_indexscan = off").execute(&mut *tx).await?;
        let exact: Vec<uuid::Uuid> =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {table} ORDER BY embedding <=> $1::real[]::vector LIMIT 5")))
                .bind(q.as_slice())
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        hits += exact.iter().filter(|id| approx.contains(id)).count();
        total += exact.len();
    }
    Ok(if total == 0 { 1.0 } else { hits as f64 / total as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_sample() {
        let p = Percentiles::of((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!((p.p50, p.p95, p.p99, p.max), (Duration::from_millis(50), Duration::from_millis(95), Duration::from_millis(99), Duration::from_millis(100)));
        assert_eq!(Percentiles::of(vec![Duration::from_millis(7)]).p99, Duration::from_millis(7));
    }

    #[test]
    fn synthetic_vectors_are_unit_length_reproducible_and_near_their_centre() {
        let (a, b) = (Rng(7).unit_vector(), Rng(7).unit_vector());
        assert_eq!(a, b);
        assert_eq!(a.len(), DIMS);
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
        let near = Rng(8).near(&a);
        assert!((dot(&near, &near) - 1.0).abs() < 1e-4);
        let cos = dot(&near, &a);
        assert!((0.7..0.9).contains(&cos), "{cos}");
        assert_eq!(centres(1, 50_000).len(), 1000);
    }
}
