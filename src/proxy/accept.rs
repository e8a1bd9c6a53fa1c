//! The front door: accept, PROXY protocol (when configured), the access-list gate, TLS.
//!
//! The access list is checked on the TCP peer (or the PROXY header's source) before a
//! single TLS byte is read or written: a refused client costs one accept and one close.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::control::SessionHandle;
use super::io::Stream;
use super::session::{ConnInfo, Session};
use super::sni::{self, Route};
use super::stats::Stats;
use super::upstream::Cluster;
use super::{ActiveGuard, Shared};
use crate::config::now_unix;
use crate::gates::access_list::{Decision, DenyReason};
use crate::gates::proxy_protocol::{self, ProxyHeader};
use crate::ops::audit::{AuditEvent, ConnCtx};

/// Refusal log lines per second before they are summarised (a flood must stay cheap).
const REFUSAL_LOG_BURST: u64 = 20;

pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    route: Arc<Route>,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.clone();
    let limiter = Arc::new(LogLimiter::default());
    let fallback = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        if shared.proxy_protocol {
            let guard = ActiveGuard::new(shared.clone());
            tokio::spawn(serve_proxied(
                tcp,
                peer,
                tls.clone(),
                route.clone(),
                guard,
                limiter.clone(),
            ));
            continue;
        }
        // The listener's own address unless it is a wildcard (saves a syscall per accept).
        let local = if fallback.ip().is_unspecified() {
            tcp.local_addr().unwrap_or(fallback)
        } else {
            fallback
        };
        if let Some(gate) = admit(&shared, &route, peer, local, &limiter) {
            let guard = ActiveGuard::new(shared.clone());
            let conn = Conn {
                peer,
                client_ip: peer.ip(),
                tls: tls.clone(),
                route: route.clone(),
                gate,
                limiter: limiter.clone(),
            };
            tokio::spawn(serve(tcp, conn, guard));
        }
        // A refused socket is dropped here: closed with no TLS and no reply.
    }
}

/// Where an audit event about this connection happened.
/// The cluster is None while a shared listener has not read the SNI name yet.
fn conn_ctx(
    cluster: Option<&Cluster>,
    local: SocketAddr,
    remote: SocketAddr,
    id: Option<i64>,
) -> ConnCtx {
    ConnCtx {
        local,
        remote,
        cluster: cluster.map(|c| c.name.clone()),
        conn_id: id,
    }
}

/// What the accept loop knows about a connection it hands to `serve`.
struct Conn {
    peer: SocketAddr,
    client_ip: IpAddr,
    tls: Option<TlsAcceptor>,
    route: Arc<Route>,
    /// Whether the access list is still to be checked once the SNI name is known.
    gate: Gate,
    limiter: Arc<LogLimiter>,
}

/// Where the access list was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// On accept: the listener's clusters all belong to one project.
    Passed,
    /// The listener serves several projects: the project the SNI name selects decides,
    /// after reading the ClientHello and before any TLS crypto work.
    AfterSni,
}

fn deny_label(reason: DenyReason) -> &'static str {
    match reason {
        DenyReason::NoMatchingEntry => "noMatchingEntry",
        DenyReason::OnlyExpiredEntry => "onlyExpiredEntry",
        DenyReason::EmptyList => "emptyList",
    }
}

/// The network gate on accept, for a listener whose clusters share one project; a
/// listener shared by several projects defers to [`admit_routed`].
fn admit(
    shared: &Shared,
    route: &Route,
    client: SocketAddr,
    local: SocketAddr,
    limiter: &LogLimiter,
) -> Option<Gate> {
    let policy = shared.policy.load();
    let Some(project) = route.common_project(&policy) else {
        return Some(Gate::AfterSni);
    };
    let cluster = route.single();
    let ok = check(
        shared,
        &project.access,
        cluster.as_deref(),
        client,
        local,
        limiter,
    );
    ok.then_some(Gate::Passed)
}

