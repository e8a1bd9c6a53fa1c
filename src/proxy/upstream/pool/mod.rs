//! Upstream connection pooling (issue 15): a pure pool core, its async driver, the
//! `pool = { ... }` configuration table and the cluster's connector. Sessions of a cluster
//! in `mode = "request"` lease a connection per request; see docs/pooling.md for what may
//! and may not share an upstream connection.

pub mod config;
pub mod connector;
pub mod core;
pub mod driver;
pub mod lease;
pub mod types;

pub use self::config::{PoolConfig, PoolConfigError, PoolMode};
pub use self::connector::{pool_for, ClusterConnector};
pub use self::core::{DiscardReason, Limits, Outcome, PoolCore, Stats};
pub use self::driver::{Connector, Lease, Pool, PoolError};
