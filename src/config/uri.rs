//! A deliberately small parser for the `mongodb://` URIs in `[[clusters]] uri`.
//!
//! The proxy only needs the host list, the user name (the service user), the auth
//! database and a handful of options; everything it does not understand is an error
//! rather than silently ignored, so a typo cannot weaken the upstream connection.

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UriError {
    #[error("must start with mongodb:// (mongodb+srv is not supported)")]
    Scheme,
    #[error("has no host")]
    NoHost,
    #[error("host '{0}' is not host:port")]
    BadHost(String),
    #[error("must not contain a password; use password_env or password_file")]
    InlinePassword,
    #[error("option '{0}' is not supported by mongoward")]
    UnknownOption(String),
    #[error("option '{0}' has an invalid value '{1}'")]
    BadOption(String, String),
}

/// A parsed upstream URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamUri {
    pub hosts: Vec<(String, u16)>,
    pub user: Option<String>,
    pub auth_source: String,
    pub replica_set: Option<String>,
    pub tls: bool,
    pub options: BTreeMap<String, String>,
}

const KNOWN_OPTIONS: &[&str] = &[
    "replicaSet",
    "authSource",
    "tls",
    "ssl",
    "authMechanism",
    "directConnection",
    "connectTimeoutMS",
    "appName",
];

impl UpstreamUri {
    pub fn parse(uri: &str) -> Result<UpstreamUri, UriError> {
        let rest = uri.strip_prefix("mongodb://").ok_or(UriError::Scheme)?;
        let (authority, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => match rest.find('?') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            },
        };
        let (userinfo, hostlist) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let user = match userinfo {
            Some(u) if u.contains(':') => return Err(UriError::InlinePassword),
            Some(u) => Some(percent_decode(u)),
            None => None,
        };
        let hosts = parse_hosts(hostlist)?;
        let (path_db, query) = match tail.find('?') {
            Some(i) => (&tail[..i], &tail[i + 1..]),
            None => (tail, ""),
        };
        let options = parse_options(query)?;
        let auth_source = options
            .get("authSource")
            .cloned()
            .or_else(|| (!path_db.is_empty()).then(|| path_db.to_string()))
            .unwrap_or_else(|| "admin".to_string());
        let tls = match options.get("tls").or_else(|| options.get("ssl")) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => return Err(UriError::BadOption("tls".into(), v.clone())),
        };
        Ok(UpstreamUri {
            hosts,
            user,
            auth_source,
            replica_set: options.get("replicaSet").cloned(),
            tls,
            options,
        })
    }
}

fn parse_hosts(list: &str) -> Result<Vec<(String, u16)>, UriError> {
    if list.is_empty() {
        return Err(UriError::NoHost);
    }
    list.split(',')
        .map(|h| {
            let (host, port) = if let Some(v6) = h.strip_prefix('[') {
                let end = v6.find(']').ok_or_else(|| UriError::BadHost(h.into()))?;
                let port = v6[end + 1..].strip_prefix(':').unwrap_or("27017");
                (v6[..end].to_string(), port)
            } else {
                match h.rsplit_once(':') {
                    Some((host, port)) => (host.to_string(), port),
                    None => (h.to_string(), "27017"),
                }
            };
            let port = port.parse().map_err(|_| UriError::BadHost(h.into()))?;
            if host.is_empty() {
                return Err(UriError::BadHost(h.into()));
            }
            Ok((host, port))
        })
        .collect()
}

fn parse_options(query: &str) -> Result<BTreeMap<String, String>, UriError> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !KNOWN_OPTIONS.contains(&k) {
            return Err(UriError::UnknownOption(k.to_string()));
        }
        out.insert(k.to_string(), percent_decode(v));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
