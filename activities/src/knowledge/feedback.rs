//! How feedback moves an entry's numbers.
//!
//! Each piece of feedback is one use of the entry that either helped (`success`) or not:
//!
//! ```text
//! usage_count'   = usage_count + 1
//! success_count' = success_count + (success ? 1 : 0)
//! success_rate'  = success_count' / usage_count'
//! confidence'    = (K · prior + success_count') / (K + usage_count')      K = PRIOR_WEIGHT = 5
//! ```
//!
//! `confidence` is the mean of a Beta posterior whose prior is the author's confidence
//! worth `K` uses: a new entry starts at its prior, a handful of reports nudge it, and
//! after many reports it approaches the observed success rate. It always stays in [0, 1],
//! and never depends on the order the feedback arrived in.

/// How many uses the author's confidence is worth.
pub const PRIOR_WEIGHT: f64 = 5.0;

/// Usage numbers of one entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The author's confidence, 0..1.
    pub prior: f32,
    /// Feedback received.
    pub usage_count: i64,
    /// Feedback that said the entry helped.
    pub success_count: i64,
}

impl Stats {
    /// The numbers after one more piece of feedback.
    pub fn after(self, success: bool) -> Stats {
        Stats { usage_count: self.usage_count + 1, success_count: self.success_count + i64::from(success), ..self }
    }

    /// Share of uses that helped (0 before any feedback).
    pub fn success_rate(&self) -> f32 {
        if self.usage_count == 0 { 0.0 } else { (self.success_count as f64 / self.usage_count as f64) as f32 }
    }

    /// The prior blended with the feedback (see the module docs).
    pub fn confidence(&self) -> f32 {
        ((PRIOR_WEIGHT * f64::from(self.prior) + self.success_count as f64) / (PRIOR_WEIGHT + self.usage_count as f64)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(prior: f32) -> Stats {
        Stats { prior, usage_count: 0, success_count: 0 }
    }

    #[test]
    fn a_new_entry_has_its_authors_confidence_and_no_success_rate() {
        assert_eq!(fresh(0.8).confidence(), 0.8);
        assert_eq!(fresh(0.8).success_rate(), 0.0);
    }

    #[test]
    fn one_failure_lowers_confidence_by_the_weight_of_one_use_in_six() {
        let s = fresh(0.8).after(false);
        assert_eq!((s.usage_count, s.success_count), (1, 0));
        assert_eq!(s.success_rate(), 0.0);
        assert!((s.confidence() - 4.0 / 6.0).abs() < 1e-6, "{}", s.confidence());
    }

    #[test]
    fn many_successes_approach_certainty_and_many_failures_approach_zero() {
        let (mut up, mut down) = (fresh(0.5), fresh(0.5));
        for _ in 0..95 {
            up = up.after(true);
            down = down.after(false);
        }
        assert!((up.confidence() - 97.5 / 100.0).abs() < 1e-6);
        assert!((down.confidence() - 2.5 / 100.0).abs() < 1e-6);
        assert_eq!(up.success_rate(), 1.0);
    }

    #[test]
    fn the_order_of_feedback_does_not_matter() {
        let a = fresh(0.7).after(true).after(false).after(true);
        let b = fresh(0.7).after(false).after(true).after(true);
        assert_eq!(a, b);
        assert!((a.success_rate() - 2.0 / 3.0).abs() < 1e-6);
        assert!((a.confidence() - (3.5 + 2.0) / 8.0).abs() < 1e-6);
    }
}
