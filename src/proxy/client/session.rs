//! The session driver: one client connection, glued to the connection core.
//!
//! read frame -> decode (wire) -> `Conn::on_msg` / `Conn::on_query` decides (handshake,
//! authentication, authorization, the proxy's own answers) -> carry out the `Step`:
//! reply, refuse, forward the checked bytes upstream and relay the replies (cursor ids
//! recorded, reply filters applied), or close. Everything that decides lives in `conn`;
//! this file only moves bytes, waits and performs the effects.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::RawDocumentBuf;
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::time::Sleep;
use tracing::{debug, warn};

use crate::ops::ratelimit::LogLimit;
use crate::proxy::client::conn::{self, needs_nonce, Conn, ReplyFilter, Step};
use crate::proxy::client::replies::{self, ErrorReply, ReplyTo};
use crate::proxy::client::session_conn::{draw_nonce, env_of};
use crate::proxy::client::session_upstream::Upstream;
use crate::proxy::io::{read_frame, FrameError, Stream};
use crate::proxy::state::counters::ClusterCounters;
use crate::proxy::state::handle::SessionHandle;
use crate::proxy::state::services::Services;
use crate::proxy::state::signal::Stop;
use crate::proxy::state::stats::Stats;
use crate::proxy::upstream::inspect;
use crate::proxy::upstream::pool::DiscardReason;
use crate::proxy::upstream::renumber::{answer_to, renumbered};
use crate::proxy::upstream::wait::{max_time_ms, reply_limit, Waited};
use crate::proxy::upstream::{
    capped_limits, next_request_id, Cluster, UpstreamError, UpstreamInfo,
};
use crate::wire::{self, OpMsg, OpQuery, Request};

/// Malformed-message warnings per second (a peer can send them at will).
static MALFORMED_LOG: LogLimit = LogLimit::per_second(10);

/// What a forwarded request's replies need: how they map back and what to apply.
struct Relay {
    /// The proxy's own requestID on a pooled connection.
    upstream_id: Option<i32>,
    /// The cursor a getMore reads (closed when its reply says so).
    closing: Option<i64>,
    filter: ReplyFilter,
    sent_at: Instant,
}

/// Whether the loop goes on after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// Who is on the other end, for logs and decisions.
#[derive(Clone)]
pub struct ConnInfo {
    pub id: i64,
    /// The client (after PROXY protocol, if any).
    pub peer: SocketAddr,
    /// The proxy address the client reached.
    pub local: SocketAddr,
    pub cluster: Arc<Cluster>,
}

/// Per-connection state.
pub struct Session {
    pub info: ConnInfo,
    /// What every connection reads: policy, registries, counters, limits.
    pub(crate) services: Arc<Services>,
    pub(crate) client: Stream,
    pub(crate) upstream: Upstream,
    /// The connection core: its state and every decision; no sockets.
    pub(crate) conn: Conn,
    /// The upstream's hello facts, read once per message.
    pub(crate) facts: Arc<UpstreamInfo>,
    next_id: i32,
    pub(crate) buf: BytesMut,
    pub(crate) handle: Arc<SessionHandle>,
    /// When the message being handled was fully read (for the proxy-added latency).
    received_at: Instant,
    /// This cluster's upstream counters (looked up once, not per message).
    pub(crate) cluster_stats: Arc<ClusterCounters>,
    /// Deadline of waits on the upstream; one per session, only ever pushed later on the
    /// fast path (see `wait`).
    pub(crate) wait_timer: Option<Pin<Box<Sleep>>>,
    /// Audit events waiting for queue space (`on_full = "block"` only).
    pub(crate) audit_backlog: Vec<crate::ops::audit::AuditEvent>,
}

impl Session {
    pub fn new(
        info: ConnInfo,
        services: Arc<Services>,
        client: Stream,
        handle: Arc<SessionHandle>,
    ) -> Session {
        let cluster_stats = services.stats.cluster(&info.cluster.name);
        let conn = Conn::accepted(info.id, info.peer, info.local, &info.cluster.name);
        Session {
            conn,
            facts: info.cluster.info(),
            info,
            services,
            client,
            upstream: Upstream::None,
            next_id: 1,
            buf: BytesMut::new(),
            handle,
            received_at: Instant::now(),
            cluster_stats,
            wait_timer: None,
            audit_backlog: Vec::new(),
        }
    }

