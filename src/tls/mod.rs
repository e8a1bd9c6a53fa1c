//! TLS for the data plane: rustls server configuration from PEM files, and the
//! development certificate generator behind `mongoward dev-certs`.

pub mod dev_certs;
pub mod quiet_sni;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: String },
    #[error("{path}: no PEM private key found")]
    NoKey { path: String },
    #[error("{path}: malformed PEM: {reason}")]
    BadPem { path: String, reason: String },
    #[error("certificate and key do not form a usable pair: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Words for a failed server handshake. A client that speaks plaintext MongoDB to a TLS
/// port shows up in rustls as an invalid content type; say what actually happened.
pub fn describe_handshake_error(e: &std::io::Error) -> String {
    use rustls::InvalidMessage;
    let plaintext = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| {
            matches!(
                r,
                rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType)
            )
        });
    if plaintext {
        "client did not start TLS (connect with tls=true)".to_string()
    } else {
        e.to_string()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn bad_pem(path: &Path, e: &pem::Error) -> TlsError {
    TlsError::BadPem {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Parses every certificate in a PEM file. A malformed entry is an error naming the
/// file, never skipped (a chain missing its intermediate would fail only at clients).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(path, &e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => Err(TlsError::NoKey {
            path: path.display().to_string(),
        }),
        Err(e) => Err(bad_pem(path, &e)),
    }
}

/// Builds the data-plane server configuration: TLS 1.2 and 1.3, no client certificates.
/// The certificate comes from the returned [`CertStore`], which a reload swaps.
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<(Arc<rustls::ServerConfig>, Arc<CertStore>), TlsError> {
    let store = Arc::new(CertStore::load(cert_file, key_file)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store.clone());
    Ok((Arc::new(config), store))
}

/// Reads and checks a certificate chain and its key (the key must match the leaf).
fn certified_key(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, TlsError> {
    let certs = load_certs(cert_file)?;
    let key = load_key(key_file)?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match()?;
    Ok(certified)
}

/// The serving certificate, swappable at runtime: handshakes read whatever is current,
/// so a reload changes new handshakes only and established sessions are untouched.
#[derive(Debug)]
pub struct CertStore {
    current: ArcSwap<CertifiedKey>,
    /// The files last loaded, so the file watcher can notice an in-place rotation.
    files: ArcSwap<(PathBuf, PathBuf)>,
}

impl CertStore {
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<CertStore, TlsError> {
        Ok(CertStore {
            current: ArcSwap::from_pointee(certified_key(cert_file, key_file)?),
            files: ArcSwap::from_pointee((cert_file.to_path_buf(), key_file.to_path_buf())),
        })
    }

    /// Loads the files again; on any error the certificate in use stays.
    pub fn reload(&self, cert_file: &Path, key_file: &Path) -> Result<(), TlsError> {
        let fresh = certified_key(cert_file, key_file)?;
        self.current.store(Arc::new(fresh));
        self.files
            .store(Arc::new((cert_file.to_path_buf(), key_file.to_path_buf())));
        Ok(())
    }

    /// The certificate and key files in use.
    pub fn files(&self) -> Arc<(PathBuf, PathBuf)> {
        self.files.load_full()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}
