//! Rate-limited logging for warnings a peer can trigger at will (failed upstream connects,
//! malformed messages, failed accepts, refusals): a flood costs a counter, not a disk.
//!
//! ```ignore
//! static LOG: LogLimit = LogLimit::per_second(10);
//! if let Some(suppressed) = LOG.check(now_unix()) {
//!     warn!(log.suppressed = suppressed, "...");
//! }
//! ```

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// At most `burst` lines per window (one second unless said otherwise); the rest are
/// counted and reported with the next line that is let through. Lock-free; a `static`
/// per call site.
pub struct LogLimit {
    burst: u64,
    window_secs: i64,
    window: AtomicI64,
    count: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimit {
    pub const fn per_second(burst: u64) -> LogLimit {
        LogLimit::new(burst, 1)
    }

    /// `burst` lines per `window_secs` seconds (at least one).
    pub const fn new(burst: u64, window_secs: i64) -> LogLimit {
        LogLimit {
            burst,
            window_secs: if window_secs < 1 { 1 } else { window_secs },
            window: AtomicI64::new(i64::MIN),
            count: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)`: log this event, `n` lines having been held back since the last one
    /// logged; `None`: stay silent (counted). `now` is in seconds (passed in, testable).
    pub fn check(&self, now: i64) -> Option<u64> {
        let current = now.div_euclid(self.window_secs);
        let window = self.window.load(Ordering::Relaxed);
        if window != current
            && self
                .window
                .compare_exchange(window, current, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.count.store(0, Ordering::Relaxed);
        }
        if self.count.fetch_add(1, Ordering::Relaxed) < self.burst {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Whether to log this event (when the count of held-back lines is not wanted).
    pub fn allow(&self, now: i64) -> bool {
        self.check(now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_second_then_the_held_back_count() {
        let limit = LogLimit::per_second(3);
        let got: Vec<_> = (0..5).map(|_| limit.check(100)).collect();
        assert_eq!(got, [Some(0), Some(0), Some(0), None, None]);
        assert_eq!(
            limit.check(101),
            Some(2),
            "the next second reports what it held"
        );
        assert_eq!(limit.check(101), Some(0));
        assert!(limit.allow(101));
        assert!(!limit.allow(101));
        assert!(limit.allow(99), "a clock step back opens a new window");
    }

    #[test]
    fn longer_windows_count_whole_intervals() {
        let limit = LogLimit::new(2, 60);
        assert!(limit.allow(600) && limit.allow(659));
        assert_eq!(limit.check(659), None, "same minute");
        assert_eq!(limit.check(660), Some(1), "the next minute reports it");
    }

    #[test]
    fn concurrent_callers_never_exceed_the_burst_in_one_second() {
        let limit = std::sync::Arc::new(LogLimit::per_second(10));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let l = limit.clone();
                std::thread::spawn(move || (0..1000).filter(|_| l.allow(7)).count())
            })
            .collect();
        let logged: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(logged, 10);
    }
}