/// The network gate once the SNI name has chosen the cluster (and so the project).
fn admit_routed(shared: &Shared, conn: &Conn, cluster: &Cluster, local: SocketAddr) -> bool {
    let policy = shared.policy.load();
    let client = SocketAddr::new(conn.client_ip, conn.peer.port());
    let access = policy.access(&cluster.name);
    check(shared, access, Some(cluster), client, local, &conn.limiter)
}

/// Checks one access list. Logs the refusal (rate-limited), counts and audits it.
fn check(
    shared: &Shared,
    access: &crate::gates::access_list::AccessList,
    cluster: Option<&Cluster>,
    client: SocketAddr,
    local: SocketAddr,
    limiter: &LogLimiter,
) -> bool {
    let ip = client.ip();
    match access.check(ip, now_unix()) {
        Decision::Allow { .. } => true,
        Decision::Deny(reason) => {
            Stats::inc(&shared.stats.connections_refused_access_list);
            // A refusal flood must stay cheap: build the event only when it goes somewhere.
            if shared.auditor.enabled() {
                let ctx = conn_ctx(cluster, local, client, None);
                shared
                    .auditor
                    .emit(AuditEvent::network_access_denied(&ctx, deny_label(reason)));
            }
            if limiter.allow() {
                info!(client.addr = %ip, reason = ?reason, "connection refused by the access list");
            }
            false
        }
    }
}

/// Reads the PROXY header (only from trusted load balancers), then applies the gate to
/// the client address it carries.
async fn serve_proxied(
    mut tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    route: Arc<Route>,
    guard: ActiveGuard,
    limiter: Arc<LogLimiter>,
) {
    let shared = guard.shared().clone();
    if !proxy_protocol::is_trusted(peer.ip(), &shared.proxy_trusted) {
        Stats::inc(&shared.stats.connections_refused_proxy_protocol);
        info!(client.addr = %peer, "PROXY protocol header from an untrusted peer; closing");
        return;
    }
    let header = tokio::time::timeout(shared.handshake_timeout, read_proxy_header(&mut tcp)).await;
    let client = match header {
        Ok(Ok(ProxyHeader::Proxied { source, .. })) => source,
        Ok(Ok(ProxyHeader::Local)) => peer,
        Ok(Err(e)) => {
            Stats::inc(&shared.stats.connections_refused_proxy_protocol);
            info!(client.addr = %peer, error = %e, "missing or malformed PROXY protocol header; closing");
            return;
        }
        Err(_) => {
            Stats::inc(&shared.stats.connections_refused_proxy_protocol);
            info!(client.addr = %peer, "PROXY protocol header timed out; closing");
            return;
        }
    };
    let local = tcp.local_addr().unwrap_or(peer);
    if let Some(gate) = admit(&shared, &route, client, local, &limiter) {
        let conn = Conn {
            peer,
            client_ip: client.ip(),
            tls,
            route,
            gate,
            limiter,
        };
        serve(tcp, conn, guard).await;
    }
}

