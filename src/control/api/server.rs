//! The HTTPS listener: TLS via tokio-rustls, HTTP/1.1 via hyper, routes via axum.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::error::ApiError;
use super::state::{RemoteAddr, Shared};
use super::{access, clusters, dbusers, events, groups, oauth, openapi, roles, sa_routes};

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `/groups/{groupId}/serviceAccounts/{clientId}` and `.../{clientId}:invite` share one
/// route (the router cannot split a segment), but they are two resources with their own
/// methods: anything else is 405 with that resource's `Allow`.
async fn account_or_invite(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_ascii_lowercase();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Below the `/api/atlas/v2` nest, axum hands this layer the path without that prefix.
    if !matches!(segments.as_slice(), ["groups", _, "serviceaccounts", _]) {
        return next.run(req).await;
    }
    let invite = path.ends_with(":invite") || path.ends_with("%3ainvite");
    let allowed: &[Method] = if invite {
        &[Method::POST]
    } else {
        &[Method::GET, Method::HEAD, Method::PATCH, Method::DELETE]
    };
    if allowed.contains(req.method()) {
        return next.run(req).await;
    }
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let mut resp = ApiError::MethodNotAllowed.into_response();
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// Every route of the API.
pub fn router(state: Shared) -> Router {
    let v2 = Router::new()
        .route(
            "/orgs/{orgId}",
            get(groups::get_org).patch(groups::update_org),
        )
        .route(
            "/orgs/{orgId}/settings",
            get(groups::get_settings).patch(groups::update_settings),
        )
        .route("/orgs/{orgId}/groups", get(groups::list_org_groups))
        .route("/orgs/{orgId}/events", get(events::list_org_events))
        .route(
            "/groups",
            get(groups::list_groups).post(groups::create_group),
        )
        .route(
            "/groups/{groupId}",
            get(groups::get_group)
                .patch(groups::update_group)
                .delete(groups::delete_group),
        )
        .route("/groups/{groupId}/events", get(events::list_group_events))
        .route(
            "/groups/{groupId}/clusters",
            get(clusters::list).post(clusters::create),
        )
        .route(
            "/groups/{groupId}/clusters/{clusterName}",
            get(clusters::get)
                .patch(clusters::update)
                .delete(clusters::delete),
        )
        .route(
            "/groups/{groupId}/databaseUsers",
            get(dbusers::list).post(dbusers::create),
        )
        .route(
            "/groups/{groupId}/databaseUsers/{databaseName}/{username}",
            get(dbusers::get)
                .patch(dbusers::update)
                .delete(dbusers::delete),
        )
        .route(
            "/groups/{groupId}/customDBRoles/roles",
            get(roles::list).post(roles::create),
        )
        .route(
            "/groups/{groupId}/customDBRoles/roles/{roleName}",
            get(roles::get).patch(roles::update).delete(roles::delete),
        )
        .route(
            "/groups/{groupId}/accessList",
            get(access::list).post(access::create),
        )
        .route(
            "/groups/{groupId}/accessList/{entryValue}",
            get(access::get).delete(access::delete),
        )
        .route(
            "/groups/{groupId}/accessList/{entryValue}/status",
            get(access::status),
        )
        .route(
            "/orgs/{orgId}/serviceAccounts",
            get(sa_routes::org::list).post(sa_routes::org::create),
        )
        .route(
            "/orgs/{orgId}/serviceAccounts/{clientId}",
            get(sa_routes::org::get)
                .patch(sa_routes::org::update)
                .delete(sa_routes::org::delete),
        )
        .route(
            "/orgs/{orgId}/serviceAccounts/{clientId}/secrets",
            post(sa_routes::org::add_secret),
        )
        .route(
            "/orgs/{orgId}/serviceAccounts/{clientId}/secrets/{secretId}",
            axum::routing::delete(sa_routes::org::delete_secret),
        )
        .route(
            "/orgs/{orgId}/serviceAccounts/{clientId}/accessList",
            get(sa_routes::org::list_access).post(sa_routes::org::add_access),
        )
        .route(
            "/orgs/{orgId}/serviceAccounts/{clientId}/accessList/{ipAddress}",
            axum::routing::delete(sa_routes::org::delete_access),
        )
        .route(
            "/groups/{groupId}/serviceAccounts",
            get(sa_routes::group::list).post(sa_routes::group::create),
        )
        .route(
            "/groups/{groupId}/serviceAccounts/{clientId}",
            get(sa_routes::group::get)
                .patch(sa_routes::group::update)
                .delete(sa_routes::group::delete)
                .post(sa_routes::invite),
        )
        .route(
            "/groups/{groupId}/serviceAccounts/{clientId}/secrets",
            post(sa_routes::group::add_secret),
        )
        .route(
            "/groups/{groupId}/serviceAccounts/{clientId}/secrets/{secretId}",
            axum::routing::delete(sa_routes::group::delete_secret),
        )
        .route(
            "/groups/{groupId}/serviceAccounts/{clientId}/accessList",
            get(sa_routes::group::list_access).post(sa_routes::group::add_access),
        )
        .route(
            "/groups/{groupId}/serviceAccounts/{clientId}/accessList/{ipAddress}",
            axum::routing::delete(sa_routes::group::delete_access),
        )
        .route("/openapi.json", get(openapi::serve))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(account_or_invite));
    Router::new()
        .nest("/api/atlas/v2", v2)
        .route("/api/oauth/token", post(oauth::token))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Serves `router` on every listener until `shutdown` resolves.
pub async fn serve_tls(
    listeners: Vec<TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    let acceptor = TlsAcceptor::from(tls);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for l in listeners {
        tasks.push(tokio::spawn(accept_loop(
            l,
            acceptor.clone(),
            router.clone(),
            stop_rx.clone(),
        )));
    }
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error.detail = %e, "control-plane accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move { connection(tcp, remote, acceptor, router).await });
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(remote.addr = %remote, error.detail = %e, "control-plane TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(RemoteAddr(remote));
            let router = router.clone();
            async move { router.oneshot(req.map(axum::body::Body::new)).await }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(tls), service);
    if let Err(e) = conn.await {
        tracing::debug!(remote.addr = %remote, error.detail = %e, "control-plane connection ended");
    }
}

/// A server TLS configuration that speaks HTTP/1.1 (ALPN).
pub fn http_tls(mut base: rustls::ServerConfig) -> Arc<rustls::ServerConfig> {
    base.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(base)
}
