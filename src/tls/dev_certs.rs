//! Development certificates: a throw-away CA and a server certificate for localhost.
//!
//! These exist so the demo and the tests run over real TLS. The subject says they are
//! not for production and every file starts with a warning line, because dev keys have
//! a way of ending up in deployments.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

/// Written at the top of every generated PEM file (PEM parsers skip text outside blocks).
pub const WARNING: &str =
    "# mongoward DEVELOPMENT certificate: generated locally, NOT suitable for production use.\n";

/// The generated material, PEM encoded.
pub struct DevCerts {
    pub ca_pem: String,
    pub server_chain_pem: String,
    pub server_key_pem: String,
}

/// Paths written by [`write`].
pub struct DevCertPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Generates a CA and a server certificate valid for localhost, 127.0.0.1 and ::1
/// (plus `extra_names`).
pub fn generate(extra_names: &[String]) -> Result<DevCerts, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mongoward DEV CA - not for production");
    let ca = ca_params.self_signed(&ca_key)?;

    let mut names = vec!["localhost".to_string()];
    names.extend(extra_names.iter().cloned());
    let mut params = CertificateParams::new(names)?;
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    params.distinguished_name.push(
        DnType::CommonName,
        "mongoward DEV server - not for production",
    );
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    Ok(DevCerts {
        ca_pem: format!("{WARNING}{}", ca.pem()),
        server_chain_pem: format!("{WARNING}{}{}", cert.pem(), ca.pem()),
        server_key_pem: format!("{WARNING}{}", key.serialize_pem()),
    })
}

/// Writes `ca.pem`, `server.pem` (chain) and `server-key.pem` into `dir`.
pub fn write(dir: &Path, certs: &DevCerts) -> std::io::Result<DevCertPaths> {
    std::fs::create_dir_all(dir)?;
    let paths = DevCertPaths {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    std::fs::write(&paths.ca, &certs.ca_pem)?;
    std::fs::write(&paths.cert, &certs.server_chain_pem)?;
    write_private(&paths.key, &certs.server_key_pem)?;
    Ok(paths)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests;
