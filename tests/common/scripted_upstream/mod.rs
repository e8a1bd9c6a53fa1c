//! A scripted in-process upstream that speaks the wire protocol honestly, for what the
//! harness's real upstream (nx-27017) does not offer: exhaust getMores (replies streamed
//! with `moreToCome`, each answering the previous one), tailable awaitData cursors woken
//! by inserts, fire-and-forget writes, and faults on demand (every connection killed at
//! once, a command delayed, a reply stalled halfway through its frame).
//!
//! It answers as a standalone mongod 8.0 without authentication (the harness's clusters
//! have no service login). OP_MSG checksums are verified on requests and mirrored on
//! replies; an OP_COMPRESSED request gets a reply compressed the same way. Counters let
//! a test see what reached the upstream: connections (open, peak, accepted) and commands
//! by name.
// Each test binary uses part of the double.
#![allow(dead_code)]

mod commands;
mod conn;
mod mongos;
pub mod replies;
pub mod scenarios;
mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

/// State shared by the double's connections and the test.
pub struct State {
    store: Mutex<store::Store>,
    /// Bumped on every insert: awaitData getMores wait on it.
    inserts: watch::Sender<u64>,
    /// Bumped by `kill_all`: every connection then closes.
    kills: watch::Sender<u64>,
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicUsize,
    awaiting: AtomicUsize,
    woken: AtomicUsize,
    compressed: AtomicUsize,
    checksummed: AtomicUsize,
    seen: Mutex<HashMap<String, usize>>,
    delays: Mutex<HashMap<String, Duration>>,
    /// Command name -> whole replies still to send before one is stalled.
    stalls: Mutex<HashMap<String, usize>>,
    /// Command name -> the error every such command is answered with.
    failures: Mutex<HashMap<String, (i32, &'static str)>>,
    /// The requestID of every request, in arrival order.
    request_ids: Mutex<Vec<i32>>,
    /// Plays a mongos behind a balancer: each connection is another mongos (`mongos`).
    mongos: AtomicBool,
    /// Cursor id -> the connection that opened it (mongos mode).
    cursor_conns: Mutex<HashMap<i64, usize>>,
    /// lsid id -> the connection of the transaction's first statement (mongos mode).
    txns: Mutex<HashMap<Vec<u8>, usize>>,
    /// Requests refused for arriving on a connection other than their state's.
    misrouted: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    fn store(&self) -> MutexGuard<'_, store::Store> {
        lock(&self.store)
    }

    fn inserted(&self) {
        self.inserts.send_modify(|n| *n += 1);
    }

    fn saw(&self, name: &str) {
        *lock(&self.seen).entry(name.to_string()).or_default() += 1;
    }

    fn failure_for(&self, name: &str) -> Option<(i32, &'static str)> {
        lock(&self.failures).get(name).copied()
    }

    fn received(&self, request_id: i32) {
        lock(&self.request_ids).push(request_id);
    }

    fn delay_for(&self, name: &str) -> Option<Duration> {
        lock(&self.delays).get(name).copied()
    }

    /// Whether this reply to `name` is the one to stall (counts the replies let through).
    fn stalls(&self, name: &str) -> bool {
        match lock(&self.stalls).get_mut(name) {
            Some(0) => true,
            Some(left) => {
                *left -= 1;
                false
            }
            None => false,
        }
    }

    fn connected(&self) {
        self.accepted.fetch_add(1, SeqCst);
        let now = self.open.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
    }
}

