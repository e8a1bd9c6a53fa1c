//! Prometheus metrics: the registry ([`Metrics`], the process-wide `proxy::stats::Stats`),
//! its text rendering and a scrape endpoint on a listener of its own.
//!
//! ```toml
//! [metrics]
//! listen = "127.0.0.1:9216"
//! ```

pub mod counters;
mod http;
mod render;

use std::net::SocketAddr;

use serde::Deserialize;

pub use http::serve;
pub use render::render;

/// The registry every connection increments.
pub type Metrics = crate::proxy::stats::Stats;

/// `[metrics]`. Absent means no endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where the scrape endpoint listens; keep it off the client network.
    pub listen: SocketAddr,
}

#[cfg(test)]
mod tests;
