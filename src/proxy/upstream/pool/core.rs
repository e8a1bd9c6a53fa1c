//! One cluster's upstream connection pool as a pure state machine: no I/O, no clock.
//! Every call takes the time as monotonic milliseconds and returns what the caller must do
//! (hand a connection out, open one, wait, close some). The driver (`super::driver`) owns
//! the sockets and performs those decisions.
//!
//! Capacity counts every connection that exists or is being opened: `in_use + idle +
//! opening <= max_size`. While anyone waits, no capacity is free and nothing is idle: a
//! freed slot or a returned connection goes to the oldest waiter first, so a newcomer never
//! overtakes the queue.

use std::collections::{HashMap, VecDeque};

pub use super::types::{
    Checkout, ConnId, CoreError, DiscardReason, Grant, Granted, Limits, Millis, Opened, Outcome,
    Released, Stats, Tick, WaiterId,
};

#[derive(Clone, Copy, Debug)]
struct IdleConn {
    id: ConnId,
    generation: u64,
    last_used: Millis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// The caller that got `Checkout::Open` (or a waiter's `Granted::Open`) uses it.
    Caller,
    /// A spare for `min_idle`.
    Spare,
}

#[derive(Clone, Copy, Debug)]
struct Waiter {
    id: WaiterId,
    deadline: Millis,
}

/// One pool's state.
#[derive(Debug)]
pub struct PoolCore {
    limits: Limits,
    generation: u64,
    draining: bool,
    /// Most recently used at the back: checkouts take from the back, so the surplus at the
    /// front ages out under `idle_timeout`.
    idle: VecDeque<IdleConn>,
    in_use: HashMap<ConnId, u64>,
    opening: HashMap<ConnId, (u64, Purpose)>,
    waiters: VecDeque<Waiter>,
    next_conn: ConnId,
    next_waiter: WaiterId,
    opened_total: u64,
    waits_total: u64,
    wait_timeouts_total: u64,
    discards: [u64; 8],
}

