//! The async pool: glues `PoolCore`'s decisions to real connections. The core decides;
//! this file opens (through a `Connector`), hands connections to waiters over oneshot
//! channels, bounds every wait with `tokio::time`, and closes connections by dropping them.
//!
//! A `Lease` returns its connection when dropped, as a discard, unless it was returned with
//! `Lease::clean`: a request cut short (a client that vanished, a cancelled future) can
//! never put a connection with unread bytes back in the pool.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use super::lease::Lease;

use super::core::{
    Checkout, ConnId, CoreError, DiscardReason, Grant, Granted, Limits, Millis, Opened, Outcome,
    PoolCore, Released, Stats, WaiterId,
};

/// Opens one connection when the pool says so (the pool decides when and how many).
pub trait Connector: Send + Sync + 'static {
    type Conn: Send + 'static;
    type Error: std::error::Error + Send + Sync + 'static;
    fn connect(&self) -> impl Future<Output = Result<Self::Conn, Self::Error>> + Send;
}

/// Why `Pool::get` gave no connection.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("timed out after {waited_ms} ms waiting for an upstream connection (pool max_size {max_size})")]
    WaitTimeout { waited_ms: u64, max_size: usize },
    #[error("too many requests waiting for an upstream connection (pool max_size {max_size}, max_waiters {max_waiters})")]
    QueueFull { max_size: usize, max_waiters: usize },
    #[error("the upstream pool is closed")]
    Closed,
    #[error("cannot open an upstream connection: {0}")]
    Connect(Box<dyn std::error::Error + Send + Sync>),
    #[error("upstream pool state: {0}")]
    Core(#[from] CoreError),
}

/// What a waiter receives.
enum Delivery<T> {
    Conn(ConnId, T),
    Open(ConnId),
}

struct State<T> {
    core: PoolCore,
    idle: HashMap<ConnId, T>,
    waiters: HashMap<WaiterId, oneshot::Sender<Delivery<T>>>,
}

struct Inner<C: Connector> {
    connector: C,
    state: Mutex<State<C::Conn>>,
    epoch: Instant,
}

/// One cluster's pool. Cheap to clone (shared).
pub struct Pool<C: Connector> {
    inner: Arc<Inner<C>>,
}

impl<C: Connector> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

/// One attempt's result: a lease, an error, or "try again" (a connection opened for an
/// older generation, which is never handed out).
enum Attempt<C: Connector> {
    Done(Result<Lease<C>, PoolError>),
    Retry,
}

impl<C: Connector> Pool<C> {
    pub fn new(connector: C, limits: Limits) -> Pool<C> {
        Pool {
            inner: Arc::new(Inner {
                connector,
                state: Mutex::new(State {
                    core: PoolCore::new(limits),
                    idle: HashMap::new(),
                    waiters: HashMap::new(),
                }),
                epoch: Instant::now(),
            }),
        }
    }

    /// A connection for one request, waiting at most `wait_timeout_ms` for a free one.
    /// Opening a new connection is bounded by the connector itself (the cluster's
    /// `connect_timeout_secs`), not by the wait.
    pub async fn get(&self) -> Result<Lease<C>, PoolError> {
        let limits = self.limits();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(limits.wait_timeout_ms);
        loop {
            if let Attempt::Done(result) = self.attempt(deadline).await {
                return result;
            }
            if Instant::now() >= deadline {
                return Err(self.wait_timeout(start));
            }
        }
    }

    async fn attempt(&self, deadline: Instant) -> Attempt<C> {
        let start = Instant::now();
        let next = {
            let mut st = self.lock();
            let now = self.now();
            match st.core.checkout(now) {
                Checkout::Idle(id) => match st.idle.remove(&id) {
                    Some(conn) => return Attempt::Done(Ok(self.lease(id, conn))),
                    None => {
                        // The core and the map disagree (a bug): free the slot, report it.
                        let discard = Outcome::Discard(DiscardReason::Error);
                        if let Ok(r) = st.core.checkin(id, discard, now) {
                            settle(&mut st, None, r, now, &mut Vec::new());
                        }
                        return Attempt::Done(Err(CoreError::NotInUse(id).into()));
                    }
                },
                Checkout::Open(id) => Ok(id),
                Checkout::Wait { waiter, .. } => {
                    let (tx, rx) = oneshot::channel();
                    st.waiters.insert(waiter, tx);
                    Err(Some(Waiting {
                        pool: self.clone(),
                        waiter,
                        rx: Some(rx),
                    }))
                }
                Checkout::Full => Err(None),
                Checkout::Closed => return Attempt::Done(Err(PoolError::Closed)),
            }
        };
        let waiting = match next {
            Ok(id) => return self.open_for_caller(id).await,
            Err(Some(waiting)) => waiting,
            Err(None) => {
                let l = self.limits();
                return Attempt::Done(Err(PoolError::QueueFull {
                    max_size: l.max_size,
                    max_waiters: l.max_waiters,
                }));
            }
        };
        match waiting.wait_until(deadline).await {
            Some(Delivery::Conn(id, conn)) => Attempt::Done(Ok(self.lease(id, conn))),
            Some(Delivery::Open(id)) => self.open_for_caller(id).await,
            None if self.lock().core.is_draining() => Attempt::Done(Err(PoolError::Closed)),
            None => Attempt::Done(Err(self.wait_timeout(start))),
        }
    }

