//! Upstream connection pooling (issue 15), groundwork: a pure pool core, its async driver
//! and the `pool = { ... }` configuration table. Not wired into sessions yet; see
//! docs/pooling.md for what may and may not share an upstream connection.

pub mod config;
pub mod core;
pub mod driver;
pub mod lease;
pub mod types;

pub use self::config::{PoolConfig, PoolConfigError, PoolMode};
pub use self::core::{DiscardReason, Limits, Outcome, PoolCore, Stats};
pub use self::driver::{Connector, Lease, Pool, PoolError};
