//! The files a configuration names, opened the way `run` will open them, so that
//! `check-config` reports a missing or unusable one as bad configuration (exit 2) instead
//! of `run` failing later. Cluster CA and password files are already read while parsing.

use crate::tls::TlsError;

use super::{Config, ConfigError};

impl Config {
    /// Loads the TLS certificate and key (and checks they pair) and checks that the
    /// directories of the files `run` writes (audit file, pid file) exist. The first problem is the error.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        let tls = &self.file.tls;
        crate::tls::CertStore::load(&tls.cert_file, &tls.key_file).map_err(|e| {
            let key = match &e {
                TlsError::NoKey { .. } => "tls.key_file",
                TlsError::Read { path, .. } if *path == tls.key_file.display().to_string() => {
                    "tls.key_file"
                }
                TlsError::Rustls(_) => "tls",
                _ => "tls.cert_file",
            };
            self.invalid(key, e.to_string())
        })?;
        let audit = &self.file.audit;
        let audit_file = audit.enabled && audit.destination == crate::ops::audit::Destination::File;
        let written = [
            ("audit.path", audit.path.as_ref().filter(|_| audit_file)),
            ("server.pid_file", self.file.server.pid_file.as_ref()),
        ];
        for (key, path) in written {
            let Some(path) = path else { continue };
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if dir.is_some_and(|d| !d.is_dir()) {
                let reason = format!("{}: the directory does not exist", path.display());
                return Err(self.invalid(key, reason));
            }
        }
        Ok(())
    }

    fn invalid(&self, key: &str, reason: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.path.display().to_string(),
            key: key.to_string(),
            reason,
        }
    }
}
