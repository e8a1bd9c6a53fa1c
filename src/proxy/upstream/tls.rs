//! TLS from the proxy to an upstream (`tls=true` in the cluster URI): the upstream's
//! certificate is verified against the cluster's `tls_ca_file` and the host name in the URI.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::proxy::io::Stream;
use crate::proxy::upstream::UpstreamError;

/// A client config trusting only `ca_file` (TLS 1.2 and 1.3).
pub fn connector(ca_file: &Path) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = crate::tls::load_certs(ca_file).map_err(|e| e.to_string())?;
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Runs the client handshake, checking the certificate names `host`.
pub async fn wrap(
    connector: &TlsConnector,
    host: &str,
    tcp: TcpStream,
) -> Result<Stream, UpstreamError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| UpstreamError::Tls(format!("'{host}' is not a TLS server name: {e}")))?;
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    Ok(Stream::ClientTls(Box::new(stream)))
}