    /// Serves the client until it leaves, breaks the protocol, or the proxy stops.
    pub async fn run(mut self) {
        let handle = self.handle.clone();
        // One idle timer per connection, pushed back after each message: pushing a
        // deadline later is lock-free in tokio, registering a new timer is not.
        let mut idle = self
            .services
            .idle_timeout
            .map(|d| Box::pin(tokio::time::sleep(d)));
        // The login deadline: armed while the connection is unauthenticated.
        let mut login = self
            .services
            .login_timeout
            .map(|d| Box::pin(tokio::time::sleep(d)));
        loop {
            // One snapshot of the upstream's limits per message, for reading and decoding,
            // under the proxy's own cap (`server.max_message_size_bytes`).
            self.facts = self.info.cluster.info();
            let limits = capped_limits(self.facts.limits(), self.services.max_message_size);
            let max = limits.max_message_size;
            let frame = tokio::select! {
                // A stop is seen before more input, so a drain does not serve new messages.
                biased;
                stop = handle.stopped() => match self.finish_started(stop, max).await {
                    Some(f) => f,
                    None => break,
                },
                f = read_frame(&mut self.client, &mut self.buf, max) => f,
                _ = expire(&mut idle) => {
                    debug!(conn.id = self.info.id, "idle timeout; closing connection");
                    break;
                }
                _ = expire(&mut login) => {
                    Stats::inc(&self.services.stats.login_timeouts);
                    debug!(conn.id = self.info.id, client.addr = %self.info.peer, "no authentication within the login timeout; closing connection");
                    break;
                }
            };
            let flow = match frame {
                Ok(None) => break,
                Ok(Some((header, bytes))) => self.on_frame(header, bytes, &limits).await,
                Err(e) => self.on_bad_frame(e).await,
            };
            if !self.audit_backlog.is_empty() {
                self.flush_audit_backlog().await;
            }
            if flow == Flow::Close {
                break;
            }
            if let (Some(timer), Some(d)) = (idle.as_mut(), self.services.idle_timeout) {
                timer.as_mut().reset(tokio::time::Instant::now() + d);
            }
            self.update_login_deadline(&mut login);
        }
        let _ = self.client.shutdown().await;
        debug!(conn.id = self.info.id, "session closed");
    }

    /// On a drain, a message the client had started sending is still read and served
    /// (its first bytes are already in the buffer); a revocation closes at once.
    async fn finish_started(
        &mut self,
        stop: Stop,
        max: usize,
    ) -> Option<Result<Option<(wire::Header, Bytes)>, FrameError>> {
        if stop == Stop::Revoked || self.buf.is_empty() {
            return None;
        }
        let handle = self.handle.clone();
        tokio::select! {
            f = read_frame(&mut self.client, &mut self.buf, max) => Some(f),
            _ = handle.revoked() => None,
        }
    }

    async fn on_bad_frame(&mut self, e: FrameError) -> Flow {
        if e.is_hang_up() {
            tracing::debug!(conn.id = self.info.id, client.addr = %self.info.peer, error = %e, "client hung up");
            return Flow::Close;
        }
        if let Some(suppressed) = MALFORMED_LOG.check(crate::config::now_unix()) {
            warn!(conn.id = self.info.id, client.addr = %self.info.peer, error = %e, log.suppressed = suppressed, "refused message; closing connection");
        }
        if let FrameError::Rejected { header, error } = &e {
            let to = ReplyTo {
                op_code: header.op_code,
                request_id: header.request_id,
                compressor: None,
            };
            self.reply_error(&to, &ErrorReply::from(error)).await;
        }
        Flow::Close
    }