    /// Opens the connection the core reserved for this caller.
    async fn open_for_caller(&self, id: ConnId) -> Attempt<C> {
        let mut guard = OpenGuard {
            pool: self.clone(),
            id: Some(id),
        };
        let result = self.inner.connector.connect().await;
        guard.id = None;
        let mut close = Vec::new();
        let attempt = {
            let mut st = self.lock();
            let now = self.now();
            match result {
                Err(e) => {
                    let grant = st.core.open_failed(id).ok().flatten();
                    settle(&mut st, None, released_grant(grant), now, &mut close);
                    Attempt::Done(Err(PoolError::Connect(Box::new(e))))
                }
                Ok(conn) => match st.core.opened(id, now) {
                    Ok(Opened::InUse) => Attempt::Done(Ok(self.lease(id, conn))),
                    Ok(Opened::Stale(r)) => {
                        settle(&mut st, Some((id, conn)), r, now, &mut close);
                        Attempt::Retry
                    }
                    Ok(Opened::Idle | Opened::Handoff(_)) | Err(_) => {
                        close.push(conn);
                        Attempt::Done(Err(CoreError::NotOpening(id).into()))
                    }
                },
            }
        };
        drop(close);
        attempt
    }

    /// Time-driven upkeep: fails expired waits, closes connections idle too long, opens
    /// spares up to `min_idle`. Call it periodically (e.g. every second).
    pub async fn maintain(&self) {
        let (expired, to_open) = {
            let mut st = self.lock();
            let tick = st.core.tick(self.now());
            for w in &tick.timed_out {
                // Dropping the sender wakes the waiter with its timeout.
                st.waiters.remove(w);
            }
            let expired: Vec<_> = tick
                .close
                .iter()
                .filter_map(|id| st.idle.remove(id))
                .collect();
            (expired, tick.open)
        };
        drop(expired);
        for id in to_open {
            // If this upkeep is cancelled mid-connect, the guard frees the reservation.
            let mut guard = OpenGuard {
                pool: self.clone(),
                id: Some(id),
            };
            let result = self.inner.connector.connect().await;
            guard.id = None;
            self.spare_opened(id, result);
        }
    }

    fn spare_opened(&self, id: ConnId, result: Result<C::Conn, C::Error>) {
        let mut close = Vec::new();
        {
            let mut st = self.lock();
            let now = self.now();
            match result {
                Err(_) => {
                    let grant = st.core.open_failed(id).ok().flatten();
                    settle(&mut st, None, released_grant(grant), now, &mut close);
                }
                Ok(conn) => match st.core.opened(id, now) {
                    Ok(Opened::Idle) => {
                        st.idle.insert(id, conn);
                    }
                    Ok(Opened::Handoff(grant)) => {
                        let r = released_grant(Some(grant));
                        settle(&mut st, Some((id, conn)), r, now, &mut close);
                    }
                    Ok(Opened::Stale(r)) => settle(&mut st, Some((id, conn)), r, now, &mut close),
                    Ok(Opened::InUse) | Err(_) => close.push(conn),
                },
            }
        }
        drop(close);
    }

    /// A failover: idle connections close now; those in use are discarded when returned.
    /// Returns how many idle connections were closed.
    pub fn bump_generation(&self) -> usize {
        let closed: Vec<C::Conn> = {
            let mut st = self.lock();
            let ids = st.core.bump_generation();
            ids.iter().filter_map(|id| st.idle.remove(id)).collect()
        };
        closed.len()
    }

    /// Shutdown: refuses new requests, fails the waiting ones, closes idle connections;
    /// connections in use close as their leases end.
    pub fn drain(&self) {
        let closed: Vec<C::Conn> = {
            let mut st = self.lock();
            let (waiters, idle) = st.core.drain();
            for w in &waiters {
                st.waiters.remove(w);
            }
            idle.iter().filter_map(|id| st.idle.remove(id)).collect()
        };
        drop(closed);
    }

    pub fn stats(&self) -> Stats {
        self.lock().core.stats()
    }

    pub fn limits(&self) -> Limits {
        self.lock().core.limits()
    }

