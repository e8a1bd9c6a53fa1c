//! The one TOML file operators write. Parsing is strict (`deny_unknown_fields`
//! everywhere): a typo such as `acess_list` must fail loudly, never silently drop a gate.
//!
//! `load` turns the file into a validated [`Config`]; the pieces that change at runtime
//! (users, roles, access list) are compiled into a policy snapshot by `proxy::policy`.

pub mod clusters;
mod files;
pub mod pool;
pub mod uri;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

use std::sync::Arc;

use crate::authz::privileges::RoleCatalog;
use crate::authz::role_config::RoleConfig;
use crate::gates::access_list::{
    cidr_reason, AccessEntryConfig, AccessList, BuildOptions, Strictness,
};
use crate::gates::throttle::ThrottleConfig;
use crate::gates::users::{Directory, UserConfig};

pub use clusters::{ClusterConfig, Routing, ServicePassword};
pub use uri::{UpstreamUri, UriError};

/// Why a configuration file was rejected. Every variant names the file and the key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:\n{message}")]
    Parse { file: String, message: String },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: String,
        key: String,
        reason: String,
    },
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    /// `[metrics]`: the Prometheus endpoint; absent means none.
    #[serde(default)]
    pub metrics: Option<crate::ops::metrics::MetricsConfig>,
    /// `[audit]`: audit events; disabled by default.
    #[serde(default)]
    pub audit: crate::ops::audit::AuditConfig,
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    /// The IP access list; empty refuses everyone (Atlas starts closed).
    #[serde(default)]
    pub access_list: Vec<AccessEntryConfig>,
    /// Database users (SCRAM credentials, never passwords).
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Custom roles.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[control_plane]`: policy lives in a store instead of this file.
    #[serde(default)]
    pub control_plane: Option<crate::control::config::ControlPlaneConfig>,
}

/// `[auth]`: authentication settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Slow down, then refuse, repeated failures (see `gates::throttle` for the defaults).
    #[serde(default)]
    pub throttle: ThrottleConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Data-plane listeners; TLS is always on for these.
    pub listen: Vec<String>,
    /// Plaintext listeners: only for local experiments, logged as a warning at startup.
    #[serde(default)]
    pub plaintext_listen: Vec<String>,
    /// Seconds a client has to finish the TLS handshake (and the PROXY header, if any).
    /// Authentication has its own deadline (`login_timeout_secs`).
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
    /// Seconds a connection may stay idle between messages before it is closed
    /// (0 = forever, like mongod).
    #[serde(default)]
    pub idle_timeout_secs: u64,
    /// Seconds a connection may stay unauthenticated after TLS; each hello (drivers'
    /// monitoring connections never authenticate) starts the count again. 0 = no limit.
    #[serde(default = "default_login_timeout")]
    pub login_timeout_secs: u64,
    /// Client connections served at once; absent = what the open-file limit allows after
    /// a reserve for upstream sockets, the metrics endpoint and the control plane.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Client connections served at once from one address (after PROXY protocol);
    /// absent = no per-address cap.
    #[serde(default)]
    pub max_connections_per_source: Option<usize>,
    /// Largest message accepted from a client (bytes): below the upstream's own limit it
    /// is what clients are told in hello and what is enforced; above it, no effect.
    #[serde(default)]
    pub max_message_size_bytes: Option<usize>,
    /// Seconds to wait for in-flight commands on SIGTERM.
    #[serde(default = "default_drain_timeout")]
    pub drain_timeout_secs: u64,
    /// What happens to live connections when the access-list entry (or user) that admitted
    /// them is removed or expires.
    #[serde(default)]
    pub on_revoke: OnRevoke,
    /// Longest lifetime of a temporary access-list entry (Atlas: 7 days).
    #[serde(default = "default_max_temporary_days")]
    pub max_temporary_days: i64,
    /// The data-plane listeners expect a PROXY protocol (v1 or v2) header first.
    #[serde(default)]
    pub proxy_protocol: bool,
    /// Load balancers allowed to send PROXY headers; anyone else is disconnected.
    #[serde(default)]
    pub proxy_protocol_trusted: Vec<String>,
    /// Threads serving connections: absent = one per CPU. 1 runs everything on one
    /// thread (no work stealing, the lowest per-message overhead; one core's worth of
    /// throughput). Read at startup only.
    #[serde(default)]
    pub worker_threads: Option<usize>,
    /// File `run` writes its process id to (removed on a clean exit); what
    /// `mongoward reload --config FILE` signals.
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
}

/// `server.on_revoke`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRevoke {
    /// Close the connection within a second (the default: revocation means revocation).
    #[default]
    Close,
    /// Keep established connections; only new ones are refused.
    Keep,
}

/// Bounds of `server.max_message_size_bytes`: room for a hello and a SCRAM exchange at
/// the low end, mongod's own 48 MB at the high end.
const MIN_MESSAGE_CAP: usize = 64 * 1024;
const MAX_MESSAGE_CAP: usize = 48_000_000;

fn default_max_temporary_days() -> i64 {
    7
}

fn default_login_timeout() -> u64 {
    60
}

fn default_handshake_timeout() -> u64 {
    10
}

fn default_drain_timeout() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// A validated configuration: paths resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub file: ConfigFile,
    pub listen: Vec<SocketAddr>,
    pub plaintext_listen: Vec<SocketAddr>,
    pub clusters: Vec<(ClusterConfig, UpstreamUri)>,
    /// Which clusters each listener serves.
    pub routing: Routing,
    pub access_list: AccessList,
    pub proxy_trusted: Vec<IpNet>,
    pub catalog: Arc<RoleCatalog>,
    pub users: Arc<Directory>,
    pub warnings: Vec<String>,
}

/// Seconds since the Unix epoch (the gates take time as an argument; this is where it comes from).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The wall clock in Unix milliseconds (0 before 1970).
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Config {
    /// Reads and validates a file at startup. Expired temporary entries and users are
    /// warnings, as on reload: the file stays valid when a date passes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, Strictness::Startup, now_unix())
    }

    /// Reads and validates a file as of `now` (unix seconds).
    pub fn load_with(path: &Path, strictness: Strictness, now: i64) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, path, strictness, now)
    }

    /// Parses and validates text at startup strictness (tests and tools).
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse(text, path, Strictness::Startup, now_unix())
    }

    /// Parses and validates text that came from `path` (used for messages and relative paths).
    pub fn parse(
        text: &str,
        path: &Path,
        strictness: Strictness,
        now: i64,
    ) -> Result<Config, ConfigError> {
        let file_name = path.display().to_string();
        let mut file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file_name.clone(),
            // As the toml crate formats it: position, the line with a caret, the reason.
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            file: file_name.clone(),
            key: key.to_string(),
            reason,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        file.tls.cert_file = base.join(&file.tls.cert_file);
        file.tls.key_file = base.join(&file.tls.key_file);
        file.audit.resolve_paths(base);
        let store_mode = match file.control_plane.as_mut() {
            Some(cp) => {
                cp.resolve_paths(base);
                cp.validate().map_err(|e| invalid("control_plane", e))?;
                if let Err(e) = cp.cluster_pool.validate() {
                    let key = format!("control_plane.cluster_pool.{}", e.key);
                    return Err(invalid(&key, e.reason));
                }
                refuse_policy_sections(&file, &invalid)?;
                true
            }
            None => false,
        };
        file.server.pid_file = file.server.pid_file.as_ref().map(|p| base.join(p));
        let listen = parse_addrs(&file.server.listen, "server.listen", &invalid)?;
        let plaintext_listen = parse_addrs(
            &file.server.plaintext_listen,
            "server.plaintext_listen",
            &invalid,
        )?;
        // Store mode: clusters (and their own listeners) come from the store.
        if !store_mode
            && listen.is_empty()
            && plaintext_listen.is_empty()
            && file.clusters.iter().all(|c| c.listen.is_none())
        {
            return Err(invalid(
                "server.listen",
                "at least one listener is required".into(),
            ));
        }
        if matches!(file.server.worker_threads, Some(n) if n == 0 || n > 1024) {
            return Err(invalid(
                "server.worker_threads",
                "must be between 1 and 1024 (leave it out for one per CPU)".into(),
            ));
        }
        if matches!(file.server.max_message_size_bytes, Some(n) if !(MIN_MESSAGE_CAP..=MAX_MESSAGE_CAP).contains(&n))
        {
            return Err(invalid(
                "server.max_message_size_bytes",
                format!("must be between {MIN_MESSAGE_CAP} and {MAX_MESSAGE_CAP} (leave it out for the upstream's own limit)"),
            ));
        }
        for (key, value) in [
            ("server.max_connections", file.server.max_connections),
            (
                "server.max_connections_per_source",
                file.server.max_connections_per_source,
            ),
        ] {
            if value == Some(0) {
                return Err(invalid(
                    key,
                    "must be at least 1 (leave it out for the default)".into(),
                ));
            }
        }
        let mut warnings = Vec::new();
        if !plaintext_listen.is_empty() {
            warnings.push(format!(
                "server.plaintext_listen {:?} accepts unencrypted connections: passwords and data cross the network in clear text",
                file.server.plaintext_listen
            ));
        }
        let (clusters, routing) = if store_mode {
            (Vec::new(), Routing::default())
        } else {
            let clusters = clusters::validate(&mut file.clusters, base, &invalid)?;
            let routing =
                clusters::routing(&clusters, listen.len(), plaintext_listen.len(), &invalid)?;
            (clusters, routing)
        };
        let opts = BuildOptions {
            strictness,
            ..BuildOptions::with_max_temporary_days(file.server.max_temporary_days)
        };
        let (access_list, access_warnings) = AccessList::build(&file.access_list, &opts, now)
            .map_err(|e| keyed(&file_name, "access_list", e.to_string()))?;
        warnings.extend(access_warnings.iter().map(ToString::to_string));
        if access_list.is_empty() && !store_mode {
            warnings.push("access_list is empty: every connection will be refused (add [[access_list]] entries)".into());
        }
        let proxy_trusted = parse_nets(&file.server.proxy_protocol_trusted, &invalid)?;
        let catalog = RoleCatalog::build(&file.roles)
            .map_err(|e| keyed(&file_name, "roles", e.to_string()))?;
        let names: Vec<String> = clusters.iter().map(|(c, _)| c.name.clone()).collect();
        let users = Directory::build(&file.users, &catalog, &names)
            .map_err(|e| keyed(&file_name, "users", e))?;
        warnings.extend(expired_users(&file.users, now));
        if file.server.proxy_protocol && proxy_trusted.is_empty() {
            return Err(invalid(
                "server.proxy_protocol_trusted",
                "proxy_protocol = true needs the load balancers' addresses".into(),
            ));
        }
        Ok(Config {
            path: path.to_path_buf(),
            file,
            listen,
            plaintext_listen,
            clusters,
            routing,
            access_list,
            proxy_trusted,
            catalog: Arc::new(catalog),
            users: Arc::new(users),
            warnings,
        })
    }

    /// One-line summary for `check-config`.
    pub fn summary(&self) -> String {
        format!(
            "{}: ok: {} TLS listener(s), {} plaintext listener(s), {} cluster(s), {} access-list entr(ies), {} user(s), {} custom role(s)",
            self.path.display(),
            self.listen.len(),
            self.plaintext_listen.len(),
            self.clusters.len(),
            self.access_list.len(),
            self.users.len(),
            self.file.roles.len(),
        )
    }
}

/// With `[control_plane]`, the store owns users, roles, the access list and clusters; a
/// file that still has them would silently disagree with it, so it is refused.
fn refuse_policy_sections(
    file: &ConfigFile,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let present = [
        ("clusters", !file.clusters.is_empty()),
        ("access_list", !file.access_list.is_empty()),
        ("users", !file.users.is_empty()),
        ("roles", !file.roles.is_empty()),
    ];
    match present.iter().find(|(_, p)| *p) {
        Some((key, _)) => Err(invalid(
            key,
            "policy is managed by the control-plane store when [control_plane] is set: \
             move it there with `mongoward admin import --config FILE --project NAME`, \
             then delete the [[clusters]], [[access_list]], [[users]] and [[roles]] tables \
             from this file"
                .into(),
        )),
        None => Ok(()),
    }
}

/// `users[i] (name@db): delete_after ... has passed`, in the access list's words.
fn expired_users(users: &[UserConfig], now: i64) -> Vec<String> {
    users
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let at = u.delete_after.as_deref()?;
            let passed = crate::gates::users::parse_rfc3339(at).ok()? <= now;
            passed.then(|| {
                format!(
                    "users[{i}] ({}@{}): delete_after {at} has passed; the user no longer exists",
                    u.user, u.db
                )
            })
        })
        .collect()
}

/// An error whose text already starts with its key path (`users[0].roles[1] (...)`) keeps
/// it as the key, so every message reads `file: key: reason` with one key-path style.
fn keyed(file: &str, section: &str, text: String) -> ConfigError {
    let (key, reason) = match text.split_once(": ") {
        Some((key, reason)) if key.starts_with(&format!("{section}[")) => {
            (key.to_string(), reason.to_string())
        }
        _ => (section.to_string(), text),
    };
    ConfigError::Invalid {
        file: file.to_string(),
        key,
        reason,
    }
}

fn parse_addrs(
    list: &[String],
    key: &str,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<SocketAddr>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            a.parse::<SocketAddr>().map_err(|e| {
                invalid(
                    &format!("{key}[{i}]"),
                    format!("'{a}' is not an ip:port address ({e})"),
                )
            })
        })
        .collect()
}

fn parse_nets(
    list: &[String],
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<IpNet>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            t.parse::<IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|e| {
                    invalid(
                        &format!("server.proxy_protocol_trusted[{i}]"),
                        format!("'{t}': {}", cidr_reason(t, e.to_string())),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
