//! `[[clusters]]`: the upstream deployments, their service credentials and how client
//! connections reach each of them (a listener of its own, or TLS SNI on a shared one).
//!
//! Every connection belongs to exactly one cluster; the plan computed here is what the
//! accept loop routes with, so an ambiguous layout is a configuration error, never a guess.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::pool::PoolConfig;
use super::{ConfigError, UpstreamUri};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    /// How the proxy reaches this upstream (no password: see `password_env`/`password_file`).
    pub uri: String,
    /// Environment variable holding the service user's password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the service user's password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// CA bundle that verifies the upstream's certificate when the URI says `tls=true`.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// A TLS listener of this cluster's own.
    #[serde(default)]
    pub listen: Option<String>,
    /// Names that route to this cluster on a shared listener (TLS SNI).
    #[serde(default)]
    pub sni: Vec<String>,
    /// Seconds to open an upstream connection: TCP, TLS, hello and the service login together.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Seconds to wait for the reply to a forwarded command; a command's own `maxTimeMS`
    /// (for a getMore: the await time) is added to it, so long operations keep their time.
    #[serde(default = "default_reply_timeout")]
    pub reply_timeout_secs: u64,
    /// How client connections share upstream connections (`mode = "connection"`: not at
    /// all, today's default; `"request"`: a pool, see docs/pooling.md).
    #[serde(default)]
    pub pool: PoolConfig,
    /// The resolved service password (never in the file, never printed).
    #[serde(skip)]
    pub password: Option<ServicePassword>,
}

fn default_connect_timeout() -> u64 {
    10
}

fn default_reply_timeout() -> u64 {
    120
}

/// The upstream service user's password; `Debug` is redacted so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct ServicePassword(pub String);

impl fmt::Debug for ServicePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServicePassword(<redacted>)")
    }
}

/// Which clusters each listener serves (indexes into `Config::clusters`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// Clusters reachable on `server.listen` (and `server.plaintext_listen`).
    pub shared: Vec<usize>,
    /// Listeners of their own: address and the clusters on it (several need SNI names).
    pub own: Vec<(SocketAddr, Vec<usize>)>,
}

type Invalid<'a> = &'a dyn Fn(&str, String) -> ConfigError;

/// Checks names, URIs, credentials and resolves relative paths against `base`.
pub fn validate(
    clusters: &mut [ClusterConfig],
    base: &Path,
    invalid: Invalid<'_>,
) -> Result<Vec<(ClusterConfig, UpstreamUri)>, ConfigError> {
    if clusters.is_empty() {
        return Err(invalid(
            "clusters",
            "at least one [[clusters]] entry is required".into(),
        ));
    }
    let mut out: Vec<(ClusterConfig, UpstreamUri)> = Vec::new();
    for (i, c) in clusters.iter_mut().enumerate() {
        let key = |k: &str| format!("clusters[{i}].{k}");
        if c.name.is_empty() {
            return Err(invalid(&key("name"), "must not be empty".into()));
        }
        if out.iter().any(|(o, _)| o.name == c.name) {
            return Err(invalid(
                &key("name"),
                format!("duplicate cluster name '{}'", c.name),
            ));
        }
        let uri = UpstreamUri::parse(&c.uri).map_err(|e| invalid(&key("uri"), e.to_string()))?;
        for (k, v) in [
            ("connect_timeout_secs", c.connect_timeout_secs),
            ("reply_timeout_secs", c.reply_timeout_secs),
        ] {
            if v == 0 || v > 86_400 {
                return Err(invalid(
                    &key(k),
                    "must be between 1 and 86400 seconds".into(),
                ));
            }
        }
        c.pool
            .validate()
            .map_err(|e| invalid(&key(&format!("pool.{}", e.key)), e.reason))?;
        c.password_file = c.password_file.as_ref().map(|p| base.join(p));
        c.tls_ca_file = c.tls_ca_file.as_ref().map(|p| base.join(p));
        c.password = resolve_password(c, &uri, &key, invalid)?;
        if c.tls_ca_file.is_some() && !uri.tls {
            return Err(invalid(
                &key("tls_ca_file"),
                "is only used with tls=true in the uri".into(),
            ));
        }
        for (j, name) in c.sni.iter_mut().enumerate() {
            *name = name.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() {
                return Err(invalid(&format!("clusters[{i}].sni[{j}]"), "empty".into()));
            }
        }
        // Fail closed: never connect with TLS that verifies nothing.
        if let Some(ca) = &c.tls_ca_file {
            crate::tls::load_certs(ca).map_err(|e| invalid(&key("tls_ca_file"), e.to_string()))?;
        }
        if uri.tls && c.tls_ca_file.is_none() {
            return Err(invalid(
                &key("tls_ca_file"),
                "tls=true needs the CA that verifies the upstream's certificate".into(),
            ));
        }
        out.push((c.clone(), uri));
    }
    Ok(out)
}

