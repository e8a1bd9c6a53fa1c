//! `mongoward check-config --probe`: connect to every cluster as the proxy would (TCP,
//! service-user login, hello and buildInfo) and report one line per cluster.
//!
//! Lines name the cluster and the failing step, never the service user or its password.

use crate::config::Config;
use crate::proxy::upstream::{Cluster, UpstreamError};

/// One cluster's outcome.
#[derive(Debug)]
pub struct ProbeResult {
    pub cluster: String,
    pub ok: bool,
    pub line: String,
}

/// Probes every cluster in turn (a handful of clusters: no need for parallelism).
pub async fn probe_all(config: &Config) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for (c, uri) in &config.clusters {
        let cluster = Cluster::new(c, uri);
        let auth = if uri.user.is_some() {
            "service user authenticated"
        } else {
            "no service user"
        };
        let (ok, detail) = match cluster.probe().await {
            Ok(info) => (
                true,
                format!("reachable, {auth}, server version {}", info.version),
            ),
            Err(e @ UpstreamError::Auth(_)) => (false, format!("reachable, {e}")),
            Err(e) => (false, format!("unreachable: {e}")),
        };
        out.push(ProbeResult {
            cluster: c.name.clone(),
            ok,
            line: format!("cluster {}: {detail}", c.name),
        });
    }
    out
}
