//! The running proxy's process state and its start: the state every connection shares,
//! the listeners it binds, and graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use super::{accept, control, limits, live, sni};
use crate::config::Config;
use crate::proxy::state::policy::PolicyCell;
use crate::proxy::state::services::{Identity, Services};
use crate::proxy::state::{cursors, stats};
use crate::proxy::upstream::Cluster;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("audit: {0}")]
    Audit(#[from] crate::ops::audit::AuditError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// State shared by every connection. Read-mostly; nothing here is locked per message.
/// What sessions read is in `services` (reached through `Deref` as well).
pub struct Shared {
    pub services: Arc<Services>,
    pub clusters: Vec<Arc<Cluster>>,
    pub shutdown: watch::Receiver<bool>,
    /// Live connections, for revocation sweeps (not touched per message).
    pub sessions: DashMap<i64, Arc<crate::proxy::state::handle::SessionHandle>>,
    pub config_path: PathBuf,
    pub proxy_protocol: bool,
    pub proxy_trusted: Vec<IpNet>,
    /// Listeners bound at startup (a reload cannot move them).
    pub listen: Vec<SocketAddr>,
    pub plaintext_listen: Vec<SocketAddr>,
    /// The serving certificate; a reload swaps it for new handshakes.
    pub certs: Arc<crate::tls::CertStore>,
    /// Store mode: the cluster layout the control plane installs (see `live`).
    pub live: live::LiveState,
    pub(super) sweep_now: Notify,
    /// Serialises configuration reloads (never taken on the message path).
    pub(super) reload_lock: std::sync::Mutex<()>,
    pub(super) next_conn_id: AtomicI64,
    pub(super) active: AtomicUsize,
    pub(super) idle: Notify,
    pub(super) handshake_timeout: Duration,
    /// `server.max_connections` (or its default from the open-file limit).
    pub max_connections: usize,
    /// `server.max_connections_per_source`, with the live counts.
    pub per_source: Option<limits::PerSource>,
}

impl std::ops::Deref for Shared {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

/// Decrements the live-connection count when a connection task ends, however it ends.
pub(super) struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    /// Counts a new connection, or None when `max_connections` are already served.
    pub(super) fn try_new(shared: &Arc<Shared>) -> Option<ActiveGuard> {
        let max = shared.max_connections;
        shared
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        shared
            .stats
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        Some(ActiveGuard(shared.clone()))
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A started proxy.
pub struct Running {
    /// Bound TLS listener addresses (port 0 in the config becomes the real port here).
    pub tls_addrs: Vec<SocketAddr>,
    pub plaintext_addrs: Vec<SocketAddr>,
    /// Bound listeners of clusters with their own `listen`: (cluster names, address).
    pub cluster_addrs: Vec<(Vec<String>, SocketAddr)>,
    /// The bound `[metrics]` endpoint, if configured.
    pub metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl Running {
    /// Re-reads the configuration file now (what SIGHUP does).
    pub fn reload(&self) -> Result<u64, crate::config::ConfigError> {
        control::reload(&self.shared)
    }

    /// The policy generation in force.
    pub fn policy_generation(&self) -> u64 {
        self.shared.policy.load().generation
    }

    /// Cursors the proxy is tracking (opened and not yet exhausted, killed or expired).
    pub fn open_cursors(&self) -> usize {
        self.shared.cursors.len()
    }

    /// Process counters.
    pub fn stats(&self) -> &stats::Stats {
        &self.shared.stats
    }

    /// The metrics registry (what the `[metrics]` endpoint renders).
    pub fn metrics(&self) -> Arc<stats::Stats> {
        self.shared.stats.clone()
    }

    /// The handle the control plane's follower installs policy and clusters through.
    pub fn live(&self) -> live::Live {
        live::Live {
            shared: self.shared.clone(),
        }
    }

    /// The audit handle (tests flush it before reading the audit file).
    pub fn auditor(&self) -> &crate::ops::audit::Auditor {
        &self.shared.auditor
    }

    /// Number of client connections being served.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Resolves when no client connection is left.
    async fn idle(&self) {
        while self.shared.active.load(Ordering::Acquire) > 0 {
            let notified = self.shared.idle.notified();
            if self.shared.active.load(Ordering::Acquire) == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Stops accepting, asks sessions to finish, waits up to `drain` for them, then
    /// closes whatever is left.
    pub async fn shutdown(&self, drain: Duration) {
        let _ = self.stop.send(true);
        // Sessions registered after this pass see the flag themselves (accept::serve).
        for s in self.shared.sessions.iter() {
            s.value().drain();
        }
        if tokio::time::timeout(drain, self.idle()).await.is_err() {
            warn!(
                remaining = self.active_connections(),
                "drain timeout reached; closing remaining connections"
            );
            // Sessions still waiting (on a hung upstream, say) close now rather than
            // outliving the drain; they watch this signal in every wait.
            for s in self.shared.sessions.iter() {
                s.value().close_now();
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.idle()).await;
        }
        // In-flight requests are done: pooled upstream connections close now, those of
        // the clusters the control plane added or changed as well.
        let layouts = self.shared.live.pooled_clusters();
        for cluster in self.shared.clusters.iter().chain(&layouts) {
            if let Some(pool) = cluster.pool() {
                pool.drain();
            }
        }
        self.shared.auditor.flush().await;
    }
}

/// Binds every listener and starts serving.
pub async fn start(config: &Config) -> Result<Running, StartError> {
    let (tls, certs) =
        crate::tls::server_config(&config.file.tls.cert_file, &config.file.tls.key_file)?;
    let (stop, shutdown) = watch::channel(false);
    let clusters: Vec<_> = config
        .clusters
        .iter()
        .map(|(c, u)| Cluster::new(c, u))
        .collect();
    let stats = Arc::new(stats::Stats::default());
    stats.record_startup(1);
    stats.record_access_list(&config.access_list, crate::config::now_unix());
    let (auditor, _writer) = crate::ops::audit::Auditor::start_counted(
        &config.file.audit,
        stats.audit_events_dropped.clone(),
    )?;
    let services = Arc::new(Services {
        identity: Identity {
            service_id: bson::oid::ObjectId::new(),
        },
        stats,
        auditor,
        policy: PolicyCell::new(config),
        cursors: cursors::CursorRegistry::default(),
        throttle: Arc::new(std::sync::Mutex::new(
            crate::gates::throttle::Throttle::new(config.file.auth.throttle.clone()),
        )),
        fake_secret: random_secret(),
        idle_timeout: match config.file.server.idle_timeout_secs {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        },
        login_timeout: match config.file.server.login_timeout_secs {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        },
        max_message_size: config.file.server.max_message_size_bytes,
    });
    let shared = Arc::new(Shared {
        services,
        clusters,
        shutdown,
        sessions: DashMap::new(),
        config_path: config.path.clone(),
        proxy_protocol: config.file.server.proxy_protocol,
        proxy_trusted: config.proxy_trusted.clone(),
        listen: config.listen.clone(),
        plaintext_listen: config.plaintext_listen.clone(),
        certs,
        live: live::LiveState::default(),
        sweep_now: Notify::new(),
        reload_lock: std::sync::Mutex::new(()),
        next_conn_id: AtomicI64::new(1),
        active: AtomicUsize::new(0),
        idle: Notify::new(),
        handshake_timeout: Duration::from_secs(config.file.server.handshake_timeout_secs.max(1)),
        max_connections: max_connections(config),
        per_source: config
            .file
            .server
            .max_connections_per_source
            .map(limits::PerSource::new),
    });
    for w in &config.warnings {
        warn!("{w}");
    }
    for cluster in &shared.clusters {
        // Request mode: the pool's upkeep (and `min_idle` spares) from the start, and its
        // metrics before the first request.
        cluster.start_upkeep(&shared.stats.cluster(&cluster.name));
        let c = cluster.clone();
        tokio::spawn(async move {
            match c.probe().await {
                Ok(info) => {
                    info!(cluster.name = %c.name, upstream.version = %info.version, "upstream reachable")
                }
                Err(e) => {
                    warn!(cluster.name = %c.name, error = %e, "upstream not reachable yet; clients will get errors until it is")
                }
            }
        });
    }
    tokio::spawn(control::sweeper(shared.clone()));
    tokio::spawn(control::watch_file(shared.clone()));
    let acceptor = TlsAcceptor::from(tls);
    let (tls_addrs, plaintext_addrs, cluster_addrs) =
        bind_listeners(config, &acceptor, &shared).await?;
    let metrics_addr = match &config.file.metrics {
        Some(m) => Some(metrics_listener(m.listen, &shared).await?),
        None => None,
    };
    Ok(Running {
        tls_addrs,
        plaintext_addrs,
        cluster_addrs,
        metrics_addr,
        shared,
        stop,
    })
}

/// Bound addresses: TLS and plaintext shared listeners, then clusters' own listeners.
type Bound = (
    Vec<SocketAddr>,
    Vec<SocketAddr>,
    Vec<(Vec<String>, SocketAddr)>,
);

/// Binds the shared listeners (SNI routing among their clusters) and the clusters' own.
async fn bind_listeners(
    config: &Config,
    acceptor: &TlsAcceptor,
    shared: &Arc<Shared>,
) -> Result<Bound, StartError> {
    let shared_route = Arc::new(sni::Route::new(
        config,
        &shared.clusters,
        &config.routing.shared,
    ));
    shared.live.init(acceptor.clone(), shared_route.clone());
    let mut tls_addrs = Vec::new();
    for addr in &config.listen {
        let (tls, route) = (Some(acceptor.clone()), shared_route.clone());
        tls_addrs.push(listen(*addr, tls, route, shared.clone()).await?);
    }
    let mut plaintext_addrs = Vec::new();
    for addr in &config.plaintext_listen {
        let route = shared_route.clone();
        plaintext_addrs.push(listen(*addr, None, route, shared.clone()).await?);
    }
    let mut cluster_addrs = Vec::new();
    for (addr, indexes) in &config.routing.own {
        let route = Arc::new(sni::Route::new(config, &shared.clusters, indexes));
        let bound = listen(*addr, Some(acceptor.clone()), route, shared.clone()).await?;
        let names = indexes
            .iter()
            .filter_map(|&i| shared.clusters.get(i).map(|c| c.name.clone()))
            .collect();
        cluster_addrs.push((names, bound));
    }
    Ok((tls_addrs, plaintext_addrs, cluster_addrs))
}

/// Binds `addr`, reporting the address actually bound (port 0 becomes a real port).
pub(super) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok((listener, bound))
}

async fn listen(
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    route: Arc<sni::Route>,
    shared: Arc<Shared>,
) -> Result<SocketAddr, StartError> {
    let (listener, bound) = bind(addr).await?;
    info!(listen.addr = %bound, tls = tls.is_some(), "listening");
    tokio::spawn(accept::accept_loop(listener, tls, route, shared));
    Ok(bound)
}

/// `server.max_connections`, or the default the open-file limit allows; says which, and
/// warns when a configured cap needs more descriptors than the process may open.
fn max_connections(config: &Config) -> usize {
    let open_files = limits::open_file_limit();
    let max = match config.file.server.max_connections {
        Some(max) => {
            if let Some(n) = open_files.filter(|&n| limits::descriptors_needed(max) > n) {
                warn!(
                    server.max_connections = max,
                    open_files = n,
                    "max_connections needs more descriptors than the open-file limit allows: raise the limit (ulimit -n, LimitNOFILE) or lower the cap"
                );
            }
            max
        }
        None => limits::default_max_connections(open_files),
    };
    info!(server.max_connections = max, open_files = ?open_files, "connection cap");
    max
}

fn random_secret() -> [u8; 32] {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// Binds the `[metrics]` endpoint; it stops with the proxy's shutdown signal.
async fn metrics_listener(
    addr: SocketAddr,
    shared: &Arc<Shared>,
) -> Result<SocketAddr, StartError> {
    let (listener, bound) = bind(addr).await?;
    info!(metrics.addr = %bound, "metrics endpoint listening");
    tokio::spawn(crate::ops::metrics::serve(
        listener,
        shared.stats.clone(),
        shared.shutdown.clone(),
    ));
    Ok(bound)
}
