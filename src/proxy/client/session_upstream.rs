//! The session's waits on its upstream (connect, send, reply), glued to `wait`: what a
//! revocation, a vanished client or a deadline does to the command under way.

use tracing::{debug, info, warn};

use crate::error_code::ErrorCode;
use crate::ops::ratelimit::LogLimit;
use crate::proxy::client::replies::{ErrorReply, ReplyTo};
use crate::proxy::client::session::{upstream_error_reply, Flow, Session};
use crate::proxy::state::stats::Stats;
use crate::proxy::upstream::pool::{pin, ClusterConnector, DiscardReason, Lease, Pins, PoolError};
use crate::proxy::upstream::wait::{Waited, Watch, PATIENCE};
use crate::proxy::upstream::{UpstreamConn, UpstreamError};
use crate::wire::{self, OpMsg};

/// The session's upstream side.
pub(crate) enum Upstream {
    None,
    /// `mode = "connection"`: this session's own connection, for its whole life.
    Own(UpstreamConn),
    /// `mode = "request"`: a pooled connection, for one request/reply (or one exhaust
    /// stream, or while pinned to a mongos transaction or cursor); returned clean after
    /// the full reply, discarded on anything else.
    Leased(Held),
}

impl Upstream {
    fn conn(&mut self) -> Option<&mut UpstreamConn> {
        match self {
            Upstream::None => None,
            Upstream::Own(c) => Some(c),
            Upstream::Leased(h) => h.lease.as_deref_mut(),
        }
    }
}

/// A leased connection and what it carries on its mongos (`pool::pin`).
pub(crate) struct Held {
    lease: Option<Lease<ClusterConnector>>,
    pins: Pins,
}

impl Held {
    fn take(mut self) -> Option<Lease<ClusterConnector>> {
        self.lease.take()
    }
}

impl Drop for Held {
    /// The session ended with the lease (a client gone, revoked or drained): closed,
    /// never returned, and counted by whether a mongos still held state for it.
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.discard(match self.pins.hold() {
                true => DiscardReason::ClientGoneWhilePinned,
                false => DiscardReason::ClientGoneMidReply,
            });
        }
    }
}

/// Warnings per second for events a misbehaving peer can repeat at will.
static UPSTREAM_CONNECT_LOG: LogLimit = LogLimit::per_second(5);
static UPSTREAM_TIMEOUT_LOG: LogLimit = LogLimit::per_second(5);