/// Reads exactly the header's bytes, so the TLS ClientHello stays in the socket.
async fn read_proxy_header(tcp: &mut TcpStream) -> Result<ProxyHeader, String> {
    let mut buf = Vec::with_capacity(64);
    loop {
        match proxy_protocol::parse(&buf) {
            Ok(Some((_, header))) => return Ok(header),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        let want = proxy_protocol::bytes_wanted(&buf).max(1);
        let start = buf.len();
        buf.resize(start + want, 0);
        match tcp.read(&mut buf[start..]).await {
            Ok(0) | Err(_) => return Err("connection closed before the header".into()),
            Ok(n) => buf.truncate(start + n),
        }
    }
}

async fn serve(tcp: TcpStream, conn: Conn, guard: ActiveGuard) {
    let shared = guard.shared().clone();
    let _ = tcp.set_nodelay(true);
    let id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    let local = tcp.local_addr().unwrap_or(conn.peer);
    let peer = SocketAddr::new(conn.client_ip, conn.peer.port());
    let early = conn_ctx(conn.route.single().as_deref(), local, peer, Some(id));
    let Some((stream, cluster)) = handshake(&shared, &conn, tcp, &early).await else {
        return;
    };
    let ctx = conn_ctx(Some(&cluster), local, peer, Some(id));
    let handle = Arc::new(SessionHandle::new(conn.client_ip, &cluster.name, ctx));
    shared.sessions.insert(id, handle.clone());
    if *shared.shutdown.borrow() {
        handle.drain();
    }
    let _registered = Registered {
        shared: shared.clone(),
        id,
    };
    Stats::inc(&shared.stats.connections_accepted);
    debug!(conn.id = id, client.addr = %conn.client_ip, cluster.name = %cluster.name, "connection accepted");
    let info = ConnInfo {
        id,
        peer,
        local,
        cluster,
    };
    Session::new(info, shared, stream, handle).run().await;
    drop(guard);
}

/// TLS (when the listener has it) and the connection's cluster: the listener's only one,
/// or the one the SNI name selects on a shared listener.
async fn handshake(
    shared: &Shared,
    conn: &Conn,
    tcp: TcpStream,
    ctx: &ConnCtx,
) -> Option<(Stream, Arc<Cluster>)> {
    let single = conn.route.single();
    if let (Gate::AfterSni, Some(c)) = (conn.gate, &single) {
        // One cluster that no project claims (yet): its (closed) list decides.
        if !admit_routed(shared, conn, c, ctx.local) {
            return None;
        }
    }
    match (&conn.tls, single) {
        // Configuration refuses plaintext listeners with several clusters.
        (None, single) => single.map(|c| (Stream::Plain(tcp), c)),
        (Some(acceptor), Some(c)) => tls_accept(shared, acceptor.clone(), tcp, ctx)
            .await
            .map(|s| (s, c)),
        (Some(acceptor), None) => {
            let routed = async {
                let hello = sni::read_hello(&conn.route, tcp).await?;
                if conn.gate == Gate::AfterSni
                    && !admit_routed(shared, conn, &hello.cluster, ctx.local)
                {
                    return Err(sni::SniError::Refused);
                }
                let cluster = hello.cluster.clone();
                Ok((hello.complete(acceptor).await?, cluster))
            };
            let error = match tokio::time::timeout(shared.handshake_timeout, routed).await {
                Ok(Ok((s, c))) => {
                    Stats::inc(&shared.stats.tls_handshakes_ok);
                    return Some((Stream::ServerTls(Box::new(s)), c));
                }
                // Counted and audited by the gate; dropped without a TLS byte.
                Ok(Err(sni::SniError::Refused)) => return None,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "handshake timed out".to_string(),
            };
            tls_failed(shared, ctx, &error);
            None
        }
    }
}

async fn tls_accept(
    shared: &Shared,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    ctx: &ConnCtx,
) -> Option<Stream> {
    let error = match tokio::time::timeout(shared.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => {
            Stats::inc(&shared.stats.tls_handshakes_ok);
            return Some(Stream::ServerTls(Box::new(s)));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "handshake timed out".to_string(),
    };
    tls_failed(shared, ctx, &error);
    None
}

fn tls_failed(shared: &Shared, ctx: &ConnCtx, error: &str) {
    Stats::inc(&shared.stats.tls_handshake_failures);
    info!(conn.id = ctx.conn_id, client.addr = %ctx.remote, error = %error, "TLS handshake failed");
    shared.auditor.emit(AuditEvent::tls_failure(ctx, error));
}

/// Removes a connection from the registry however its task ends.
struct Registered {
    shared: Arc<Shared>,
    id: i64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.sessions.remove(&self.id);
    }
}

/// At most `REFUSAL_LOG_BURST` lines per second per listener; the counter keeps the total.
#[derive(Default)]
struct LogLimiter {
    window: AtomicU64,
    count: AtomicU64,
}

impl LogLimiter {
    fn allow(&self) -> bool {
        let now = now_unix() as u64;
        if self.window.swap(now, Ordering::Relaxed) != now {
            self.count.store(0, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed) < REFUSAL_LOG_BURST
    }
}