    async fn on_frame(
        &mut self,
        header: wire::Header,
        bytes: Bytes,
        limits: &wire::Limits,
    ) -> Flow {
        Stats::inc(&self.services.stats.messages_in);
        self.received_at = Instant::now();
        match wire::decode_request(bytes, limits) {
            Ok(Request::Msg(msg)) => self.on_msg(msg).await,
            Ok(Request::Query(q)) => self.on_query(q).await,
            Err(e) => {
                Stats::inc(&self.services.stats.malformed);
                if let Some(suppressed) = MALFORMED_LOG.check(crate::config::now_unix()) {
                    warn!(conn.id = self.info.id, client.addr = %self.info.peer, error = %e, log.suppressed = suppressed, "malformed message; closing connection");
                }
                let to = ReplyTo {
                    op_code: header.op_code,
                    request_id: header.request_id,
                    compressor: None,
                };
                self.reply_error(&to, &ErrorReply::from(&e)).await;
                Flow::Close
            }
        }
    }

    async fn on_query(&mut self, q: OpQuery) -> Flow {
        let to = ReplyTo {
            op_code: wire::OP_QUERY,
            request_id: q.header().request_id,
            compressor: q.compressor(),
        };
        let nonce = needs_nonce(q.command_name()).then(draw_nonce);
        let out = self
            .conn
            .on_query(&q, &env_of(&self.services, &self.facts, nonce));
        match self.settle(out).await {
            Step::Reply(doc) => self.reply_doc(&to, &doc).await,
            Step::Refuse(err) => self.reply_error(&to, &err).await,
            // `on_query` refuses what it would forward; nothing else is left to say.
            Step::Forward(_) | Step::Close | Step::Wait(_) => return Flow::Close,
        }
        Flow::Continue
    }

    async fn on_msg(&mut self, msg: OpMsg) -> Flow {
        let to = ReplyTo {
            op_code: wire::OP_MSG,
            request_id: msg.header().request_id,
            compressor: msg
                .compressor()
                .filter(|c| self.conn.compressors.contains(c)),
        };
        if let Some(c) = msg.compressor() {
            Stats::inc(self.services.stats.compressed(c));
        }
        let nonce = needs_nonce(msg.command_name()).then(draw_nonce);
        let out = self
            .conn
            .on_msg(&msg, &env_of(&self.services, &self.facts, nonce));
        let mut step = self.settle(out).await;
        if msg.more_to_come() {
            if let Step::Refuse(err) = &step {
                warn!(conn.id = self.info.id, code = err.code.code(), error = %err.errmsg, "refused a moreToCome message; closing connection");
            }
            match conn::unanswered(step) {
                Some(s) => step = s,
                None => return Flow::Continue,
            }
        }
        match step {
            Step::Reply(doc) => self.reply_doc(&to, &doc).await,
            Step::Refuse(err) => self.reply_error(&to, &err).await,
            Step::Forward(filter) => return self.forward(&msg, &to, filter).await,
            Step::Close | Step::Wait(_) => return Flow::Close,
        }
        Flow::Continue
    }

    fn own_request_id(&mut self) -> i32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    pub(crate) async fn reply_doc(&mut self, to: &ReplyTo, doc: &RawDocumentBuf) {
        let id = self.own_request_id();
        let bytes = replies::encode(to, id, doc);
        self.write_client(&bytes).await;
    }

    pub(crate) async fn reply_error(&mut self, to: &ReplyTo, err: &ErrorReply) {
        self.reply_doc(to, &err.to_doc()).await;
    }

    async fn write_client(&mut self, bytes: &[u8]) {
        // A client that vanished surfaces as a read error on the next loop turn; one
        // that stops reading is still closed by a revocation (the loop then sees it).
        let write = async {
            if self.client.write_all(bytes).await.is_ok() {
                let _ = self.client.flush().await;
            }
        };
        tokio::select! {
            biased;
            () = write => {}
            _ = self.handle.revoked() => {}
        }
    }

    /// Closes the upstream connection (see `discard_upstream`).
    pub(crate) fn drop_upstream(&mut self) {
        self.discard_upstream(DiscardReason::Error);
    }

    fn observe_cursor(&self, id: i64, ns: &str, closing: Option<i64>) {
        self.conn.observe_cursor(&self.env(), id, ns, closing);
    }

