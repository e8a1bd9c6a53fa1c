//! The front door: accept, PROXY protocol (when configured), the access-list gate, TLS.
//!
//! The access list is checked on the TCP peer (or the PROXY header's source) before a
//! single TLS byte is read or written: a refused client costs one accept and one close.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::config::now_unix;
use crate::gates::access_list::{Decision, DenyReason};
use crate::gates::proxy_protocol::{self, ProxyHeader};
use crate::ops::audit::{AuditEvent, ConnCtx};
use crate::ops::ratelimit::LogLimit;
use crate::proxy::client::session::{ConnInfo, Session};
use crate::proxy::io::Stream;
use crate::proxy::server::limits::{CapRefusal, SourceSlot};
use crate::proxy::server::running::{ActiveGuard, Shared};
use crate::proxy::server::sni::{self, Route};
use crate::proxy::state::handle::SessionHandle;
use crate::proxy::state::stats::Stats;
use crate::proxy::upstream::Cluster;

/// Log lines per second for per-connection events a flood can repeat at will.
static REFUSAL_LOG: LogLimit = LogLimit::per_second(20);
static CAP_LOG: LogLimit = LogLimit::per_second(5);
static ACCEPT_LOG: LogLimit = LogLimit::per_second(1);

pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    route: Arc<Route>,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.clone();
    let fallback = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, and say so once
                    // a second, not twenty times.
                    if let Some(suppressed) = ACCEPT_LOG.check(now_unix()) {
                        warn!(error = %e, log.suppressed = suppressed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // The global cap first: a refusal is an accept and a close, no TLS, no lookup.
        let Some(guard) = ActiveGuard::try_new(&shared) else {
            refuse_at_cap(&shared, peer.ip(), CapRefusal::MaxConnections);
            continue;
        };
        if shared.proxy_protocol {
            tokio::spawn(serve_proxied(tcp, peer, tls.clone(), route.clone(), guard));
            continue;
        }
        // The listener's own address unless it is a wildcard (saves a syscall per accept).
        let local = if fallback.ip().is_unspecified() {
            tcp.local_addr().unwrap_or(fallback)
        } else {
            fallback
        };
        let Some(gate) = admit(&shared, &route, peer, local).await else {
            // A refused socket is dropped here: closed with no TLS and no reply.
            continue;
        };
        let slot = match SourceSlot::acquire(&shared, peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                refuse_at_cap(&shared, peer.ip(), why);
                continue;
            }
        };
        let conn = Conn {
            peer,
            client_ip: peer.ip(),
            tls: tls.clone(),
            route: route.clone(),
            gate,
        };
        tokio::spawn(serve(tcp, conn, guard, slot));
    }
}

/// Counts and (rate-limited) logs a refusal at a connection cap.
fn refuse_at_cap(shared: &Shared, ip: IpAddr, why: CapRefusal) {
    let (counter, cap) = match why {
        CapRefusal::MaxConnections => (
            &shared.stats.connections_refused_max,
            shared.max_connections,
        ),
        CapRefusal::PerSource => (
            &shared.stats.connections_refused_per_source,
            shared.per_source.as_ref().map_or(0, |p| p.cap),
        ),
    };
    Stats::inc(counter);
    if let Some(suppressed) = CAP_LOG.check(now_unix()) {
        warn!(client.addr = %ip, reason = ?why, cap, log.suppressed = suppressed, "connection refused at a connection cap");
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
async fn admit(
    shared: &Shared,
    route: &Route,
    client: SocketAddr,
    local: SocketAddr,
) -> Option<Gate> {
    let policy = shared.policy.load();
    let Some(project) = route.common_project(&policy) else {
        return Some(Gate::AfterSni);
    };
    let cluster = route.single();
    let ok = check(shared, &project.access, cluster.as_deref(), client, local).await;
    ok.then_some(Gate::Passed)
}

/// The network gate once the SNI name has chosen the cluster (and so the project).
async fn admit_routed(shared: &Shared, conn: &Conn, cluster: &Cluster, local: SocketAddr) -> bool {
    let policy = shared.policy.load();
    let client = SocketAddr::new(conn.client_ip, conn.peer.port());
    check(
        shared,
        policy.access(&cluster.name),
        Some(cluster),
        client,
        local,
    )
    .await
}

/// Checks one access list. Logs the refusal (rate-limited), counts and audits it.
async fn check(
    shared: &Shared,
    access: &crate::gates::access_list::AccessList,
    cluster: Option<&Cluster>,
    client: SocketAddr,
    local: SocketAddr,
) -> bool {
    let ip = client.ip();
    match access.check(ip, now_unix()) {
        Decision::Allow { .. } => true,
        Decision::Deny(reason) => {
            Stats::inc(&shared.stats.connections_refused_access_list);
            // A refusal flood must stay cheap: build the event only when it goes somewhere.
            if shared.auditor.enabled() {
                let ctx = conn_ctx(cluster, local, client, None);
                let event = AuditEvent::network_access_denied(&ctx, deny_label(reason));
                shared.auditor.emit_blocking(event).await;
            }
            if let Some(suppressed) = REFUSAL_LOG.check(now_unix()) {
                info!(client.addr = %ip, reason = ?reason, log.suppressed = suppressed, "connection refused by the access list");
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
    let Some(gate) = admit(&shared, &route, client, local).await else {
        return;
    };
    let slot = match SourceSlot::acquire(&shared, client.ip()) {
        Ok(slot) => slot,
        Err(why) => return refuse_at_cap(&shared, client.ip(), why),
    };
    let conn = Conn {
        peer,
        client_ip: client.ip(),
        tls,
        route,
        gate,
    };
    serve(tcp, conn, guard, slot).await;
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

async fn serve(tcp: TcpStream, conn: Conn, guard: ActiveGuard, slot: Option<SourceSlot>) {
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
    Session::new(info, shared.services.clone(), stream, handle)
        .run()
        .await;
    drop(slot);
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
        if !admit_routed(shared, conn, c, ctx.local).await {
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
                    && !admit_routed(shared, conn, &hello.cluster, ctx.local).await
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
            tls_failed(shared, ctx, &error).await;
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
        Ok(Err(e)) => crate::tls::describe_handshake_error(&e),
        Err(_) => "handshake timed out".to_string(),
    };
    tls_failed(shared, ctx, &error).await;
    None
}

async fn tls_failed(shared: &Shared, ctx: &ConnCtx, error: &str) {
    Stats::inc(&shared.stats.tls_handshake_failures);
    if let Some(suppressed) = REFUSAL_LOG.check(now_unix()) {
        info!(conn.id = ctx.conn_id, client.addr = %ctx.remote, error = %error, log.suppressed = suppressed, "TLS handshake failed");
    }
    shared
        .auditor
        .emit_blocking(AuditEvent::tls_failure(ctx, error))
        .await;
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