pub struct ScriptedUpstream {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl ScriptedUpstream {
    pub async fn start() -> ScriptedUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            store: Mutex::new(store::Store::default()),
            inserts: watch::channel(0).0,
            kills: watch::channel(0).0,
            open: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            awaiting: AtomicUsize::new(0),
            woken: AtomicUsize::new(0),
            compressed: AtomicUsize::new(0),
            checksummed: AtomicUsize::new(0),
            seen: Mutex::new(HashMap::new()),
            delays: Mutex::new(HashMap::new()),
            stalls: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            request_ids: Mutex::new(Vec::new()),
            mongos: AtomicBool::new(false),
            cursor_conns: Mutex::new(HashMap::new()),
            txns: Mutex::new(HashMap::new()),
            misrouted: AtomicUsize::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                shared.connected();
                let id = shared.accepted.load(SeqCst);
                tokio::spawn(conn::serve(tcp, shared.clone(), id));
            }
        });
        ScriptedUpstream { addr, state }
    }

    /// The same double as a mongos behind an L4 balancer: hello says `isdbgrid`, and a
    /// cursor or transaction is only known on the connection that opened it.
    pub async fn start_mongos() -> ScriptedUpstream {
        let up = ScriptedUpstream::start().await;
        up.state.mongos.store(true, SeqCst);
        up
    }

    /// getMores, killCursors and transaction statements that reached a connection other
    /// than the one their cursor or transaction lives on (mongos mode).
    pub fn misrouted(&self) -> usize {
        self.state.misrouted.load(SeqCst)
    }

    /// Transactions started and not yet committed or aborted (mongos mode).
    pub fn open_transactions(&self) -> usize {
        lock(&self.state.txns).len()
    }

    pub fn uri(&self) -> String {
        format!("mongodb://{}", self.addr)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.state.open.load(SeqCst)
    }

    /// The most connections ever open at once.
    pub fn peak(&self) -> usize {
        self.state.peak.load(SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(SeqCst)
    }

    /// How many times a command named `name` arrived.
    pub fn seen(&self, name: &str) -> usize {
        lock(&self.state.seen).get(name).copied().unwrap_or(0)
    }

    /// awaitData getMores waiting for a document right now.
    pub fn awaiting(&self) -> usize {
        self.state.awaiting.load(SeqCst)
    }

    /// awaitData getMores an insert woke (rather than their maxTimeMS running out).
    pub fn woken_by_insert(&self) -> usize {
        self.state.woken.load(SeqCst)
    }

    /// Requests that arrived as OP_COMPRESSED.
    pub fn compressed(&self) -> usize {
        self.state.compressed.load(SeqCst)
    }

    /// Requests that carried a (valid) CRC-32C checksum.
    pub fn checksummed(&self) -> usize {
        self.state.checksummed.load(SeqCst)
    }

    /// Cursors open in the double.
    pub fn open_cursors(&self) -> usize {
        self.state.store().open_cursors()
    }

    /// Closes every connection now, whatever it is doing (the upstream was killed). The
    /// listener stays up: new connections are served as before.
    pub fn kill_all(&self) {
        self.state.kills.send_modify(|n| *n += 1);
    }

    /// Every `name` command waits `by` before it is answered (`None`: no more delay).
    pub fn delay(&self, name: &str, by: Option<Duration>) {
        let mut delays = lock(&self.state.delays);
        match by {
            Some(d) => delays.insert(name.to_string(), d),
            None => delays.remove(name),
        };
    }

    /// After `after` whole replies to `name` commands (an exhaust stream's replies each
    /// count), the next is written halfway and held until the connection is killed, and so
    /// is every later one. `None`: replies are whole again.
    pub fn stall(&self, name: &str, after: Option<usize>) {
        let mut stalls = lock(&self.state.stalls);
        match after {
            Some(n) => stalls.insert(name.to_string(), n),
            None => stalls.remove(name),
        };
    }

    /// Every `name` command is answered with this error (code, codeName); `None`: answered
    /// normally again. E.g. `(10107, "NotWritablePrimary")` plays a stepped-down primary.
    pub fn fail(&self, name: &str, with: Option<(i32, &'static str)>) {
        let mut failures = lock(&self.state.failures);
        match with {
            Some(f) => failures.insert(name.to_string(), f),
            None => failures.remove(name),
        };
    }

    /// The requestID of every request that arrived, in order (all connections).
    pub fn request_ids(&self) -> Vec<i32> {
        lock(&self.state.request_ids).clone()
    }

    /// Waits (up to `within`) until `cond` holds on the double; false when it never did.
    pub async fn until(&self, within: Duration, cond: impl Fn(&ScriptedUpstream) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while !cond(self) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

impl Drop for ScriptedUpstream {
    fn drop(&mut self) {
        // Ends the connections' tasks (and their stalls) with the test.
        self.kill_all();
    }
}
