//! Store mode: the control plane's follower installs each project's policy and the
//! cluster layout on the running proxy. New clusters' listeners open, deleted clusters'
//! listeners close and their connections are swept; nothing restarts.
//!
//! Only the follower calls [`Live::install`]; the data plane reads the results through
//! the same atomic loads as in file mode (the policy cell and each listener's route).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::config::{now_unix, ClusterConfig, Config, ConfigError, UpstreamUri};
use crate::gates::access_list::Strictness;
use crate::proxy::server::accept;
use crate::proxy::server::running::{bind, Shared};
use crate::proxy::server::sni::Route;
use crate::proxy::state::policy::{Policy, ProjectPolicy};
use crate::proxy::upstream::Cluster;

/// Per-process state of the live layout (a field of [`Shared`]).
#[derive(Default)]
pub struct LiveState {
    store_mode: AtomicBool,
    acceptor: OnceLock<TlsAcceptor>,
    shared_route: OnceLock<Arc<Route>>,
    layout: Mutex<Layout>,
    /// Every cluster with a pool that a layout created (added, or replaced by a changed
    /// record), weakly: shutdown drains those still alive, as it drains the pools of the
    /// clusters started with the process.
    pooled: Mutex<Vec<Weak<Cluster>>>,
}

#[derive(Default)]
struct Layout {
    clusters: HashMap<String, Arc<Cluster>>,
    own: HashMap<SocketAddr, OwnListener>,
}

struct OwnListener {
    route: Arc<Route>,
    bound: SocketAddr,
    task: JoinHandle<()>,
}

impl LiveState {
    /// Whether policy comes from the control-plane store (file reloads then only swap
    /// certificates).
    pub fn store_mode(&self) -> bool {
        self.store_mode.load(Ordering::Acquire)
    }

    /// The pooled clusters layouts created that are still alive (served, or still used by
    /// connections of a cluster since replaced).
    pub(crate) fn pooled_clusters(&self) -> Vec<Arc<Cluster>> {
        lock(&self.pooled)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    fn remember_pools(&self, clusters: &[(ClusterConfig, Arc<Cluster>)]) {
        let mut pooled = lock(&self.pooled);
        pooled.retain(|w| w.strong_count() > 0);
        for (_, c) in clusters.iter().filter(|(_, c)| c.pool().is_some()) {
            if !pooled
                .iter()
                .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(c)))
            {
                pooled.push(Arc::downgrade(c));
            }
        }
    }

    pub(crate) fn init(&self, acceptor: TlsAcceptor, shared_route: Arc<Route>) {
        let _ = self.acceptor.set(acceptor);
        let _ = self.shared_route.set(shared_route);
    }
}

/// What the control plane wants served.
pub struct Desired {
    /// Each project's policy and the names of its clusters.
    pub projects: Vec<(ProjectPolicy, Vec<String>)>,
    /// Every cluster of every project, validated.
    pub clusters: Vec<(ClusterConfig, UpstreamUri)>,
}

/// A handle on a running proxy for the control plane.
#[derive(Clone)]
pub struct Live {
    pub(crate) shared: Arc<Shared>,
}

impl Live {
    /// Switches the proxy to store-managed policy. Until the first [`Live::install`] the
    /// policy it started with (empty: everyone refused) stays in force.
    pub fn set_store_mode(&self) {
        self.shared.live.store_mode.store(true, Ordering::Release);
    }

    /// The process counters (the follower reports its sync state there).
    pub fn stats(&self) -> &crate::proxy::state::stats::Stats {
        &self.shared.stats
    }

