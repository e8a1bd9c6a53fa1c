//! Starting the control plane's data-plane side with `mongoward run`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::info;

use super::follower::{start_follower, sync_once};
use super::policy::CompileOptions;
use super::store::{Store, StoreError};
use crate::config::Config;
use crate::proxy::Running;

/// How often each instance prunes the change log.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The store-mode half of a running instance.
pub struct ControlPlane {
    /// The opened store (cp-api's admin API serves from the same handle).
    pub store: Store,
    pub follower: JoinHandle<()>,
}

/// With `[control_plane]`: opens the store (migrations run), installs the store's policy
/// and clusters on `running` and starts following the store. Without it: `Ok(None)`.
pub async fn start(config: &Config, running: &Running) -> Result<Option<ControlPlane>, StoreError> {
    let Some(cp) = &config.file.control_plane else {
        return Ok(None);
    };
    let store = cp.open_store().await?;
    let live = running.live();
    live.set_store_mode();
    let opts = CompileOptions {
        base: config
            .path
            .parent()
            .map(Into::into)
            .unwrap_or_else(|| ".".into()),
        max_temporary_days: config.file.server.max_temporary_days,
        cluster_pool: cp.cluster_pool.clone(),
    };
    // A first sync before serving; if the store hiccups right now, the follower retries.
    let synced = tokio::time::timeout(
        Duration::from_secs(10),
        sync_once(&store, &live, &opts, None),
    )
    .await
    .ok()
    .and_then(Result::ok);
    info!(store.kind = store.kind(), store.revision = ?synced, "control-plane store opened");
    let follower = start_follower(
        store.clone(),
        live.clone(),
        opts,
        synced,
        live.shutdown_signal(),
    );
    start_pruner(store.clone(), cp.changes_keep, live.shutdown_signal());
    Ok(Some(ControlPlane { store, follower }))
}

/// Prunes the change log every [`PRUNE_EVERY`] until `shutdown` turns true. Every instance
/// runs one; the prune is idempotent and short.
fn start_pruner(store: Store, keep: u64, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match store.prune_changes(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(store.pruned = n, "store.changes.pruned"),
                Err(e) => tracing::debug!(error = %e, "store.changes.prune_failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PRUNE_EVERY) => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    });
}
