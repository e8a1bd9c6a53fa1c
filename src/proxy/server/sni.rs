//! Which cluster a connection belongs to: fixed by its listener, or chosen by the TLS
//! SNI name when several clusters share the listener.
//!
//! The ClientHello is read with `LazyConfigAcceptor` so the name is known before the
//! handshake goes on; the handshake is then completed with the one shared server config.

use std::sync::Arc;

use rustls::AlertDescription;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, TlsAcceptor};

use arc_swap::ArcSwap;
use tokio_rustls::StartHandshake;

use crate::config::Config;
use crate::proxy::state::policy::{Policy, ProjectPolicy};
use crate::proxy::upstream::Cluster;

/// The clusters one listener serves, with the SNI names that select each of them.
/// Swappable: the control plane adds and removes clusters while the listener runs (one
/// atomic load per connection).
pub struct Route {
    clusters: ArcSwap<Vec<(Vec<String>, Arc<Cluster>)>>,
}

impl Route {
    /// The route for listener group `indexes` (into `config.clusters` / `all`).
    pub fn new(config: &Config, all: &[Arc<Cluster>], indexes: &[usize]) -> Route {
        let clusters = indexes
            .iter()
            .filter_map(|&i| Some((config.clusters.get(i)?.0.sni.clone(), all.get(i)?.clone())))
            .collect();
        Route::from_clusters(clusters)
    }

    /// Clusters with their (lowercase) SNI names.
    pub fn from_clusters(clusters: Vec<(Vec<String>, Arc<Cluster>)>) -> Route {
        Route {
            clusters: ArcSwap::from_pointee(clusters),
        }
    }

    /// Replaces the clusters; connections already routed keep theirs.
    pub fn set(&self, clusters: Vec<(Vec<String>, Arc<Cluster>)>) {
        self.clusters.store(Arc::new(clusters));
    }

    /// The names of the clusters served.
    pub fn cluster_names(&self) -> Vec<String> {
        self.clusters
            .load()
            .iter()
            .map(|(_, c)| c.name.clone())
            .collect()
    }

    /// The listener's only cluster, when there is no choice to make.
    pub fn single(&self) -> Option<Arc<Cluster>> {
        match self.clusters.load().as_slice() {
            [(_, c)] => Some(c.clone()),
            _ => None,
        }
    }

    /// The project whose access list applies before the ClientHello is read: the one all
    /// the listener's clusters belong to. `None`: they span several projects (or none), so
    /// the SNI name decides, still before any TLS crypto.
    pub fn common_project<'p>(&self, policy: &'p Policy) -> Option<&'p Arc<ProjectPolicy>> {
        let clusters = self.clusters.load();
        policy.common_project(clusters.iter().map(|(_, c)| c.name.as_str()))
    }

    /// The cluster an SNI name selects (names are compared case-insensitively).
    pub fn by_name(&self, name: Option<&str>) -> Option<Arc<Cluster>> {
        if let Some(c) = self.single() {
            return Some(c);
        }
        let name = name?.trim_end_matches('.').to_ascii_lowercase();
        self.clusters
            .load()
            .iter()
            .find(|(names, _)| names.contains(&name))
            .map(|(_, c)| c.clone())
    }
}

/// Why an SNI-routed handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SniError {
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("unknown or missing SNI name {0:?}: sent unrecognized_name")]
    UnknownName(Option<String>),
    /// The selected cluster's project does not admit the client (already counted, logged
    /// and audited by the gate; closed without a TLS byte).
    #[error("refused by the project's access list")]
    Refused,
}

/// A ClientHello that has been read and routed, before any TLS crypto work.
pub struct Hello {
    start: StartHandshake<TcpStream>,
    pub cluster: Arc<Cluster>,
}

impl Hello {
    /// Completes the handshake with the one shared server config.
    pub async fn complete(self, acceptor: &TlsAcceptor) -> Result<TlsStream<TcpStream>, SniError> {
        self.start
            .into_stream(acceptor.config().clone())
            .await
            .map_err(SniError::Tls)
    }
}

/// Reads the ClientHello and picks the cluster by its SNI name.
///
/// An unknown (or absent) name gets a fatal `unrecognized_name` alert. rustls has no API
/// to send an arbitrary alert from a ClientHello it has not handed a config to, so the
/// alert record is written directly: before the ServerHello it is plaintext in every TLS
/// version (content type 21, legacy version 3.3, length 2, level fatal, description).
pub async fn read_hello(route: &Route, tcp: TcpStream) -> Result<Hello, SniError> {
    let lazy = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let mut start = lazy.await.map_err(SniError::Tls)?;
    let name = start.client_hello().server_name().map(str::to_string);
    let Some(cluster) = route.by_name(name.as_deref()) else {
        let alert = [
            21,
            3,
            3,
            0,
            2,
            2,
            u8::from(AlertDescription::UnrecognisedName),
        ];
        // Best effort: the client may already be gone; the connection closes either way.
        let _ = start.io.write_all(&alert).await;
        let _ = start.io.shutdown().await;
        return Err(SniError::UnknownName(name));
    };
    Ok(Hello { start, cluster })
}

/// Reads the ClientHello, picks the cluster by SNI, then completes the handshake.
pub async fn accept(
    route: &Route,
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
) -> Result<(TlsStream<TcpStream>, Arc<Cluster>), SniError> {
    let hello = read_hello(route, tcp).await?;
    let cluster = hello.cluster.clone();
    Ok((hello.complete(acceptor).await?, cluster))
}