impl PoolCore {
    pub fn new(limits: Limits) -> PoolCore {
        PoolCore {
            limits: limits.normalized(),
            generation: 0,
            draining: false,
            idle: VecDeque::new(),
            in_use: HashMap::new(),
            opening: HashMap::new(),
            waiters: VecDeque::new(),
            next_conn: 1,
            next_waiter: 1,
            opened_total: 0,
            waits_total: 0,
            wait_timeouts_total: 0,
            discards: [0; 8],
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Connections that exist or are being opened.
    pub fn size(&self) -> usize {
        self.in_use.len() + self.idle.len() + self.opening.len()
    }

    /// A request for a connection.
    pub fn checkout(&mut self, now: Millis) -> Checkout {
        if self.draining {
            return Checkout::Closed;
        }
        // Idle connections are all of the current generation: bump_generation empties the
        // list and a stale connection coming back is discarded, never idled.
        if let Some(conn) = self.idle.pop_back() {
            self.in_use.insert(conn.id, conn.generation);
            return Checkout::Idle(conn.id);
        }
        if self.size() < self.limits.max_size {
            return Checkout::Open(self.reserve(Purpose::Caller));
        }
        if self.waiters.len() < self.limits.max_waiters {
            let waiter = Waiter {
                id: self.next_waiter,
                deadline: now.saturating_add(self.limits.wait_timeout_ms),
            };
            self.next_waiter += 1;
            self.waits_total += 1;
            self.waiters.push_back(waiter);
            return Checkout::Wait {
                waiter: waiter.id,
                deadline: waiter.deadline,
            };
        }
        Checkout::Full
    }

    /// An open finished. A caller's connection is in use by it; a spare goes to the oldest
    /// waiter or idles.
    pub fn opened(&mut self, id: ConnId, now: Millis) -> Result<Opened, CoreError> {
        let (generation, purpose) = self.opening.remove(&id).ok_or(CoreError::NotOpening(id))?;
        self.opened_total += 1;
        if generation != self.generation || self.draining {
            let reason = self.stale_reason();
            self.count_discard(reason);
            return Ok(Opened::Stale(Released {
                close: Some(reason),
                grant: self.grant_free_slot(),
            }));
        }
        if purpose == Purpose::Caller {
            self.in_use.insert(id, generation);
            return Ok(Opened::InUse);
        }
        self.in_use.insert(id, generation);
        match self.release(id, Outcome::Clean, now)?.grant {
            Some(grant) => Ok(Opened::Handoff(grant)),
            None => Ok(Opened::Idle),
        }
    }

    /// An open failed: the slot is free again (and may go to the oldest waiter).
    pub fn open_failed(&mut self, id: ConnId) -> Result<Option<Grant>, CoreError> {
        self.opening.remove(&id).ok_or(CoreError::NotOpening(id))?;
        Ok(self.grant_free_slot())
    }

    /// A borrowed connection comes back.
    pub fn checkin(
        &mut self,
        id: ConnId,
        outcome: Outcome,
        now: Millis,
    ) -> Result<Released, CoreError> {
        self.release(id, outcome, now)
    }

    fn release(
        &mut self,
        id: ConnId,
        outcome: Outcome,
        now: Millis,
    ) -> Result<Released, CoreError> {
        let generation = self.in_use.remove(&id).ok_or(CoreError::NotInUse(id))?;
        let reason = match outcome {
            Outcome::Discard(reason) => Some(reason),
            Outcome::Clean if self.draining => Some(DiscardReason::Drain),
            Outcome::Clean if generation != self.generation => Some(DiscardReason::StaleGeneration),
            Outcome::Clean => None,
        };
        if let Some(reason) = reason {
            self.count_discard(reason);
            return Ok(Released {
                close: Some(reason),
                grant: self.grant_free_slot(),
            });
        }
        if let Some(waiter) = self.waiters.pop_front() {
            self.in_use.insert(id, generation);
            let grant = Grant {
                waiter: waiter.id,
                granted: Granted::Conn(id),
            };
            return Ok(Released {
                close: None,
                grant: Some(grant),
            });
        }
        self.idle.push_back(IdleConn {
            id,
            generation,
            last_used: now,
        });
        Ok(Released::default())
    }

    /// A waiter gave up (its own timer, or its client left). False when it was no longer
    /// queued: it was granted or timed out already, and the caller must take that result.
    /// A waiter whose own timer ran out before `tick` saw it: leaves the queue and counts
    /// as a wait timeout. False when it was not waiting (served or timed out meanwhile).
    pub fn expire_wait(&mut self, waiter: WaiterId) -> bool {
        let gone = self.cancel_wait(waiter);
        if gone {
            self.wait_timeouts_total += 1;
        }
        gone
    }

    pub fn cancel_wait(&mut self, waiter: WaiterId) -> bool {
        let before = self.waiters.len();
        self.waiters.retain(|w| w.id != waiter);
        before != self.waiters.len()
    }

    /// Time-driven work: expired waits, idle connections past `idle_timeout` (never below
    /// `min_idle`), spares to open up to `min_idle`.
    pub fn tick(&mut self, now: Millis) -> Tick {
        let mut out = Tick::default();
        let (expired, kept): (VecDeque<Waiter>, VecDeque<Waiter>) =
            self.waiters.drain(..).partition(|w| w.deadline <= now);
        self.waiters = kept;
        self.wait_timeouts_total += expired.len() as u64;
        out.timed_out = expired.into_iter().map(|w| w.id).collect();
        if let Some(limit) = self.limits.idle_timeout_ms {
            while self.idle.len() > self.limits.min_idle {
                match self.idle.front() {
                    Some(c) if now.saturating_sub(c.last_used) >= limit => {
                        out.close.push(c.id);
                        self.idle.pop_front();
                        self.count_discard(DiscardReason::Idle);
                    }
                    _ => break,
                }
            }
        }
        if !self.draining {
            let spares = self
                .opening
                .values()
                .filter(|(_, p)| *p == Purpose::Spare)
                .count();
            while self.idle.len() + spares + out.open.len() < self.limits.min_idle
                && self.size() < self.limits.max_size
            {
                out.open.push(self.reserve(Purpose::Spare));
            }
        }
        out
    }

    /// A failover: later check-ins of older connections are discarded, and these idle ones
    /// must be closed now.
    pub fn bump_generation(&mut self) -> Vec<ConnId> {
        self.generation += 1;
        self.close_all_idle(DiscardReason::StaleGeneration)
    }

    /// Shutdown: refuse new checkouts, fail every waiter, close the idle connections; the
    /// ones in use are closed as they come back. Returns (waiters to fail, idle to close).
    pub fn drain(&mut self) -> (Vec<WaiterId>, Vec<ConnId>) {
        self.draining = true;
        let waiters = self.waiters.drain(..).map(|w| w.id).collect();
        (waiters, self.close_all_idle(DiscardReason::Drain))
    }

    pub fn stats(&self) -> Stats {
        Stats {
            size: self.size(),
            in_use: self.in_use.len(),
            idle: self.idle.len(),
            opening: self.opening.len(),
            waiting: self.waiters.len(),
            generation: self.generation,
            opened_total: self.opened_total,
            waits_total: self.waits_total,
            wait_timeouts_total: self.wait_timeouts_total,
            discards: self.discards,
        }
    }

    /// The generation a connection in use belongs to (None if it is not in use).
    pub fn generation_of(&self, id: ConnId) -> Option<u64> {
        self.in_use.get(&id).copied()
    }

    fn close_all_idle(&mut self, reason: DiscardReason) -> Vec<ConnId> {
        let ids: Vec<ConnId> = self.idle.drain(..).map(|c| c.id).collect();
        self.discards[reason.index()] += ids.len() as u64;
        ids
    }

    fn stale_reason(&self) -> DiscardReason {
        if self.draining {
            DiscardReason::Drain
        } else {
            DiscardReason::StaleGeneration
        }
    }

    fn reserve(&mut self, purpose: Purpose) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.opening.insert(id, (self.generation, purpose));
        id
    }

    /// A slot just freed: the oldest waiter may open a connection in it.
    fn grant_free_slot(&mut self) -> Option<Grant> {
        if self.draining || self.size() >= self.limits.max_size {
            return None;
        }
        let waiter = self.waiters.pop_front()?;
        Some(Grant {
            waiter: waiter.id,
            granted: Granted::Open(self.reserve(Purpose::Caller)),
        })
    }

    fn count_discard(&mut self, reason: DiscardReason) {
        self.discards[reason.index()] += 1;
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "core_props.rs"]
mod props;
