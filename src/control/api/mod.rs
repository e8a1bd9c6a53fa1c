//! The admin API: HTTPS, shaped like the Atlas Administration API v2.
//!
//! Every handler authenticates the caller (`state::Caller`), asks the pure
//! [`crate::control::authz::authorize`], and writes its change and the change's event in
//! one `Store::apply` with an Expect on what it read (409 on a concurrent change).

mod access;
mod clusters;
mod dbusers;
pub mod error;
pub mod events;
pub mod extract;
mod groups;
pub mod oauth;
pub mod openapi;
pub mod paging;
pub mod responses;
mod roles;
mod sa_routes;
pub mod schemas;
pub mod server;
mod service_accounts;
pub mod state;
pub mod types;
pub mod validate;

pub use error::{ApiError, ApiErrorBody};

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::control::config::ControlPlaneConfig;
use crate::control::store::Store;
use crate::gates::throttle::{Throttle, ThrottleConfig};
use crate::ops::audit::Auditor;

/// Why the admin API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("[control_plane] listen: {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("[control_plane] needs at least one listen address")]
    NoListener,
    #[error("control-plane TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// What the admin API needs from the rest of the configuration.
pub struct ServeOptions<'a> {
    /// The data plane's `[tls]` pair, used when `[control_plane]` has no certificate.
    pub data_tls: (&'a Path, &'a Path),
    /// The data plane's shared listener, for connection strings of SNI-routed clusters.
    pub data_addr: Option<String>,
    /// The token endpoint's throttle (the `[auth.throttle]` settings of SCRAM).
    pub throttle: ThrottleConfig,
    pub auditor: Auditor,
}

/// Binds `[control_plane] listen` and serves the admin API until `shutdown` resolves.
/// Answers the serving task and the bound addresses.
pub async fn serve(
    store: Store,
    cfg: &ControlPlaneConfig,
    opts: ServeOptions<'_>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(JoinHandle<()>, Vec<SocketAddr>), ServeError> {
    if cfg.listen.is_empty() {
        return Err(ServeError::NoListener);
    }
    let (cert, key) = match (&cfg.tls_cert_file, &cfg.tls_key_file) {
        (Some(c), Some(k)) => (c.as_path(), k.as_path()),
        _ => opts.data_tls,
    };
    let (tls, _certs) = crate::tls::server_config(cert, key)?;
    let tls = server::http_tls((*tls).clone());
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for addr in &cfg.listen {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.clone(),
                source,
            })?;
        addrs.push(l.local_addr().map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?);
        listeners.push(l);
    }
    let state = Arc::new(state::AppState::new(
        store,
        opts.auditor,
        Throttle::new(opts.throttle),
        opts.data_addr,
    ));
    for a in &addrs {
        tracing::info!(listen.addr = %a, "control-plane API listening (HTTPS)");
    }
    let task = server::serve_tls(listeners, tls, server::router(state), shutdown).await;
    Ok((task, addrs))
}

/// `mongoward run` with `[control_plane] listen`: serves the admin API from the store the
/// data plane follows, until the instance shuts down. `Ok(None)` without a listener.
pub async fn start_for(
    config: &crate::config::Config,
    running: &crate::proxy::Running,
    store: Store,
) -> Result<Option<(JoinHandle<()>, Vec<SocketAddr>)>, ServeError> {
    let Some(cp) = &config.file.control_plane else {
        return Ok(None);
    };
    if cp.listen.is_empty() {
        return Ok(None);
    }
    let opts = ServeOptions {
        data_tls: (&config.file.tls.cert_file, &config.file.tls.key_file),
        data_addr: running.tls_addrs.first().map(ToString::to_string),
        throttle: config.file.auth.throttle.clone(),
        auditor: running.auditor().clone(),
    };
    let mut stop = running.live().shutdown_signal();
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
    };
    serve(store, cp, opts, shutdown).await.map(Some)
}
