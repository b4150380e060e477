//! Time for the breaker, the rate limiter and the daily budget, injectable so tests move
//! it by hand instead of sleeping.

use chrono::{DateTime, Utc};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time since an arbitrary start.
    fn elapsed(&self) -> Duration;
    /// Wall-clock time (its UTC date keys the daily budget).
    fn now_utc(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock { start: Instant::now() }
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn now_utc(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    elapsed: Mutex<Duration>,
    start: DateTime<Utc>,
}

impl ManualClock {
    /// Stopped at `start` (wall clock).
    pub fn new(start: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock { elapsed: Mutex::new(Duration::ZERO), start })
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().expect("clock lock")
    }
    fn now_utc(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
    }
}

/// Adapts a [`Clock`] to governor's clock (instants are durations since the clock's start).
#[derive(Clone)]
pub(crate) struct RateClock(pub(crate) Arc<dyn Clock>);

impl governor::clock::Clock for RateClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}
