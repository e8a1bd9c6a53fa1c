//! The pool's `Connector` for a configured cluster: one upstream connection opened the way
//! connection mode opens one (host order, TCP, TLS, hello, service login, primary check,
//! buildInfo), so a pooled connection is logged in as the service user before it is
//! handed out.

use std::sync::{Arc, Weak};

use super::config::{PoolConfig, PoolMode};
use super::driver::{Connector, Pool};
use crate::proxy::upstream::{Cluster, UpstreamConn, UpstreamError};

/// Opens connections for one cluster's pool. Holds the cluster weakly: the cluster owns
/// its pool, and a removed cluster must not be kept alive by it.
pub struct ClusterConnector {
    pub(crate) cluster: Weak<Cluster>,
}

impl Connector for ClusterConnector {
    type Conn = UpstreamConn;
    type Error = UpstreamError;

    async fn connect(&self) -> Result<UpstreamConn, UpstreamError> {
        let cluster: Arc<Cluster> = self
            .cluster
            .upgrade()
            .ok_or_else(|| UpstreamError::Protocol("the cluster was removed".into()))?;
        cluster.connect().await
    }
}

/// The pool a cluster gets: `Some` in `mode = "request"`. The configuration was validated
/// at load time; a value that fails here anyway leaves the cluster in connection mode
/// rather than inventing limits.
pub fn pool_for(config: &PoolConfig, cluster: &Weak<Cluster>) -> Option<Pool<ClusterConnector>> {
    if config.mode != PoolMode::Request {
        return None;
    }
    let limits = match config.validate() {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "invalid pool settings; the cluster stays in connection mode");
            return None;
        }
    };
    let connector = ClusterConnector {
        cluster: cluster.clone(),
    };
    Some(Pool::new(connector, limits))
}
