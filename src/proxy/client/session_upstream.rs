//! The session's waits on its upstream (connect, send, reply), glued to `wait`: what a
//! revocation, a vanished client or a deadline does to the command under way.

use tracing::{debug, info, warn};

use crate::error_code::ErrorCode;
use crate::ops::ratelimit::LogLimit;
use crate::proxy::client::replies::{ErrorReply, ReplyTo};
use crate::proxy::client::session::{upstream_error_reply, Flow, Session};
use crate::proxy::state::stats::Stats;
use crate::proxy::upstream::wait::{Waited, Watch, PATIENCE};
use crate::proxy::upstream::UpstreamConn;
use crate::wire::OpMsg;

/// Warnings per second for events a misbehaving peer can repeat at will.
static UPSTREAM_CONNECT_LOG: LogLimit = LogLimit::per_second(5);
static UPSTREAM_TIMEOUT_LOG: LogLimit = LogLimit::per_second(5);

impl Session {
    /// Opens the upstream connection if there is none, watching the client and the
    /// stop signal meanwhile (the set-up has its own deadline, `connect_timeout_secs`).
    pub(crate) async fn connect_upstream(&mut self) -> Result<(), Waited<ErrorReply>> {
        if self.upstream.is_some() {
            return Ok(());
        }
        let cluster = self.info.cluster.clone();
        let hosts = u32::try_from(cluster.uri.hosts.len()).unwrap_or(u32::MAX);
        let limit = cluster
            .connect_timeout
            .saturating_mul(hosts.saturating_add(1));
        let (_, watch) = self.watch();
        let conn = match watch.wait(cluster.connect(), || limit, false).await {
            Waited::Done(Ok(conn)) => conn,
            Waited::Done(Err(e)) => {
                self.shared.stats.record_upstream_error(&self.cluster_stats);
                if let Some(suppressed) = UPSTREAM_CONNECT_LOG.check(crate::config::now_unix()) {
                    warn!(conn.id = self.info.id, cluster.name = %cluster.name, error = %e, log.suppressed = suppressed, "upstream connection failed");
                }
                return Err(Waited::Done(upstream_error_reply(&e)));
            }
            Waited::TimedOut(_) => {
                return Err(Waited::Done(ErrorReply::network_timeout("connect")));
            }
            Waited::Revoked => return Err(Waited::Revoked),
            Waited::Drained => return Err(Waited::Drained),
            Waited::ClientGone => return Err(Waited::ClientGone),
        };
        Stats::inc(&self.cluster_stats.connections);
        info!(conn.id = self.info.id, cluster.name = %cluster.name, "upstream connection opened");
        self.upstream = Some(conn);
        Ok(())
    }

    /// The upstream connection and what a wait on it watches (disjoint borrows).
    pub(crate) fn watch(&mut self) -> (Option<&mut UpstreamConn>, Watch<'_>) {
        let timer = self
            .wait_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(PATIENCE)));
        let watch = Watch {
            client: &mut self.client,
            buf: &mut self.buf,
            handle: &self.handle,
            timer: timer.as_mut(),
        };
        (self.upstream.as_mut(), watch)
    }

    /// A wait on the upstream ended without its result. The upstream connection is
    /// dropped either way: a late reply would answer the wrong request.
    pub(crate) async fn wait_ended<T>(
        &mut self,
        ended: Waited<T>,
        msg: &OpMsg,
        to: &ReplyTo,
        can_reply: bool,
    ) -> Flow {
        self.drop_upstream();
        let limit = match ended {
            Waited::TimedOut(limit) => limit,
            Waited::Revoked | Waited::Drained | Waited::ClientGone | Waited::Done(_) => {
                debug!(
                    conn.id = self.info.id,
                    "closing while waiting on the upstream"
                );
                return Flow::Close;
            }
        };
        self.shared.stats.record_upstream_error(&self.cluster_stats);
        if let Some(suppressed) = UPSTREAM_TIMEOUT_LOG.check(crate::config::now_unix()) {
            warn!(conn.id = self.info.id, cluster.name = %self.info.cluster.name, timeout_ms = limit.as_millis() as u64, log.suppressed = suppressed, "upstream did not reply in time; dropping the upstream connection");
        }
        if !can_reply || msg.more_to_come() {
            return Flow::Close;
        }
        // MaxTimeMSExpired: a time limit ran out; drivers report it and do not retry
        // into the same silent upstream.
        let err = ErrorReply::new(ErrorCode::MaxTimeMsExpired, format!(
                "the upstream did not reply within {} ms (mongoward reply_timeout_secs plus the command's maxTimeMS)",
                limit.as_millis()
            ),
        );
        self.reply_error(to, &err).await;
        Flow::Continue
    }
}