impl Session {
    /// Opens the upstream connection if there is none, watching the client and the
    /// stop signal meanwhile (the set-up has its own deadline, `connect_timeout_secs`).
    pub(crate) async fn connect_upstream(&mut self) -> Result<(), Waited<ErrorReply>> {
        if !matches!(self.upstream, Upstream::None) {
            return Ok(());
        }
        if self.info.cluster.pool().is_some() {
            return self.lease_upstream().await;
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
                self.services
                    .stats
                    .record_upstream_error(&self.cluster_stats);
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
        self.upstream = Upstream::Own(conn);
        Ok(())
    }

    /// Request mode: a pooled connection for this request, waiting at most the pool's
    /// `wait_timeout_ms` (plus the time to open one, which the connector bounds itself).
    async fn lease_upstream(&mut self) -> Result<(), Waited<ErrorReply>> {
        let cluster = self.info.cluster.clone();
        let Some(pool) = cluster.pool() else {
            return Err(Waited::Done(ErrorReply::host_unreachable(
                "no upstream pool",
            )));
        };
        cluster.start_upkeep(&self.cluster_stats);
        let hosts = u32::try_from(cluster.uri.hosts.len()).unwrap_or(u32::MAX);
        let limit = std::time::Duration::from_millis(pool.limits().wait_timeout_ms)
            + cluster
                .connect_timeout
                .saturating_mul(hosts.saturating_add(1));
        let start = std::time::Instant::now();
        let (_, watch) = self.watch();
        let lease = match watch.wait(pool.get(), || limit, false).await {
            Waited::Done(Ok(lease)) => {
                self.cluster_stats.pool_wait.observe(start.elapsed());
                lease
            }
            Waited::Done(Err(e)) => return Err(Waited::Done(self.pool_refused(&e))),
            Waited::TimedOut(_) => {
                return Err(Waited::Done(ErrorReply::network_timeout("connect")));
            }
            Waited::Revoked => return Err(Waited::Revoked),
            Waited::Drained => return Err(Waited::Drained),
            Waited::ClientGone => return Err(Waited::ClientGone),
        };
        self.upstream = Upstream::Leased(Held {
            lease: Some(lease),
            pins: Pins::default(),
        });
        Ok(())
    }

    /// The reply for a request the pool gave no connection.
    fn pool_refused(&self, e: &PoolError) -> ErrorReply {
        let cluster = &self.info.cluster.name;
        match e {
            // Nothing was sent: NetworkTimeout (89) is retryable by every driver
            // (docs/pooling.md, "The error a client gets when the pool wait times out").
            PoolError::WaitTimeout { .. } | PoolError::QueueFull { .. } => {
                debug!(conn.id = self.info.id, cluster.name = %cluster, error = %e, "no pooled upstream connection in time");
                ErrorReply::new(ErrorCode::NetworkTimeout, e.to_string())
            }
            PoolError::Connect(inner) => {
                self.services
                    .stats
                    .record_upstream_error(&self.cluster_stats);
                if let Some(suppressed) = UPSTREAM_CONNECT_LOG.check(crate::config::now_unix()) {
                    warn!(conn.id = self.info.id, cluster.name = %cluster, error = %e, log.suppressed = suppressed, "upstream connection failed");
                }
                match inner.downcast_ref::<UpstreamError>() {
                    Some(u) => upstream_error_reply(u),
                    None => ErrorReply::host_unreachable("cannot connect"),
                }
            }
            PoolError::Closed | PoolError::Core(_) => {
                warn!(conn.id = self.info.id, cluster.name = %cluster, error = %e, "upstream pool unavailable");
                ErrorReply::host_unreachable("the upstream pool is unavailable")
            }
        }
    }

    /// The exchange finished with nothing left unread: a leased connection goes back to
    /// the pool, unless it is pinned to a mongos transaction or cursor (an own connection
    /// stays).
    pub(crate) fn release_upstream(&mut self) {
        if let Upstream::Leased(held) = &self.upstream {
            if held.pins.hold() {
                return;
            }
            if let Upstream::Leased(held) = std::mem::replace(&mut self.upstream, Upstream::None) {
                if let Some(lease) = held.take() {
                    lease.clean();
                }
            }
        }
    }

    /// Request mode on a mongos: what this reply to `msg` starts or ends that must stay on
    /// this connection (nothing to do for a replica set or standalone).
    pub(crate) fn track_pins(&mut self, msg: &OpMsg, frame: &bytes::Bytes) {
        let Upstream::Leased(held) = &mut self.upstream else {
            return;
        };
        if !held.lease.as_ref().is_some_and(|l| l.mongos) {
            return;
        }
        let request = pin::Request::of(msg.body());
        let limits = self.info.cluster.info().limits();
        match wire::peek_reply(frame) {
            Some(p) => held.pins.observe(&request, &pin::Reply::of(p.body)),
            None => match wire::decode_reply(frame.clone(), &limits) {
                Ok(wire::Reply::Msg(m)) => held.pins.observe(&request, &pin::Reply::of(m.body())),
                // Nothing to go by: whatever it opened may live on this mongos.
                _ => held.pins.pin_for_good(),
            },
        }
    }

    /// Closes the upstream connection (a leased one is discarded, counted by `reason`).
    /// Cursors live on in mongod (they belong to the user, not the connection) and time
    /// out there if nobody resumes them.
    pub(crate) fn discard_upstream(&mut self, reason: DiscardReason) {
        if let Upstream::Leased(held) = std::mem::replace(&mut self.upstream, Upstream::None) {
            if let Some(lease) = held.take() {
                lease.discard(reason);
            }
            if reason == DiscardReason::NotWritablePrimary {
                // A failover: no idle connection to the old primary is handed out again.
                self.clear_pool();
            }
        }
    }

    /// Request mode: a new pool generation; idle connections close now, those in use when
    /// they come back.
    pub(crate) fn clear_pool(&self) {
        if let Some(pool) = self.info.cluster.pool() {
            let closed = pool.bump_generation();
            debug!(conn.id = self.info.id, cluster.name = %self.info.cluster.name, idle_closed = closed, "upstream pool cleared");
        }
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
        (self.upstream.conn(), watch)
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
        self.discard_upstream(match ended {
            Waited::TimedOut(_) => DiscardReason::Timeout,
            // A revoked client is cut mid-reply too: its connection has unread bytes.
            Waited::ClientGone | Waited::Revoked => DiscardReason::ClientGoneMidReply,
            Waited::Drained => DiscardReason::Drain,
            Waited::Done(_) => DiscardReason::Error,
        });
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
        self.services
            .stats
            .record_upstream_error(&self.cluster_stats);
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