    /// Turns true when the proxy shuts down.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.shutdown.clone()
    }

    /// The generation in force.
    pub fn generation(&self) -> u64 {
        self.shared.policy.generation()
    }

    /// Installs a new generation: policy first (a new cluster finds its project), then
    /// the routes and listeners; then sweeps, which closes what the policy revoked
    /// (including every connection of a deleted cluster). Returns the generation.
    pub async fn install(&self, desired: Desired) -> u64 {
        let shared = &self.shared;
        let on_revoke = shared.policy.load().on_revoke;
        let policy = shared
            .policy
            .install(|g| Policy::from_projects(desired.projects, on_revoke, g));
        self.apply_layout(&desired.clusters).await;
        shared.sweep_now.notify_one();
        policy.generation
    }

    /// Bound listeners of clusters with their own `listen`: (cluster names, address).
    pub fn cluster_addrs(&self) -> Vec<(Vec<String>, SocketAddr)> {
        let layout = lock(&self.shared.live.layout);
        let mut out: Vec<_> = layout
            .own
            .values()
            .map(|l| (l.route.cluster_names(), l.bound))
            .collect();
        out.sort_by_key(|(_, a)| *a);
        out
    }

    async fn apply_layout(&self, wanted: &[(ClusterConfig, UpstreamUri)]) {
        let shared = &self.shared;
        let own = {
            let mut layout = lock(&shared.live.layout);
            let clusters = reuse_or_create(&layout.clusters, wanted);
            shared.live.remember_pools(&clusters);
            layout.clusters = clusters
                .iter()
                .map(|(_, c)| (c.name.clone(), c.clone()))
                .collect();
            let plan = plan(&clusters);
            if let Some(route) = shared.live.shared_route.get() {
                route.set(plan.shared);
            }
            // Listeners no longer wanted stop accepting now; their connections are
            // closed by the sweep if their cluster is gone.
            layout.own.retain(|addr, l| {
                let keep = plan.own.contains_key(addr);
                if !keep {
                    info!(listen.addr = %l.bound, "cluster listener closed");
                    l.task.abort();
                }
                keep
            });
            let mut to_bind = Vec::new();
            for (addr, list) in plan.own {
                match layout.own.get(&addr) {
                    Some(l) => l.route.set(list),
                    None => to_bind.push((addr, list)),
                }
            }
            to_bind
        };
        for (addr, list) in own {
            self.open_listener(addr, list).await;
        }
    }

    async fn open_listener(&self, addr: SocketAddr, list: Vec<(Vec<String>, Arc<Cluster>)>) {
        let shared = &self.shared;
        let Some(acceptor) = shared.live.acceptor.get().cloned() else {
            return;
        };
        let names: Vec<String> = list.iter().map(|(_, c)| c.name.clone()).collect();
        let (listener, bound) = match bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                // Retried on the next change; the cluster is unreachable meanwhile.
                warn!(listen.addr = %addr, clusters = ?names, error = %e, "cannot open cluster listener");
                return;
            }
        };
        let route = Arc::new(Route::from_clusters(list));
        let task = tokio::spawn(accept::accept_loop(
            listener,
            Some(acceptor),
            route.clone(),
            shared.clone(),
        ));
        info!(listen.addr = %bound, clusters = ?names, "cluster listener opened");
        lock(&shared.live.layout)
            .own
            .insert(addr, OwnListener { route, bound, task });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave the layout half-written in a way that matters more
    // than stopping the data plane would.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps the running `Cluster` (its upstream state) when its configuration is unchanged.
fn reuse_or_create(
    running: &HashMap<String, Arc<Cluster>>,
    wanted: &[(ClusterConfig, UpstreamUri)],
) -> Vec<(ClusterConfig, Arc<Cluster>)> {
    wanted
        .iter()
        .map(|(c, u)| {
            let cluster = match running.get(&c.name) {
                Some(r) if r.same_config(c) => r.clone(),
                _ => {
                    let fresh = Cluster::new(c, u);
                    let probe = fresh.clone();
                    tokio::spawn(async move {
                        if let Err(e) = probe.probe().await {
                            warn!(cluster.name = %probe.name, error = %e, "upstream not reachable yet");
                        }
                    });
                    fresh
                }
            };
            (c.clone(), cluster)
        })
        .collect()
}

type RouteList = Vec<(Vec<String>, Arc<Cluster>)>;

struct Plan {
    shared: RouteList,
    own: HashMap<SocketAddr, RouteList>,
}

/// Which listener serves which cluster: its own `listen`, and the shared listeners when
/// it has no listener of its own or has SNI names. A cluster whose SNI name another
/// cluster on the same listener already uses is left off that listener (the control
/// plane's API refuses such writes; this keeps a bad record from taking others down).
fn plan(clusters: &[(ClusterConfig, Arc<Cluster>)]) -> Plan {
    let mut out = Plan {
        shared: Vec::new(),
        own: HashMap::new(),
    };
    for (c, cluster) in clusters {
        let entry = (c.sni.clone(), cluster.clone());
        if c.listen.is_none() || !c.sni.is_empty() {
            push_unique(&mut out.shared, entry.clone(), "the shared listeners");
        }
        let Some(addr) = c
            .listen
            .as_deref()
            .and_then(|a| a.parse::<SocketAddr>().ok())
        else {
            continue;
        };
        let list = out.own.entry(addr).or_default();
        push_unique(list, entry, &addr.to_string());
    }
    out
}

fn push_unique(list: &mut RouteList, entry: (Vec<String>, Arc<Cluster>), on: &str) {
    let clash = |(names, _): &(Vec<String>, Arc<Cluster>)| {
        // Two clusters on one listener need distinct SNI names; one without names can
        // only be alone.
        names.is_empty() || entry.0.is_empty() || names.iter().any(|n| entry.0.contains(n))
    };
    if let Some((_, other)) = list.iter().find(|e| clash(e)) {
        warn!(cluster.name = %entry.1.name, other = %other.name, listener = %on, "cluster not routed: its SNI names clash with another cluster's on this listener");
        return;
    }
    list.push(entry);
}

/// A configuration reload in store mode: only the certificates (policy comes from the
/// store, listeners from the control plane).
pub fn reload_certs_only(shared: &Shared) -> Result<u64, ConfigError> {
    let config = Config::load_with(&shared.config_path, Strictness::Reload, now_unix())?;
    crate::proxy::server::control::reload_certs(shared, &config)?;
    info!("configuration reloaded (store mode: certificates only)");
    Ok(shared.policy.generation())
}
