//! The per-cluster `pool = { ... }` table of `[[clusters]]` (and the store clusters'
//! `[control_plane] cluster_pool`), parsed and validated here (see docs/pooling.md). A
//! plain configuration type: the pool itself (`proxy::upstream::pool`) reads its limits
//! from it, never the other way round.

use serde::Deserialize;

/// How client connections use upstream connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// One upstream connection per client connection, for its whole life.
    #[default]
    Connection,
    /// A pooled upstream connection per request/reply (pinned while the protocol needs it).
    Request,
}

/// `pool = { mode = "request", max_size = 64, min_idle = 0, idle_timeout_secs = 300,
/// wait_timeout_ms = 2000 }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    #[serde(default)]
    pub mode: PoolMode,
    #[serde(default = "default_max_size")]
    pub max_size: usize,
    #[serde(default)]
    pub min_idle: usize,
    /// 0 = idle connections are never closed for idleness.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout_ms: u64,
    /// Requests allowed to wait at once (default 4 × max_size).
    #[serde(default)]
    pub max_waiters: Option<usize>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            mode: PoolMode::default(),
            max_size: default_max_size(),
            min_idle: 0,
            idle_timeout_secs: default_idle_timeout(),
            wait_timeout_ms: default_wait_timeout(),
            max_waiters: None,
        }
    }
}

fn default_max_size() -> usize {
    64
}

fn default_idle_timeout() -> u64 {
    300
}

fn default_wait_timeout() -> u64 {
    2_000
}

const MAX_SIZE_LIMIT: usize = 10_000;
const WAIT_TIMEOUT_LIMIT_MS: u64 = 600_000;
const IDLE_TIMEOUT_LIMIT_SECS: u64 = 86_400;

/// A `pool` value out of range: the key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pool.{key}: {reason}")]
pub struct PoolConfigError {
    pub key: &'static str,
    pub reason: String,
}

fn invalid(key: &'static str, reason: impl Into<String>) -> PoolConfigError {
    PoolConfigError {
        key,
        reason: reason.into(),
    }
}

/// The pool's limits, as validated numbers (what `proxy::upstream::pool` runs with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    pub max_size: usize,
    pub min_idle: usize,
    /// None: idle connections are never closed for idleness.
    pub idle_timeout_ms: Option<u64>,
    pub wait_timeout_ms: u64,
    pub max_waiters: usize,
}

impl PoolConfig {
    /// Range checks; the pool's limits when they pass.
    pub fn validate(&self) -> Result<PoolLimits, PoolConfigError> {
        if self.max_size == 0 || self.max_size > MAX_SIZE_LIMIT {
            return Err(invalid(
                "max_size",
                format!("must be between 1 and {MAX_SIZE_LIMIT}"),
            ));
        }
        if self.min_idle > self.max_size {
            return Err(invalid("min_idle", "must not exceed max_size"));
        }
        if self.wait_timeout_ms == 0 || self.wait_timeout_ms > WAIT_TIMEOUT_LIMIT_MS {
            return Err(invalid(
                "wait_timeout_ms",
                format!("must be between 1 and {WAIT_TIMEOUT_LIMIT_MS}"),
            ));
        }
        if self.idle_timeout_secs > IDLE_TIMEOUT_LIMIT_SECS {
            return Err(invalid(
                "idle_timeout_secs",
                format!("must be at most {IDLE_TIMEOUT_LIMIT_SECS} (0 = never)"),
            ));
        }
        let max_waiters = self.max_waiters.unwrap_or(self.max_size.saturating_mul(4));
        if max_waiters > MAX_SIZE_LIMIT.saturating_mul(100) {
            return Err(invalid("max_waiters", "is too large"));
        }
        Ok(PoolLimits {
            max_size: self.max_size,
            min_idle: self.min_idle,
            idle_timeout_ms: match self.idle_timeout_secs {
                0 => None,
                secs => Some(secs.saturating_mul(1_000)),
            },
            wait_timeout_ms: self.wait_timeout_ms,
            max_waiters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PoolConfig, toml::de::Error> {
        #[derive(Deserialize)]
        struct Wrap {
            pool: PoolConfig,
        }
        toml::from_str::<Wrap>(s).map(|w| w.pool)
    }

    #[test]
    fn issue_example_parses_to_limits() {
        let c = parse(r#"pool = { mode = "request", max_size = 64, min_idle = 0, idle_timeout_secs = 300, wait_timeout_ms = 2000 }"#).unwrap();
        assert_eq!(c.mode, PoolMode::Request);
        let l = c.validate().unwrap();
        assert_eq!(
            l,
            PoolLimits {
                max_size: 64,
                min_idle: 0,
                idle_timeout_ms: Some(300_000),
                wait_timeout_ms: 2_000,
                max_waiters: 256,
            }
        );
    }

    #[test]
    fn defaults_keep_connection_mode() {
        let c = parse("pool = {}").unwrap();
        assert_eq!(c, PoolConfig::default());
        assert_eq!(c.mode, PoolMode::Connection);
    }

    #[test]
    fn bad_values_name_their_key() {
        let table = [
            ("pool = { max_size = 0 }", Some("max_size")),
            ("pool = { max_size = 10001 }", Some("max_size")),
            ("pool = { max_size = 2, min_idle = 3 }", Some("min_idle")),
            ("pool = { wait_timeout_ms = 0 }", Some("wait_timeout_ms")),
            (
                "pool = { idle_timeout_secs = 86401 }",
                Some("idle_timeout_secs"),
            ),
            ("pool = { idle_timeout_secs = 0 }", None),
            ("pool = { max_waiters = 0 }", None),
        ];
        for (src, key) in table {
            let got = parse(src).unwrap().validate().err().map(|e| e.key);
            assert_eq!(got, key, "{src}");
        }
        assert!(parse(r#"pool = { mode = "session" }"#).is_err());
        assert!(parse("pool = { size = 3 }").is_err());
    }
}
