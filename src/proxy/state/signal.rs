//! How the rest of the proxy tells one session to stop: a flag and a waker, no lock.
//!
//! The session loop waits for its next message and for this signal at once, on every
//! message. tokio's `Notify` and `watch` take a mutex each time such a wait is polled;
//! this takes none, so the message path stays lock-free.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// Why a session is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The proxy is shutting down: finish the message under way, then close.
    Drain,
    /// The policy no longer admits the connection: close now.
    Revoked,
}

// 0: running (the default).
const DRAIN: u8 = 1;
const REVOKED: u8 = 2;

/// A one-way stop signal for one session.
#[derive(Default)]
pub struct StopSignal {
    state: AtomicU8,
    waker: AtomicWaker,
}

impl StopSignal {
    /// Asks the session to stop; a revocation outranks a drain. Returns whether this
    /// raised the stop to `why` (false when it was already there or higher), so a
    /// caller that reports the stop reports it once.
    pub fn raise(&self, why: Stop) -> bool {
        let to = match why {
            Stop::Drain => DRAIN,
            Stop::Revoked => REVOKED,
        };
        let before = self.state.fetch_max(to, Ordering::AcqRel);
        self.waker.wake();
        before < to
    }

    /// The stop asked for so far, if any.
    pub fn raised(&self) -> Option<Stop> {
        self.reached(DRAIN)
    }

    /// Resolves once a stop has been raised (at once if it already was).
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            signal: self,
            at_least: DRAIN,
        }
    }

    /// Resolves once the session is revoked; a drain alone does not wake it.
    pub fn wait_revoked(&self) -> Wait<'_> {
        Wait {
            signal: self,
            at_least: REVOKED,
        }
    }

    fn reached(&self, at_least: u8) -> Option<Stop> {
        match self.state.load(Ordering::Acquire) {
            s if s < at_least => None,
            DRAIN => Some(Stop::Drain),
            _ => Some(Stop::Revoked),
        }
    }
}

/// The future of [`StopSignal::wait`]; cheap to create and poll on every message.
pub struct Wait<'a> {
    signal: &'a StopSignal,
    at_least: u8,
}

impl Future for Wait<'_> {
    type Output = Stop;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Stop> {
        if let Some(s) = self.signal.reached(self.at_least) {
            return Poll::Ready(s);
        }
        // Register first, then look again: a raise between the two checks still wakes us.
        self.signal.waker.register(cx.waker());
        match self.signal.reached(self.at_least) {
            Some(s) => Poll::Ready(s),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_raised_signal_resolves_waiters_and_revocation_wins() {
        let s = std::sync::Arc::new(StopSignal::default());
        assert_eq!(s.raised(), None);
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(s.raise(Stop::Drain), "the first drain raises");
        assert!(!s.raise(Stop::Drain), "a second drain is no news");
        assert_eq!(waiter.await.ok(), Some(Stop::Drain));
        let revoked = tokio::spawn({
            let s = s.clone();
            async move { s.wait_revoked().await }
        });
        tokio::task::yield_now().await;
        assert!(
            !revoked.is_finished(),
            "a drain does not count as a revocation"
        );
        assert!(s.raise(Stop::Revoked), "a revocation outranks the drain");
        assert!(!s.raise(Stop::Revoked), "revoked once");
        assert_eq!(revoked.await.ok(), Some(Stop::Revoked));
        assert!(
            !s.raise(Stop::Drain),
            "a drain after a revocation changes nothing"
        );
        assert_eq!(s.wait().await, Stop::Revoked);
    }
}
