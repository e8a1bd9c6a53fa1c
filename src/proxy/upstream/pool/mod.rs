//! Upstream connection pooling (issue 15): a pure pool core, its async driver, the
//! `pool = { ... }` configuration table and the cluster's connector. Sessions of a cluster
//! in `mode = "request"` lease a connection per request; see docs/pooling.md for what may
//! and may not share an upstream connection.

pub mod connector;
pub mod core;
pub mod driver;
pub mod lease;
pub mod pin;
pub mod types;

// The configuration table lives with the rest of the configuration (config never
// depends on the proxy); re-exported here where the pool is used.
pub use self::connector::{pool_for, ClusterConnector};
pub use self::core::{DiscardReason, Limits, Outcome, PoolCore, Stats};
pub use self::driver::{Connector, Lease, Pool, PoolError};
pub use self::pin::Pins;
pub use crate::config::pool::{PoolConfig, PoolConfigError, PoolMode};
