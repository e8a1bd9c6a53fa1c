//! Prometheus metrics: the text rendering of the process-wide registry ([`Metrics`],
//! `proxy::state::stats::Stats`) and a scrape endpoint on a listener of its own. The
//! registry does not know this module: metrics reads stats, never the other way round.
//!
//! ```toml
//! [metrics]
//! listen = "127.0.0.1:9216"
//! ```

mod http;
mod pool;
mod render;

use std::net::SocketAddr;

use serde::Deserialize;

pub use http::serve;
pub use render::render;

/// The registry every connection increments.
pub type Metrics = crate::proxy::state::stats::Stats;

/// `[metrics]`. Absent means no endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where the scrape endpoint listens; keep it off the client network.
    pub listen: SocketAddr,
}

#[cfg(test)]
mod tests;
