//! Slows and then refuses repeated authentication failures without letting an
//! attacker lock a real user out from elsewhere.
//!
//! Failures are keyed two ways, never by user name alone:
//! - by (user, source): after `free_failures` failures that pair is answered
//!   with a growing delay; a success from that pair clears it. Another source
//!   guessing the same user's password never slows the real user down.
//! - by source: many failures from one source across any users within a
//!   window get the source refused for a cooldown.
//!
//! Conversations run in parallel, so a check at the first step alone is not
//! enough: an attacker could start hundreds of conversations before the first
//! proof fails. So a conversation is admitted with a [`Ticket`]
//! ([`Throttle::begin`], which caps unfinished conversations per source), and
//! right before its proof is verified it takes a place in the source's failure
//! budget ([`Throttle::reserve`], which re-checks the source and the pair): the
//! place becomes a failure, or is released by a success ([`Throttle::finish`]).
//! Failures plus proofs in verification never exceed the budget.
//!
//! IPv6 sources are grouped by prefix (default /64), since one host usually
//! owns a whole /64. Pure: the caller passes `now_ms` from a monotonic clock.

mod lru;

use lru::LruMap;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Longest user-name prefix kept as a key; longer names share an entry with
/// their prefix, which only ever merges an attacker's own counters.
const MAX_USER_KEY_BYTES: usize = 256;

/// Throttle settings (`[throttle]` in the config file); every field optional.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Failures a (user, source) pair may have before attempts are delayed.
    /// Default 3.
    pub free_failures: u32,
    /// Delay after `free_failures` failures; doubles with each further
    /// failure. Default 250 ms.
    pub base_delay_ms: u64,
    /// Cap for the per-pair delay. Default 5000 ms (reached after 8 failures).
    pub max_delay_ms: u64,
    /// A pair's failures are forgotten this long after its last failure.
    /// Default 900000 ms (15 minutes).
    pub pair_forget_ms: u64,
    /// Failures from one source (any users) within `source_window_ms` that
    /// get the source refused. Default 20.
    pub source_max_failures: u32,
    /// Fixed counting window for `source_max_failures`. Default 60000 ms.
    pub source_window_ms: u64,
    /// How long a source is refused. Default 300000 ms (5 minutes).
    pub source_refuse_ms: u64,
    /// Entries kept per table (pairs, sources); the least recently touched
    /// is evicted beyond this. Default 65536.
    pub max_entries: usize,
    /// IPv6 sources are grouped by this prefix length. Default 64.
    pub ipv6_prefix_len: u8,
    /// Failures after which a (user, source) pair is refused outright until
    /// `pair_forget_ms` after its last failure. Counts the delayed attempts
    /// too, so a patient guesser cannot stay under the source window forever.
    /// Default 10; 0 turns the lockout off.
    pub pair_max_failures: u32,
    /// Unfinished conversations one source may have at once. Default 128; 0
    /// means no cap (the failure budget still bounds the proofs checked).
    pub source_max_concurrent: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 3,
            base_delay_ms: 250,
            max_delay_ms: 5_000,
            pair_forget_ms: 15 * 60_000,
            source_max_failures: 20,
            source_window_ms: 60_000,
            source_refuse_ms: 5 * 60_000,
            max_entries: 65_536,
            ipv6_prefix_len: 64,
            pair_max_failures: 10,
            source_max_concurrent: 128,
        }
    }
}

/// What to do with an authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Proceed now.
    Allow,
    /// Proceed, but only after waiting this many milliseconds.
    Delay(u64),
    /// Reject without trying the credentials.
    Refuse {
        retry_after_ms: u64,
        reason: Refusal,
    },
}

/// Why the throttle refused an attempt (for the audit log and the proxy's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source had too many failures and is cooling down.
    SourceCooldown,
    /// This (user, source) pair had `pair_max_failures` failures.
    PairLocked,
    /// The source has `source_max_concurrent` unfinished conversations.
    TooManyConcurrent,
    /// Failures plus proofs being verified already fill the source's window.
    WindowFull,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::SourceCooldown => "throttle: source refused after repeated failures",
            Refusal::PairLocked => "throttle: too many failures for this user from this source",
            Refusal::TooManyConcurrent => {
                "throttle: too many unfinished conversations from this source"
            }
            Refusal::WindowFull => "throttle: failure budget of this source spent",
        }
    }
}

/// One admitted conversation, counted against its source's concurrency cap
/// until it is passed back to [`Throttle::finish`] or [`Throttle::abandon`].
/// Not `Clone`: it is resolved exactly once.
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket {
    source: IpAddr,
    /// Holds a place in the source's failure budget (see [`Throttle::reserve`]).
    reserved: bool,
    /// Was answered with a delay once already.
    delayed: bool,
}