    pub(super) fn release(&self, id: ConnId, conn: C::Conn, outcome: Outcome) {
        let mut close = Vec::new();
        {
            let mut st = self.lock();
            let now = self.now();
            match st.core.checkin(id, outcome, now) {
                Ok(r) => settle(&mut st, Some((id, conn)), r, now, &mut close),
                Err(_) => close.push(conn),
            }
        }
        drop(close);
    }

    fn lease(&self, id: ConnId, conn: C::Conn) -> Lease<C> {
        Lease::new(self.clone(), id, conn)
    }

    fn wait_timeout(&self, start: Instant) -> PoolError {
        PoolError::WaitTimeout {
            waited_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            max_size: self.limits().max_size,
        }
    }

    fn now(&self) -> Millis {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Frees the slot an open reserved when nobody will use what it opens (the caller
    /// went away), handing it to the oldest waiter if there is one.
    fn abandon_open(&self, id: ConnId) {
        let mut close = Vec::new();
        let mut st = self.lock();
        let grant = st.core.open_failed(id).ok().flatten();
        settle(&mut st, None, released_grant(grant), self.now(), &mut close);
    }

    fn lock(&self) -> MutexGuard<'_, State<C::Conn>> {
        // The state stays consistent between calls (no call panics mid-update), so a
        // poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn released_grant(grant: Option<Grant>) -> Released {
    Released { close: None, grant }
}

/// Performs a check-in's decision under the lock: close, idle, or hand to a waiter. A
/// waiter that is gone gives back what it was handed, and the next one is tried.
/// Connections to close are pushed to `close` (dropped after the lock is released).
fn settle<T>(
    st: &mut State<T>,
    mut conn: Option<(ConnId, T)>,
    mut released: Released,
    now: Millis,
    close: &mut Vec<T>,
) {
    loop {
        if released.close.is_some() {
            close.extend(conn.take().map(|(_, c)| c));
        }
        let Some(grant) = released.grant else {
            if let Some((id, c)) = conn.take() {
                st.idle.insert(id, c);
            }
            return;
        };
        let delivery = match (grant.granted, conn.take()) {
            (Granted::Conn(id), Some((_, c))) => Delivery::Conn(id, c),
            (Granted::Conn(_), None) => return,
            (Granted::Open(id), leftover) => {
                close.extend(leftover.map(|(_, c)| c));
                Delivery::Open(id)
            }
        };
        let returned = match st.waiters.remove(&grant.waiter) {
            Some(tx) => match tx.send(delivery) {
                Ok(()) => return,
                Err(d) => d,
            },
            None => delivery,
        };
        released = match returned {
            Delivery::Conn(id, c) => {
                conn = Some((id, c));
                st.core
                    .checkin(id, Outcome::Clean, now)
                    .unwrap_or(Released {
                        close: Some(DiscardReason::Error),
                        grant: None,
                    })
            }
            Delivery::Open(id) => released_grant(st.core.open_failed(id).ok().flatten()),
        };
    }
}

/// A queued request. Dropped before it got its delivery (timed out, or the request was
/// cancelled), it leaves the queue, or gives back what it was handed meanwhile.
struct Waiting<C: Connector> {
    pool: Pool<C>,
    waiter: WaiterId,
    rx: Option<oneshot::Receiver<Delivery<C::Conn>>>,
}

impl<C: Connector> Waiting<C> {
    async fn wait_until(mut self, deadline: Instant) -> Option<Delivery<C::Conn>> {
        let rx = self.rx.as_mut()?;
        match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(delivery)) => {
                self.rx = None;
                Some(delivery)
            }
            // The pool dropped the sender: timed out by `maintain`, or drained.
            Ok(Err(_)) => None,
            Err(_) => self.give_up(true),
        }
    }

    /// Leaves the queue (`expired`: the wait timed out, counted); if a delivery raced the
    /// timer, it is taken after all.
    fn give_up(&mut self, expired: bool) -> Option<Delivery<C::Conn>> {
        let mut rx = self.rx.take()?;
        let mut st = self.pool.lock();
        let left = if expired {
            st.core.expire_wait(self.waiter)
        } else {
            st.core.cancel_wait(self.waiter)
        };
        if left {
            st.waiters.remove(&self.waiter);
            return None;
        }
        rx.try_recv().ok()
    }
}

impl<C: Connector> Drop for Waiting<C> {
    fn drop(&mut self) {
        let Some(delivery) = self.give_up(false) else {
            return;
        };
        match delivery {
            Delivery::Conn(id, conn) => self.pool.release(id, conn, Outcome::Clean),
            Delivery::Open(id) => self.pool.abandon_open(id),
        }
    }
}

/// Frees an open's reservation if the request is cancelled while it connects.
struct OpenGuard<C: Connector> {
    pool: Pool<C>,
    id: Option<ConnId>,
}

impl<C: Connector> Drop for OpenGuard<C> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.pool.abandon_open(id);
        }
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
