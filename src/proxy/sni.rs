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

use super::upstream::Cluster;
use crate::config::Config;

/// The clusters one listener serves, with the SNI names that select each of them.
#[derive(Clone)]
pub struct Route {
    clusters: Vec<(Vec<String>, Arc<Cluster>)>,
}

impl Route {
    /// The route for listener group `indexes` (into `config.clusters` / `all`).
    pub fn new(config: &Config, all: &[Arc<Cluster>], indexes: &[usize]) -> Route {
        let clusters = indexes
            .iter()
            .filter_map(|&i| Some((config.clusters.get(i)?.0.sni.clone(), all.get(i)?.clone())))
            .collect();
        Route { clusters }
    }

    /// The listener's only cluster, when there is no choice to make.
    pub fn single(&self) -> Option<Arc<Cluster>> {
        match self.clusters.as_slice() {
            [(_, c)] => Some(c.clone()),
            _ => None,
        }
    }

    /// The cluster an SNI name selects (names are compared case-insensitively).
    pub fn by_name(&self, name: Option<&str>) -> Option<Arc<Cluster>> {
        if let Some(c) = self.single() {
            return Some(c);
        }
        let name = name?.trim_end_matches('.').to_ascii_lowercase();
        self.clusters
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
}

/// Reads the ClientHello, picks the cluster by SNI, then completes the handshake.
///
/// An unknown (or absent) name gets a fatal `unrecognized_name` alert. rustls has no API
/// to send an arbitrary alert from a ClientHello it has not handed a config to, so the
/// alert record is written directly: before the ServerHello it is plaintext in every TLS
/// version (content type 21, legacy version 3.3, length 2, level fatal, description).
pub async fn accept(
    route: &Route,
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
) -> Result<(TlsStream<TcpStream>, Arc<Cluster>), SniError> {
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
    let stream = start
        .into_stream(acceptor.config().clone())
        .await
        .map_err(SniError::Tls)?;
    Ok((stream, cluster))
}