    /// Sends the checked bytes upstream and relays every reply (exhaust streams included).
    async fn forward(&mut self, msg: &OpMsg, to: &ReplyTo, filter: ReplyFilter) -> Flow {
        let closing = (msg.command_name() == "getMore")
            .then(|| msg.body().get_i64("getMore").ok())
            .flatten();
        match self.connect_upstream().await {
            Ok(()) => {}
            Err(Waited::Done(err)) => return self.refuse_forward(msg, to, err).await,
            Err(ended) => return self.wait_ended(ended, msg, to, false).await,
        }
        // A pooled connection carries many clients' requests: the proxy numbers them
        // itself and maps the reply back (header only; the checked body is unchanged).
        let upstream_id = matches!(self.upstream, Upstream::Leased(_)).then(next_request_id);
        if let Some(flow) = self.send_upstream(msg, to, upstream_id).await {
            return flow;
        }
        let sent_at = Instant::now();
        Stats::inc(&self.services.stats.forwarded);
        if msg.more_to_come() {
            // Fire-and-forget: no reply will come, nothing is left to read.
            self.release_upstream();
            return Flow::Continue;
        }
        let relay = Relay {
            upstream_id,
            closing,
            filter,
            sent_at,
        };
        self.relay_replies(msg, to, &relay).await
    }

    /// Writes the (renumbered, when pooled) request upstream; `Some` when it ended the
    /// request instead.
    async fn send_upstream(
        &mut self,
        msg: &OpMsg,
        to: &ReplyTo,
        upstream_id: Option<i32>,
    ) -> Option<Flow> {
        let out = match upstream_id {
            Some(id) => Cow::Owned(renumbered(msg.as_bytes(), id, msg.header().response_to)),
            None => Cow::Borrowed(msg.as_bytes()),
        };
        let limit = self.reply_limit_of(msg);
        let sent = match self.watch() {
            (Some(up), watch) => watch.wait(up.send(&out), limit, false).await,
            (None, _) => return Some(Flow::Close),
        };
        match sent {
            Waited::Done(Ok(())) => None,
            Waited::Done(Err(e)) => Some(self.upstream_lost(msg, to, e, true).await),
            ended => Some(self.wait_ended(ended, msg, to, true).await),
        }
    }

