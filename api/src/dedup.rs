//! The dedup window: a repeated alert inside it is answered without touching Temporal.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Workflow ids seen recently (cheap to clone).
#[derive(Clone)]
pub struct DedupWindow {
    ttl: Duration,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl DedupWindow {
    /// A window of `ttl`.
    pub fn new(ttl: Duration) -> Self {
        DedupWindow { ttl, seen: Arc::default() }
    }

    /// Whether `id` was recorded within the window.
    pub fn contains(&self, id: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(id).is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// Records `id` now; drops expired entries once the map grows.
    pub fn record(&self, id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            let ttl = self.ttl;
            seen.retain(|_, t| t.elapsed() < ttl);
        }
        seen.insert(id.to_owned(), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_only() {
        let w = DedupWindow::new(Duration::from_millis(50));
        assert!(!w.contains("a"));
        w.record("a");
        assert!(w.contains("a"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!w.contains("a"));
    }
}
