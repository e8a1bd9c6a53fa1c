//! `[control_plane]`: where the store is and where the admin API listens.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::store::{Connect, Store, StoreError};
use crate::config::pool::PoolConfig;

/// The `[control_plane]` table. Its presence switches the deployment to store-managed
/// policy: the TOML's own policy sections are then refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneConfig {
    /// `sqlite:///var/lib/mongoward/state.db` or `postgres://user@host:5432/mongoward`.
    pub store: String,
    /// Environment variable holding the PostgreSQL password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the PostgreSQL password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The admin API's HTTPS listeners; never a data-plane port.
    #[serde(default)]
    pub listen: Vec<String>,
    /// The admin API's own certificate; defaults to `[tls]`.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// PostgreSQL TLS, with libpq's names: `disable`, `allow`, `prefer`, `require`,
    /// `verify-ca`, `verify-full`. Unset: the URL's `sslmode`, else `PGSSLMODE`, else
    /// `verify-full` (`prefer` for a loopback host or a Unix socket).
    #[serde(default)]
    pub store_sslmode: Option<String>,
    /// CA certificate(s) (PEM) the PostgreSQL server's certificate must chain to; like the
    /// URL's `sslrootcert`.
    #[serde(default)]
    pub store_ca_file: Option<PathBuf>,
    /// How many of the newest revisions the change log keeps; older lines are pruned
    /// every minute. A follower further behind reloads the whole policy.
    #[serde(default = "default_changes_keep")]
    pub changes_keep: u64,
    /// The `pool = { ... }` table every cluster from the store runs with (a cluster record
    /// has no pool settings). Default: `mode = "connection"`.
    #[serde(default)]
    pub cluster_pool: PoolConfig,
}

/// Enough for a follower to ride out minutes of busy writes without a full reload,
/// small enough that the log never outgrows the records.
pub const DEFAULT_CHANGES_KEEP: u64 = 10_000;
/// Below this, followers would reload on every hiccup.
const MIN_CHANGES_KEEP: u64 = 100;

fn default_changes_keep() -> u64 {
    DEFAULT_CHANGES_KEEP
}

const SSLMODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl ControlPlaneConfig {
    /// Resolves relative paths against the configuration file's directory, and a relative
    /// SQLite path too (so `sqlite://state.db` sits next to the file).
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [
            &mut self.password_file,
            &mut self.tls_cert_file,
            &mut self.tls_key_file,
            &mut self.store_ca_file,
        ]
        .into_iter()
        .flatten()
        {
            *p = base.join(&*p);
        }
        if let Some(path) = self.store.strip_prefix("sqlite://") {
            if !path.is_empty() && !path.starts_with('/') {
                self.store = format!("sqlite://{}", base.join(path).display());
            }
        }
    }

    /// Checks what can be checked without opening the store.
    pub fn validate(&self) -> Result<(), String> {
        let sqlite = self.store.starts_with("sqlite://");
        let pg = self.store.starts_with("postgres://") || self.store.starts_with("postgresql://");
        if !sqlite && !pg {
            return Err(format!(
                "store: '{}' is neither sqlite:///path nor postgres://user@host:port/db",
                crate::control::store::redact_url(&self.store)
            ));
        }
        if self.store.strip_prefix("sqlite://") == Some("") {
            return Err(
                "store: sqlite:// needs a path (sqlite:///var/lib/mongoward/state.db)".into(),
            );
        }
        if sqlite && (self.password_env.is_some() || self.password_file.is_some()) {
            return Err("password_env/password_file: only for a postgres:// store".into());
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            return Err("password_env and password_file: give one, not both".into());
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err("tls_cert_file and tls_key_file go together".into());
        }
        if sqlite && (self.store_sslmode.is_some() || self.store_ca_file.is_some()) {
            return Err("store_sslmode/store_ca_file: only for a postgres:// store".into());
        }
        if let Some(mode) = &self.store_sslmode {
            if !SSLMODES.contains(&mode.as_str()) {
                return Err(format!(
                    "store_sslmode: '{mode}' is not one of {}",
                    SSLMODES.join(", ")
                ));
            }
        }
        if self.changes_keep < MIN_CHANGES_KEEP {
            return Err(format!(
                "changes_keep: at least {MIN_CHANGES_KEEP} (default {DEFAULT_CHANGES_KEEP})"
            ));
        }
        Ok(())
    }

    /// Opens the store this table names (password, TLS settings and all).
    pub async fn open_store(&self) -> Result<Store, StoreError> {
        let password = self.password().map_err(StoreError::Invalid)?;
        let ssl_mode = match &self.store_sslmode {
            Some(m) => Some(
                m.parse()
                    .map_err(|e| StoreError::Invalid(format!("store_sslmode: {e}")))?,
            ),
            None => None,
        };
        let connect = Connect {
            password,
            ssl_mode,
            ca_file: self.store_ca_file.clone(),
        };
        Store::open_with(&self.store, connect).await
    }

    /// The store password from the environment or the file (never logged).
    pub fn password(&self) -> Result<Option<String>, String> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map(Some)
                .map_err(|_| format!("password_env: environment variable {var} is not set"));
        }
        if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("password_file: {}: {e}", file.display()))?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(text: &str) -> Result<ControlPlaneConfig, String> {
        let c: ControlPlaneConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn accepts_both_stores_and_refuses_the_rest() {
        assert!(cp(r#"store = "sqlite:///var/lib/mongoward/state.db""#).is_ok());
        assert!(cp("store = \"postgres://mw@127.0.0.1:5432/mw\"\npassword_env = \"PW\"").is_ok());
        let tls = cp(
            "store = \"postgres://h/db\"\nstore_sslmode = \"verify-full\"\n\
                      store_ca_file = \"ca.pem\"\nchanges_keep = 500",
        )
        .unwrap();
        assert_eq!(tls.changes_keep, 500);
        assert_eq!(
            cp(r#"store = "sqlite:///x.db""#).unwrap().changes_keep,
            DEFAULT_CHANGES_KEEP
        );
        let bad = [
            r#"store = "mysql://x""#,
            r#"store = "sqlite://""#,
            "store = \"sqlite:///x.db\"\npassword_env = \"PW\"",
            "store = \"postgres://h/db\"\npassword_env = \"A\"\npassword_file = \"f\"",
            "store = \"sqlite:///x.db\"\ntls_cert_file = \"c.pem\"",
            "store = \"sqlite:///x.db\"\nstroe = \"typo\"",
            "store = \"sqlite:///x.db\"\nstore_sslmode = \"require\"",
            "store = \"postgres://h/db\"\nstore_sslmode = \"verify_full\"",
            "store = \"postgres://h/db\"\nchanges_keep = 10",
        ];
        for text in bad {
            assert!(cp(text).is_err(), "{text}");
        }
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let mut c = cp(
            "store = \"sqlite://state.db\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"",
        )
        .unwrap();
        c.resolve_paths(Path::new("/etc/mw"));
        assert_eq!(c.store, "sqlite:///etc/mw/state.db");
        assert_eq!(c.tls_cert_file.as_deref(), Some(Path::new("/etc/mw/c.pem")));
        let mut abs = cp(r#"store = "sqlite:///var/x.db""#).unwrap();
        abs.resolve_paths(Path::new("/etc/mw"));
        assert_eq!(abs.store, "sqlite:///var/x.db");
    }
}