#[derive(Debug, Clone, Copy)]
struct PairState {
    failures: u32,
    last_failure_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct SourceState {
    window_start_ms: u64,
    failures: u32,
    refused_until_ms: u64,
    /// Conversations admitted and not yet finished or abandoned.
    in_flight: u32,
    /// Proofs being verified now, each holding a place in the failure budget.
    verifying: u32,
}

impl SourceState {
    fn new(now_ms: u64) -> SourceState {
        SourceState {
            window_start_ms: now_ms,
            failures: 0,
            refused_until_ms: 0,
            in_flight: 0,
            verifying: 0,
        }
    }

    fn roll_window(&mut self, now_ms: u64, window_ms: u64) {
        if now_ms.saturating_sub(self.window_start_ms) >= window_ms {
            self.window_start_ms = now_ms;
            self.failures = 0;
        }
    }
}

/// Failure bookkeeping for the authentication gate.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    pairs: LruMap<(String, IpAddr), PairState>,
    sources: LruMap<IpAddr, SourceState>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            pairs: LruMap::new(config.max_entries),
            sources: LruMap::new(config.max_entries),
            config,
        }
    }

    /// Decides on an attempt before the credentials are checked (at the start
    /// and again right before a proof is verified). Does not count anything.
    pub fn check(&mut self, user: &str, ip: IpAddr, now_ms: u64) -> Verdict {
        let source = self.source_key(ip);
        self.check_source_key(user, source, now_ms)
    }

    fn check_source_key(&mut self, user: &str, source: IpAddr, now_ms: u64) -> Verdict {
        if let Some(state) = self.sources.get(&source) {
            if state.refused_until_ms > now_ms {
                // Capped so a clock that stepped backwards cannot stretch it.
                let left = state.refused_until_ms.saturating_sub(now_ms);
                return Verdict::Refuse {
                    retry_after_ms: left.min(self.config.source_refuse_ms),
                    reason: Refusal::SourceCooldown,
                };
            }
        }
        let pair = (user_key(user), source);
        let (failures, last) = match self.pairs.get(&pair) {
            Some(state) if !self.pair_expired(state, now_ms) => {
                (state.failures, state.last_failure_ms)
            }
            Some(_) => {
                self.pairs.remove(&pair);
                (0, 0)
            }
            None => (0, 0),
        };
        if self.config.pair_max_failures > 0 && failures >= self.config.pair_max_failures {
            let forget = self.config.pair_forget_ms;
            let left = forget.saturating_sub(now_ms.saturating_sub(last));
            return Verdict::Refuse {
                retry_after_ms: left.clamp(1, forget.max(1)),
                reason: Refusal::PairLocked,
            };
        }
        match self.delay_for(failures) {
            0 => Verdict::Allow,
            ms => Verdict::Delay(ms),
        }
    }

    /// Admits a new conversation: [`Throttle::check`], then the source's cap on
    /// unfinished conversations. Resolve the ticket with `finish` or `abandon`.
    pub fn begin(&mut self, user: &str, ip: IpAddr, now_ms: u64) -> (Verdict, Option<Ticket>) {
        let verdict = self.check(user, ip, now_ms);
        if let Verdict::Refuse { .. } = verdict {
            return (verdict, None);
        }
        let source = self.source_key(ip);
        let cap = self.config.source_max_concurrent;
        let src = self
            .sources
            .touch_or_insert_with(source, || SourceState::new(now_ms));
        if cap > 0 && src.in_flight >= cap {
            let refuse = Verdict::Refuse {
                retry_after_ms: 1_000,
                reason: Refusal::TooManyConcurrent,
            };
            return (refuse, None);
        }
        src.in_flight = src.in_flight.saturating_add(1);
        let ticket = Ticket {
            source,
            reserved: false,
            delayed: false,
        };
        (verdict, Some(ticket))
    }

    /// Right before a proof is verified: [`Throttle::check`] again (failures of
    /// parallel conversations since this one began count), then a place in the
    /// source's failure budget. Failures plus proofs being verified never exceed
    /// `source_max_failures`, however many conversations run in parallel. A delay
    /// verdict (at most one per ticket) is returned without reserving: wait it out
    /// and call again.
    pub fn reserve(&mut self, ticket: &mut Ticket, user: &str, now_ms: u64) -> Verdict {
        let verdict = match self.check_source_key(user, ticket.source, now_ms) {
            // One delay per conversation: waiting again for the failures of parallel
            // conversations would only stretch an attempt that the budget bounds anyway.
            Verdict::Delay(_) if ticket.delayed => Verdict::Allow,
            Verdict::Delay(ms) => {
                ticket.delayed = true;
                return Verdict::Delay(ms);
            }
            v => v,
        };
        if verdict != Verdict::Allow || ticket.reserved {
            return verdict;
        }
        let cfg = &self.config;
        let src = self
            .sources
            .touch_or_insert_with(ticket.source, || SourceState::new(now_ms));
        src.roll_window(now_ms, cfg.source_window_ms);
        let budget = cfg.source_max_failures;
        // 0 keeps its old meaning (any failure refuses the source), not "no logins".
        if budget > 0 && src.failures.saturating_add(src.verifying) >= budget {
            let end = src.window_start_ms.saturating_add(cfg.source_window_ms);
            return Verdict::Refuse {
                retry_after_ms: end
                    .saturating_sub(now_ms)
                    .clamp(1, cfg.source_window_ms.max(1)),
                reason: Refusal::WindowFull,
            };
        }
        src.verifying = src.verifying.saturating_add(1);
        ticket.reserved = true;
        Verdict::Allow
    }

    /// Resolves a conversation whose proof was verified (`success`) or failed.
    pub fn finish(&mut self, ticket: Ticket, user: &str, success: bool, now_ms: u64) {
        let source = ticket.source;
        self.release(ticket);
        if success {
            self.pairs.remove(&(user_key(user), source));
        } else {
            self.count_failure(user, source, now_ms);
        }
    }

    /// Resolves a conversation that ended without a verdict on a proof
    /// (connection closed, malformed step, refused by the throttle).
    pub fn abandon(&mut self, ticket: Ticket) {
        self.release(ticket);
    }

    fn release(&mut self, ticket: Ticket) {
        if let Some(src) = self.sources.get_mut(&ticket.source) {
            src.in_flight = src.in_flight.saturating_sub(1);
            if ticket.reserved {
                src.verifying = src.verifying.saturating_sub(1);
            }
        }
    }

    /// Records a failed authentication from `ip` for `user` outside a ticket.
    pub fn record_failure(&mut self, user: &str, ip: IpAddr, now_ms: u64) {
        let source = self.source_key(ip);
        self.count_failure(user, source, now_ms);
    }

    /// One failure for the pair and for the source's window.
    fn count_failure(&mut self, user: &str, source: IpAddr, now_ms: u64) {
        let forget = self.config.pair_forget_ms;
        let pair = self
            .pairs
            .touch_or_insert_with((user_key(user), source), || PairState {
                failures: 0,
                last_failure_ms: now_ms,
            });
        if now_ms.saturating_sub(pair.last_failure_ms) >= forget {
            pair.failures = 0;
        }
        pair.failures = pair.failures.saturating_add(1);
        pair.last_failure_ms = now_ms;

        let cfg = &self.config;
        let src = self
            .sources
            .touch_or_insert_with(source, || SourceState::new(now_ms));
        if src.refused_until_ms > now_ms {
            // Already refused for this burst; do not charge the next window.
            return;
        }
        src.roll_window(now_ms, cfg.source_window_ms);
        src.failures = src.failures.saturating_add(1);
        if src.failures >= cfg.source_max_failures {
            src.refused_until_ms = now_ms.saturating_add(cfg.source_refuse_ms);
            // Start afresh after the cooldown rather than refusing again on
            // the first new failure.
            src.failures = 0;
            src.window_start_ms = src.refused_until_ms;
        }
    }

    /// Records a successful authentication: clears the pair's failures. The
    /// source counter is kept, so one valid account cannot be used to launder
    /// guessing against other users from the same source.
    pub fn record_success(&mut self, user: &str, ip: IpAddr, _now_ms: u64) {
        let pair = (user_key(user), self.source_key(ip));
        self.pairs.remove(&pair);
    }

    /// Number of (pair, source) entries held, for metrics.
    pub fn entry_counts(&self) -> (usize, usize) {
        (self.pairs.len(), self.sources.len())
    }

    fn pair_expired(&self, state: &PairState, now_ms: u64) -> bool {
        now_ms.saturating_sub(state.last_failure_ms) >= self.config.pair_forget_ms
    }

    /// base * 2^(failures - free), capped; 0 while within the free failures.
    fn delay_for(&self, failures: u32) -> u64 {
        let cfg = &self.config;
        let Some(excess) = failures.checked_sub(cfg.free_failures) else {
            return 0;
        };
        let factor = 1u64.checked_shl(excess).unwrap_or(u64::MAX);
        cfg.base_delay_ms
            .saturating_mul(factor)
            .min(cfg.max_delay_ms)
    }

    /// Groups addresses the way one attacker controls them.
    fn source_key(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                // An IPv4 client seen through a dual-stack socket is one host.
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return IpAddr::V4(v4);
                }
                let prefix = u32::from(self.config.ipv6_prefix_len.clamp(1, 128));
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

fn user_key(user: &str) -> String {
    let mut end = user.len().min(MAX_USER_KEY_BYTES);
    while !user.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    user.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests;
