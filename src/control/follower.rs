//! The follower: keeps one proxy's policy in step with the store.
//!
//! It wakes on every new revision (LISTEN/NOTIFY or polling, see `Store::watch`) and at
//! least once a second. When a change touched a project, it reads every project, compiles
//! them and installs the result (one atomic swap; the sweep then closes what was revoked).
//! When the change log was pruned past the follower's revision, it reloads everything.
//! When the store cannot be read, the last policy stays in force, temporary users and
//! entries still expire by the clock, and `/metrics` shows how stale the policy is.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::policy::{compile, group_items, CompileOptions};
use super::store::{Revision, Store, StoreError};
use crate::config::now_unix;
use crate::proxy::server::live::Live;

/// The follower checks the store at least this often (and reports staleness).
const TICK: Duration = Duration::from_secs(1);

/// Where the follower is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncState {
    /// The revision the policy in force was built from (None: never synced).
    pub revision: Option<Revision>,
    /// Unix seconds of the last successful read of the store.
    pub last_ok: Option<i64>,
    /// When following started (staleness counts from here until a first success).
    pub since: i64,
}

/// Brings the proxy up to date with the store once. Returns the revision it is now
/// current with. Compiling warnings are logged.
pub async fn sync_once(
    store: &Store,
    live: &Live,
    opts: &CompileOptions,
    synced: Option<Revision>,
) -> Result<Revision, StoreError> {
    let rev = store.revision().await?;
    if let Some(done) = synced {
        if rev == done {
            return Ok(rev);
        }
        // Writes that touch no project (events, tokens) leave the data plane alone. When
        // the change log was pruned past `done`, what changed is unknown: reload.
        if let Some(changes) = store.changes_since(done).await? {
            if !changes.iter().any(|c| c.key.starts_with("groups/")) {
                return Ok(changes.last().map_or(rev, |c| c.revision.max(rev)));
            }
        }
    }
    // One read of every project: a consistent snapshot at least as new as `rev`.
    let items = store.list("groups/").await?;
    let (projects, mut warnings) = group_items(&items);
    let compiled = compile(&projects, opts, now_unix());
    warnings.extend(compiled.warnings);
    for w in &warnings {
        warn!(store.revision = rev, "control plane: {w}");
    }
    let users: usize = compiled
        .desired
        .projects
        .iter()
        .map(|(p, _)| p.users.len())
        .sum();
    let clusters = compiled.desired.clusters.len();
    let generation = live.install(compiled.desired).await;
    info!(
        store.revision = rev,
        policy.generation = generation,
        projects = projects.len(),
        clusters,
        users,
        "policy updated from the control-plane store"
    );
    Ok(rev)
}

/// Marks the proxy as store-managed and follows the store until `shutdown` turns true.
/// Call it after an initial [`sync_once`] so the proxy never serves the empty startup
/// policy longer than needed (it refuses everyone, so that is safe, just unhelpful).
pub fn start_follower(
    store: Store,
    live: Live,
    opts: CompileOptions,
    synced: Option<Revision>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    live.set_store_mode();
    let stats = &live.stats().control_plane;
    stats.enabled.store(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut state = SyncState {
            revision: synced,
            last_ok: synced.map(|_| now_unix()),
            since: now_unix(),
        };
        let mut feed = store.watch();
        loop {
            state = step(&store, &live, &opts, state).await;
            tokio::select! {
                _ = feed.changed() => {}
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    })
}

async fn step(store: &Store, live: &Live, opts: &CompileOptions, state: SyncState) -> SyncState {
    let stats = &live.stats().control_plane;
    let now = now_unix();
    let next = match sync_once(store, live, opts, state.revision).await {
        Ok(rev) => {
            stats.store_up.store(1, Ordering::Relaxed);
            stats.revision.store(rev, Ordering::Relaxed);
            SyncState {
                revision: Some(rev),
                last_ok: Some(now),
                ..state
            }
        }
        Err(e) => {
            stats.store_up.store(0, Ordering::Relaxed);
            stats.sync_failures.fetch_add(1, Ordering::Relaxed);
            warn!(error = %e, "control-plane store unreachable; enforcing the last policy");
            state
        }
    };
    let age = (now - next.last_ok.unwrap_or(next.since)).max(0) as u64;
    stats.sync_age_seconds.store(age, Ordering::Relaxed);
    next
}
