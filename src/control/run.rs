//! Starting the control plane's data-plane side with `mongoward run`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::info;

use super::follower::{start_follower, sync_once};
use super::policy::CompileOptions;
use super::store::{Store, StoreError};
use crate::config::Config;
use crate::proxy::Running;

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
    let password = cp.password().map_err(StoreError::Invalid)?;
    let store = Store::open(&cp.store, password).await?;
    let live = running.live();
    live.set_store_mode();
    let opts = CompileOptions {
        base: config
            .path
            .parent()
            .map(Into::into)
            .unwrap_or_else(|| ".".into()),
        max_temporary_days: config.file.server.max_temporary_days,
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
    Ok(Some(ControlPlane { store, follower }))
}