/// Reads the service password from the environment or a file; a user without one (or a
/// password without a user) is an error, so a half-configured upstream login cannot start.
fn resolve_password(
    c: &ClusterConfig,
    uri: &UpstreamUri,
    key: &dyn Fn(&str) -> String,
    invalid: Invalid<'_>,
) -> Result<Option<ServicePassword>, ConfigError> {
    let password = match (&c.password_env, &c.password_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                &key("password_env"),
                "set password_env or password_file, not both".into(),
            ))
        }
        (Some(var), None) => match std::env::var(var) {
            Ok(p) if !p.is_empty() => Some(p),
            _ => {
                return Err(invalid(
                    &key("password_env"),
                    format!("environment variable {var} is not set or empty"),
                ))
            }
        },
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(p) if !p.trim_end_matches(['\r', '\n']).is_empty() => {
                Some(p.trim_end_matches(['\r', '\n']).to_string())
            }
            Ok(_) => return Err(invalid(&key("password_file"), "is empty".into())),
            Err(e) => {
                return Err(invalid(
                    &key("password_file"),
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        },
        (None, None) => None,
    };
    match (&uri.user, &password) {
        (Some(_), None) => Err(invalid(
            &key("uri"),
            "names a service user but neither password_env nor password_file is set".into(),
        )),
        (None, Some(_)) => Err(invalid(
            &key("uri"),
            "has no service user for the configured password (mongodb://USER@host/...)".into(),
        )),
        _ => Ok(password.map(ServicePassword)),
    }
}

/// Groups clusters by listener. `server.listen` serves the clusters without a listener of
/// their own plus every cluster with SNI names; a listener with several clusters routes by
/// SNI, so each of them needs distinct names.
pub fn routing(
    clusters: &[(ClusterConfig, UpstreamUri)],
    shared_listeners: usize,
    plaintext_listeners: usize,
    invalid: Invalid<'_>,
) -> Result<Routing, ConfigError> {
    let mut routing = Routing::default();
    for (i, (c, _)) in clusters.iter().enumerate() {
        if c.listen.is_none() || !c.sni.is_empty() {
            routing.shared.push(i);
        }
        let Some(text) = &c.listen else { continue };
        let addr: SocketAddr = text.parse().map_err(|e| {
            invalid(
                &format!("clusters[{i}].listen"),
                format!("'{text}' is not an ip:port address ({e})"),
            )
        })?;
        // Port 0 asks for a fresh port: never the same socket as another cluster's.
        match routing
            .own
            .iter_mut()
            .find(|(a, _)| *a == addr && addr.port() != 0)
        {
            Some((_, list)) => list.push(i),
            None => routing.own.push((addr, vec![i])),
        }
    }
    if shared_listeners + plaintext_listeners > 0 {
        if routing.shared.is_empty() {
            return Err(invalid(
                "server.listen",
                "serves no cluster: every cluster has its own listen and no sni names".into(),
            ));
        }
        check_sni(clusters, &routing.shared, "server.listen", invalid)?;
        if plaintext_listeners > 0 && routing.shared.len() > 1 {
            return Err(invalid(
                "server.plaintext_listen",
                "cannot route by SNI: only possible with exactly one shared cluster".into(),
            ));
        }
    }
    for (addr, list) in &routing.own {
        check_sni(clusters, list, &format!("listener {addr}"), invalid)?;
    }
    Ok(routing)
}

fn check_sni(
    clusters: &[(ClusterConfig, UpstreamUri)],
    on: &[usize],
    listener: &str,
    invalid: Invalid<'_>,
) -> Result<(), ConfigError> {
    if on.len() < 2 {
        return Ok(());
    }
    let mut seen: Vec<&str> = Vec::new();
    for &i in on {
        let c = &clusters[i].0;
        if c.sni.is_empty() {
            return Err(invalid(
                &format!("clusters[{i}].sni"),
                format!(
                    "{listener} is shared by several clusters: cluster '{}' needs sni names",
                    c.name
                ),
            ));
        }
        for name in &c.sni {
            if seen.contains(&name.as_str()) {
                return Err(invalid(
                    &format!("clusters[{i}].sni"),
                    format!("'{name}' routes to two clusters on {listener}"),
                ));
            }
            seen.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