    /// The reply deadline of a request, asked only when a wait is slow: the fast path
    /// never scans the body for it.
    fn reply_limit_of<'m>(&self, msg: &'m OpMsg) -> impl FnOnce() -> Duration + Copy + 'm {
        let base = self.info.cluster.reply_timeout;
        move || reply_limit(base, max_time_ms(msg.body()))
    }

    /// Reads replies until the last one (one, or an exhaust stream) and relays each.
    async fn relay_replies(&mut self, msg: &OpMsg, to: &ReplyTo, relay: &Relay) -> Flow {
        let limit = self.reply_limit_of(msg);
        let mut first = true;
        loop {
            // A drain ends an exhaust stream between replies; it lets a first reply come.
            let received = match self.watch() {
                (Some(up), watch) => watch.wait(up.recv(), limit, !first).await,
                (None, _) => return Flow::Close,
            };
            let (_, frame) = match received {
                Waited::Done(Ok(f)) => f,
                Waited::Done(Err(e)) => return self.upstream_lost(msg, to, e, first).await,
                ended => return self.wait_ended(ended, msg, to, first).await,
            };
            let replied_at = Instant::now();
            let done = self.relay_reply(msg, to, relay, frame).await;
            if std::mem::take(&mut first) {
                self.observe_latency(relay.sent_at, replied_at);
            }
            if done {
                return Flow::Continue;
            }
        }
    }

    /// Inspects one reply, gives the upstream connection back when nothing more is to be
    /// read, then filters and writes the reply; returns whether it was the last one.
    async fn relay_reply(
        &mut self,
        msg: &OpMsg,
        to: &ReplyTo,
        relay: &Relay,
        frame: Bytes,
    ) -> bool {
        let frame = match relay.upstream_id {
            Some(id) => answer_to(frame, id, to.request_id),
            None => frame,
        };
        let (more, stale) = self.inspect_reply(&frame, relay.closing);
        self.track_pins(msg, &frame);
        // Nothing more to read: a pooled connection goes back before the client sees
        // the reply, so the client's next request (on any connection) finds it idle.
        if stale {
            self.discard_upstream(DiscardReason::NotWritablePrimary);
        } else if !more {
            self.release_upstream();
        }
        let frame = match relay.filter {
            ReplyFilter::None => frame,
            _ => self.filter_reply(frame, relay.filter, msg.db().unwrap_or("")),
        };
        let out = match to.compressor {
            Some(c) => wire::compress(&frame, c).unwrap_or(frame),
            None => frame,
        };
        self.write_client(&out).await;
        stale || !more
    }

    /// Latency histograms: upstream time (send to reply) and the time the proxy itself
    /// added on both sides of it (reading, gates and relaying).
    fn observe_latency(&self, sent_at: Instant, replied_at: Instant) {
        let upstream = replied_at.saturating_duration_since(sent_at);
        let total = self.received_at.elapsed();
        self.services.stats.observe_upstream(upstream);
        self.services
            .stats
            .observe_proxy(total.saturating_sub(upstream));
    }

    /// Reads the cursor id out of a reply; returns whether more replies follow (exhaust)
    /// and whether the server stopped being the primary (the next request must find the
    /// new one). The one-pass peek covers what servers send; anything unusual takes the
    /// full decoder.
    fn inspect_reply(&mut self, frame: &Bytes, closing: Option<i64>) -> (bool, bool) {
        if let Some(f) = inspect::peek(frame) {
            if let Some((id, ns)) = f.cursor {
                self.observe_cursor(id, ns, closing);
            }
            return (f.more_to_come, f.not_primary);
        }
        let limits = self.info.cluster.info().limits();
        match wire::decode_reply(frame.clone(), &limits) {
            Ok(wire::Reply::Msg(m)) => {
                let f = inspect::facts(m.body());
                if let Some((id, ns)) = f.cursor {
                    self.observe_cursor(id, ns, closing);
                }
                (m.more_to_come(), f.not_primary)
            }
            Ok(wire::Reply::Reply(_)) => (false, false),
            Err(e) => {
                warn!(conn.id = self.info.id, error = %e, "upstream sent a malformed reply");
                (false, false)
            }
        }
    }

    async fn refuse_forward(&mut self, msg: &OpMsg, to: &ReplyTo, err: ErrorReply) -> Flow {
        if msg.more_to_come() {
            return Flow::Close;
        }
        let err = conn::retryable_label(msg.body(), err);
        self.reply_error(to, &err).await;
        Flow::Continue
    }

    /// `can_reply` is false in the middle of an exhaust stream: the client expects the next
    /// streamed reply, whose requestID it cannot know, so an error reply would break the
    /// OP_MSG chain; closing is the only honest answer (as for a timeout mid-stream).
    async fn upstream_lost(
        &mut self,
        msg: &OpMsg,
        to: &ReplyTo,
        e: UpstreamError,
        can_reply: bool,
    ) -> Flow {
        self.services
            .stats
            .record_upstream_error(&self.cluster_stats);
        warn!(conn.id = self.info.id, cluster.name = %self.info.cluster.name, error = %e, "upstream connection lost");
        // Cursors lived on the lost connection; a fresh one starts clean.
        self.drop_upstream();
        // A pool's other idle connections most likely went with it (a restarted or killed
        // upstream): close them, as drivers clear their pool on a network error.
        self.clear_pool();
        if !can_reply {
            return Flow::Close;
        }
        self.refuse_forward(msg, to, ErrorReply::host_unreachable("connection lost"))
            .await
    }
}

pub(crate) fn upstream_error_reply(e: &UpstreamError) -> ErrorReply {
    match e {
        UpstreamError::Timeout => ErrorReply::network_timeout("connect"),
        _ => ErrorReply::host_unreachable("cannot connect"),
    }
}

/// Resolves when the idle timer fires, or never when there is none.
async fn expire(timer: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}
