//! A circuit breaker: closed → open after N consecutive failures → half-open after a
//! cooldown (one probe at a time) → closed on the probe's success, open again on its
//! failure. Time comes from a [`Clock`], so tests move it instead of sleeping.
//!
//! Small on purpose: the crates around (failsafe, ...) read the system clock themselves,
//! and the three states fit in a page.

use super::clock::Clock;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; counts consecutive failures.
    Closed {
        /// Consecutive failures so far.
        failures: u32,
    },
    /// Calls are refused until the cooldown ends.
    Open {
        /// Time left before a probe is let through.
        retry_in: Duration,
    },
    /// The cooldown ended: one probe may go.
    HalfOpen {
        /// A probe is running now.
        probing: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Duration },
    HalfOpen { probing: bool },
}

/// The breaker.
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<Inner>,
}

/// Permission to make one call. Report its outcome with [`Permit::success`] or
/// [`Permit::failure`]; dropping it reports nothing (a cancelled call), and frees the
/// half-open probe slot.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    done: bool,
}

impl Breaker {
    /// Opens after `threshold` consecutive failures (at least 1), for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration, clock: Arc<dyn Clock>) -> Breaker {
        Breaker { threshold: threshold.max(1), cooldown, clock, state: Mutex::new(Inner::Closed { failures: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state now (an open breaker whose cooldown ended reads as half-open).
    pub fn state(&self) -> BreakerState {
        let now = self.clock.elapsed();
        match *self.lock() {
            Inner::Closed { failures } => BreakerState::Closed { failures },
            Inner::Open { until } if now < until => BreakerState::Open { retry_in: until - now },
            Inner::Open { .. } => BreakerState::HalfOpen { probing: false },
            Inner::HalfOpen { probing } => BreakerState::HalfOpen { probing },
        }
    }

    /// A permit for one call, or the time until one may be asked for again.
    pub fn acquire(&self) -> Result<Permit<'_>, Duration> {
        let now = self.clock.elapsed();
        let mut state = self.lock();
        match *state {
            Inner::Closed { .. } => Ok(Permit { breaker: self, probe: false, done: false }),
            Inner::Open { until } if now < until => Err(until - now),
            Inner::Open { .. } | Inner::HalfOpen { probing: false } => {
                *state = Inner::HalfOpen { probing: true };
                Ok(Permit { breaker: self, probe: true, done: false })
            }
            Inner::HalfOpen { probing: true } => Err(Duration::ZERO),
        }
    }

    fn record(&self, probe: bool, ok: bool) {
        let now = self.clock.elapsed();
        let mut state = self.lock();
        *state = match (*state, ok) {
            (_, true) => Inner::Closed { failures: 0 },
            // A late failure of a call let through before the breaker opened: keep it open.
            (Inner::Open { until }, false) if !probe => Inner::Open { until },
            (Inner::HalfOpen { .. }, false) | (Inner::Open { .. }, false) => Inner::Open { until: now + self.cooldown },
            (Inner::Closed { failures }, false) => {
                let failures = failures + 1;
                if failures >= self.threshold {
                    tracing::warn!(failures, cooldown_secs = self.cooldown.as_secs_f64(), "LLM circuit breaker opened");
                    Inner::Open { until: now + self.cooldown }
                } else {
                    Inner::Closed { failures }
                }
            }
        };
    }
}

impl Permit<'_> {
    /// The call succeeded.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(self.probe, true);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(self.probe, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            let mut state = self.breaker.lock();
            if let Inner::HalfOpen { probing: true } = *state {
                *state = Inner::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::clock::ManualClock;

    fn breaker(threshold: u32) -> (Breaker, Arc<ManualClock>) {
        let clock = ManualClock::new(chrono::Utc::now());
        (Breaker::new(threshold, Duration::from_secs(30), clock.clone()), clock)
    }

    #[test]
    fn opens_after_n_consecutive_failures_only() {
        let (b, _) = breaker(3);
        b.acquire().unwrap().failure();
        b.acquire().unwrap().failure();
        b.acquire().unwrap().success(); // resets the count
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        for _ in 0..2 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Closed { failures: 2 });
        b.acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open { retry_in: Duration::from_secs(30) });
        assert_eq!(b.acquire().err(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn half_opens_after_the_cooldown_and_lets_one_probe_through() {
        let (b, clock) = breaker(1);
        b.acquire().unwrap().failure();
        clock.advance(Duration::from_secs(29));
        assert_eq!(b.acquire().err(), Some(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), BreakerState::HalfOpen { probing: false });
        let probe = b.acquire().unwrap();
        assert_eq!(b.state(), BreakerState::HalfOpen { probing: true });
        assert_eq!(b.acquire().err(), Some(Duration::ZERO), "one probe at a time");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn a_failed_probe_opens_again_for_a_full_cooldown() {
        let (b, clock) = breaker(2);
        b.acquire().unwrap().failure();
        b.acquire().unwrap().failure();
        clock.advance(Duration::from_secs(31));
        b.acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open { retry_in: Duration::from_secs(30) });
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let (b, clock) = breaker(1);
        b.acquire().unwrap().failure();
        clock.advance(Duration::from_secs(30));
        drop(b.acquire().unwrap());
        assert_eq!(b.state(), BreakerState::HalfOpen { probing: false });
        assert!(b.acquire().is_ok());
    }
}
