//! The pool's `Connector` for a configured cluster: one upstream connection opened the way
//! connection mode opens one (host order, TCP, TLS, hello, service login, primary check,
//! buildInfo), so a pooled connection is logged in as the service user before it is
//! handed out.

use std::sync::{Arc, Weak};

use super::driver::{Connector, Pool};
use crate::config::pool::{PoolConfig, PoolMode};
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
        Ok(limits) => limits.into(),
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

#[cfg(test)]
mod tests {
    use crate::config::{ClusterConfig, UpstreamUri};
    use crate::proxy::upstream::Cluster;

    fn cluster_config(pool: &str) -> ClusterConfig {
        let text = format!("name = \"a\"\nuri = \"mongodb://127.0.0.1:1\"\n{pool}");
        toml::from_str(&text).expect("cluster table")
    }

    #[test]
    fn only_request_mode_has_a_pool_and_a_changed_pool_is_a_changed_cluster() {
        let uri = UpstreamUri::parse("mongodb://127.0.0.1:1").expect("uri");
        let plain = cluster_config("");
        let connection = cluster_config("pool = { mode = \"connection\", max_size = 3 }");
        let pooled = cluster_config("pool = { mode = \"request\", max_size = 3 }");
        let cluster = Cluster::new(&plain, &uri);
        assert!(cluster.pool().is_none(), "connection mode by default");
        assert!(Cluster::new(&connection, &uri).pool().is_none());
        assert!(cluster.same_config(&plain));
        assert!(
            !cluster.same_config(&pooled),
            "a reload that changes the pool reports a restart"
        );
        let limits = Cluster::new(&pooled, &uri).pool().map(|p| p.limits());
        assert_eq!(limits.map(|l| l.max_size), Some(3));
    }
}
