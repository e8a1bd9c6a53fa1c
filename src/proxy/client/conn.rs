//! The per-connection core without sockets: what one client connection remembers
//! (its user, its cursor owner, the logical sessions it used, the SCRAM conversation in
//! progress, the compressors it agreed) and every decision on a client message.
//! [`Conn::on_msg`] and [`Conn::on_query`] are the entry points. Nothing here does I/O,
//! reads the clock or draws random bytes; the session driver passes in what it needs
//! ([`Env`]) and carries out the [`Outcome`] it gets back.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};

use crate::authz::actions;
use crate::authz::model::{ActionSet, Requirement, Resource};
use crate::authz::privileges::UserPrivileges;
use crate::gates::scram::MIN_NONCE_BYTES;
use crate::gates::throttle::Throttle;
use crate::gates::users::User;
use crate::ops::audit::{AuditEvent, Auditor, ConnCtx, Timestamp};
use crate::proxy::client::replies::{ErrorCode, ErrorReply};
use crate::proxy::state::cursors::{ClusterId, CursorRegistry, Owner};
use crate::proxy::state::policy::PolicyCell;
use crate::proxy::state::stats::Stats;
use crate::proxy::state::Identity;
use crate::proxy::upstream::UpstreamInfo;
use crate::wire::{elements, Compressor};

mod auth;
mod commands;
mod route;

pub use auth::Conversation;
pub use route::MsgSequences;

/// Logical sessions remembered per connection (endSessions may only end these).
const MAX_LSIDS: usize = 10_000;

/// The decision for one command.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The proxy answers with this document.
    Reply(RawDocumentBuf),
    /// Refused with a MongoDB error; the connection stays open.
    Refuse(ErrorReply),
    /// Send the checked bytes upstream; `filter` says whether the reply is rewritten.
    Forward(ReplyFilter),
    /// Close the connection without a reply.
    Close,
    /// The failure throttle slows this proof down: wait this many milliseconds, then
    /// call [`Conn::resume`] for the step (the proof is checked after the wait).
    Wait(u64),
}

/// Replies the proxy must narrow to what the user may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyFilter {
    None,
    ListDatabases,
    ListCollections,
}

/// What the driver does besides the step.
#[derive(Debug)]
pub enum Effect {
    /// An audit event that waits for queue space with `on_full = "block"`.
    Audit(AuditEvent),
    /// An audit event dropped (and counted) when the queue is full: a throttled source
    /// must not be able to stall its own connection on the audit queue.
    AuditOrDrop(AuditEvent),
    /// A user authenticated: the connection's handle shows it (revocation sweeps).
    LoggedIn(Arc<User>),
    /// The user logged out: the handle forgets it and the upstream connection, with the
    /// cursors and sessions opened as that user, is closed.
    LoggedOut,
}

/// The decision on one message and what comes with it.
#[derive(Debug)]
pub struct Outcome {
    pub step: Step,
    pub effects: Vec<Effect>,
}

/// What the decisions read besides the connection's own state: shared state, upstream
/// facts, the time and random bytes, passed in so that tables can test them.
pub struct Env<'a> {
    pub cursors: &'a CursorRegistry,
    /// Unix seconds.
    pub now: i64,
    /// Unix milliseconds (hello's `localTime`).
    pub now_ms: i64,
    pub policy: &'a PolicyCell,
    /// The authentication failure throttle (a pure state machine behind a lock).
    pub throttle: &'a Arc<Mutex<Throttle>>,
    pub stats: &'a Stats,
    /// Read for `audit.log_allowed` only; events go back as [`Effect`]s.
    pub auditor: &'a Auditor,
    pub identity: &'a Identity,
    /// Key for the fake credentials of unknown users.
    pub fake_secret: &'a [u8; 32],
    /// The upstream's hello facts and the proxy's message-size cap.
    pub upstream: &'a UpstreamInfo,
    pub max_message_size: Option<usize>,
    /// Fresh random bytes for a SCRAM server nonce; the driver draws them for commands
    /// that may start a conversation (see [`needs_nonce`]). None refuses to start one.
    pub nonce: Option<[u8; MIN_NONCE_BYTES]>,
}

/// Whether a command may start a SCRAM conversation (so the driver draws a nonce).
pub fn needs_nonce(command: &str) -> bool {
    matches!(command, "saslStart" | "hello" | "isMaster" | "ismaster")
}

/// One client connection's protocol state.
pub struct Conn {
    /// Connection id, client and proxy address (logs, audit, whatsmyuri, user lookups).
    pub id: i64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub cluster: String,
    /// "authdb.user" of the authenticated user: the owner recorded for its cursors.
    pub owner: Option<Owner>,
    /// The cluster's name, the other half of every cursor key (made once per connection).
    pub cluster_id: ClusterId,
    /// Logical session ids used on this connection.
    pub lsids: HashSet<[u8; 16]>,
    /// The authenticated user (one per connection) and the policy generation it was
    /// read from.
    pub user: Option<Arc<User>>,
    pub user_generation: u64,
    /// The SASL conversation in progress.
    pub conversation: Option<Conversation>,
    /// Compressors agreed in hello (replies to compressed messages use them).
    pub compressors: Vec<Compressor>,
    /// The last message of an unauthenticated connection was a hello (login deadline).
    pub hello_seen: bool,
    /// Effects gathered while deciding the current message.
    effects: Vec<Effect>,
}

impl Conn {
    /// A connection on `cluster` from and to loopback (tables that need no addresses).
    pub fn new(cluster: &str) -> Conn {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Conn::accepted(0, loopback, loopback, cluster)
    }

    pub fn accepted(id: i64, peer: SocketAddr, local: SocketAddr, cluster: &str) -> Conn {
        Conn {
            id,
            peer,
            local,
            cluster: cluster.to_string(),
            owner: None,
            cluster_id: ClusterId::from(cluster),
            lsids: HashSet::new(),
            user: None,
            user_generation: 0,
            conversation: None,
            compressors: Vec::new(),
            hello_seen: false,
            effects: Vec::new(),
        }
    }

    /// Where this connection is, for audit events.
    pub fn audit_ctx(&self) -> ConnCtx {
        ConnCtx {
            local: self.local,
            remote: self.peer,
            cluster: Some(self.cluster.clone()),
            conn_id: Some(self.id),
        }
    }

    fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// An audit event, stamped with the time the driver passed in.
    fn audit(&mut self, mut event: AuditEvent, env: &Env) {
        event.ts = Timestamp(env.now_ms);
        self.effect(Effect::Audit(event));
    }

    fn audit_or_drop(&mut self, mut event: AuditEvent, env: &Env) {
        event.ts = Timestamp(env.now_ms);
        self.effect(Effect::AuditOrDrop(event));
    }

    fn outcome(&mut self, step: Step) -> Outcome {
        Outcome {
            step,
            effects: std::mem::take(&mut self.effects),
        }
    }

    /// Binds the user who just authenticated, read under policy `generation`.
    pub fn log_in(&mut self, user: Arc<User>, generation: u64) {
        self.owner = Some(Owner::from(format!("{}.{}", user.db, user.user)));
        self.user = Some(user);
        self.user_generation = generation;
    }

    /// Forgets the user; its cursors are no longer this connection's.
    pub fn log_out(&mut self) {
        self.user = None;
        self.owner = None;
    }

    /// The user under policy `generation`. Only when the policy changed since the user
    /// was read is it looked up again (`lookup` gives the generation it read and the
    /// user as that policy has it): changed roles apply from the next command, and a
    /// removed or expired user is gone. The common case costs one comparison.
    pub fn current_user<F>(&mut self, generation: u64, lookup: F) -> Option<Arc<User>>
    where
        F: FnOnce(&str, &str) -> (u64, Option<Arc<User>>),
    {
        let current = self.user.as_ref()?;
        if generation != self.user_generation {
            let (read, found) = lookup(&current.db, &current.user);
            self.user = found;
            self.user_generation = read;
        }
        self.user.clone()
    }

    fn cursor_ns(&self, env: &Env, id: i64) -> Option<String> {
        env.cursors
            .namespace(&self.cluster_id, self.owner.as_ref()?, id)
    }

    /// Records what a reply said about a cursor (opened, or exhausted by a getMore).
    pub fn observe_cursor(&self, env: &Env, id: i64, ns: &str, closing: Option<i64>) {
        if let Some(owner) = &self.owner {
            env.cursors
                .observe(&self.cluster_id, owner, id, ns, closing, env.now);
        }
    }

    /// getMore only on a cursor this user opened, for the namespace it belongs to.
    pub fn get_more(&self, env: &Env, id: i64, db: &str, coll: &str) -> Step {
        match self.cursor_ns(env, id).as_deref() {
            Some(ns) if ns.strip_prefix(db).and_then(|r| r.strip_prefix('.')) == Some(coll) => {
                if env.cursors.is_filtered(&self.cluster_id, id) {
                    Step::Forward(ReplyFilter::ListCollections)
                } else {
                    Step::Forward(ReplyFilter::None)
                }
            }
            Some(_) => Step::Refuse(ErrorReply::unauthorized(format!(
                "Requested getMore on namespace '{db}.{coll}', but cursor belongs to a different namespace"
            ))),
            None => Step::Refuse(ErrorReply::new(
                ErrorCode::CursorNotFound,
                format!("cursor id {id} not found"),
            )),
        }
    }

    /// killCursors only on this user's cursors, unless the roles grant killAnyCursor.
    /// Forwarded ids are forgotten here: mongod is about to close them.
    pub fn kill_cursors(
        &self,
        env: &Env,
        privs: Option<&UserPrivileges>,
        db: &str,
        coll: &str,
        ids: &[i64],
    ) -> Step {
        let holds = |resource| {
            let req = Requirement {
                resource,
                actions: ActionSet::of(&[actions::KILL_ANY_CURSOR]),
            };
            privs.is_some_and(|p| p.has(&req))
        };
        if holds(Resource::Cluster) || holds(Resource::Namespace { db, coll }) {
            return Step::Forward(ReplyFilter::None);
        }
        // Ids no one opened through this proxy: mongod lists them in cursorsNotFound.
        // They are answered here, never forwarded, since upstream they could be another
        // proxy instance's cursors under the same service identity.
        let known = |id: &i64| env.cursors.is_known(&self.cluster_id, *id);
        if !ids.is_empty() && !ids.iter().any(known) {
            let mut not_found = RawArrayBuf::new();
            for id in ids {
                not_found.push(*id);
            }
            return Step::Reply(rawdoc! {
                "cursorsKilled": [], "cursorsNotFound": not_found,
                "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0,
            });
        }
        match ids.iter().find(|id| self.cursor_ns(env, **id).is_none()) {
            None => {
                for id in ids {
                    env.cursors.forget(&self.cluster_id, *id);
                }
                Step::Forward(ReplyFilter::None)
            }
            Some(id) => Step::Refuse(ErrorReply::unauthorized(format!(
                "not authorized to kill cursor {id} on {db}.{coll}: it was not opened by the authenticated user"
            ))),
        }
    }

    /// Remembers the lsid a command runs in (endSessions may only end these).
    pub fn note_lsid(&mut self, body: &RawDocument) {
        if let Some(id) = lsid_of(body) {
            if self.lsids.len() < MAX_LSIDS {
                self.lsids.insert(id);
            }
        }
    }

    /// endSessions is forwarded only when every session named was used on this
    /// connection; otherwise it is acknowledged without reaching the upstream, where all
    /// clients' sessions belong to the same service identity.
    pub fn end_sessions(&self, body: &RawDocument) -> Step {
        let Ok(list) = body.get_array("endSessions") else {
            return Step::Refuse(ErrorReply::new(
                ErrorCode::TypeMismatch,
                "endSessions must be an array",
            ));
        };
        let own = list.into_iter().all(|v| {
            matches!(v, Ok(RawBsonRef::Document(d)) if uuid_of(d).is_some_and(|id| self.lsids.contains(&id)))
        });
        if own {
            Step::Forward(ReplyFilter::None)
        } else {
            Step::Reply(rawdoc! { "ok": 1.0 })
        }
    }
}

/// Whether a listDatabases reply must be filtered: always with
/// `authorizedDatabases: true`; when unspecified, unless the user may list all.
pub fn list_databases_filter(
    privs: Option<&UserPrivileges>,
    body: &RawDocument,
    filter: bool,
) -> ReplyFilter {
    if !filter {
        return ReplyFilter::None;
    }
    if body.get_bool("authorizedDatabases").unwrap_or(false) {
        return ReplyFilter::ListDatabases;
    }
    let all = Requirement {
        resource: Resource::Cluster,
        actions: ActionSet::of(&[actions::LIST_DATABASES]),
    };
    match privs {
        Some(p) if p.has(&all) => ReplyFilter::None,
        _ => ReplyFilter::ListDatabases,
    }
}

/// The authorizedCollections form of listCollections needs some privilege in the
/// database (mongod's rule); the reply is then filtered.
pub fn list_collections(privs: Option<&UserPrivileges>, db: &str) -> Step {
    match privs {
        Some(p) if p.has_any_in_db(db) => Step::Forward(ReplyFilter::ListCollections),
        _ => Step::Refuse(ErrorReply::unauthorized(format!(
            "not authorized on {db} to execute command listCollections on {db}"
        ))),
    }
}

/// One user per connection: a second, different user must open a new connection
/// (mongod 6+ refuses it the same way). The same user again is fine.
pub fn one_user(current: Option<&User>, next: &User) -> Result<(), ErrorReply> {
    match current {
        Some(c) if c.user != next.user || c.db != next.db => Err(ErrorReply::new(
            ErrorCode::ProtocolError,
            "Each connection can only be authenticated as one user; open a new connection to change user",
        )),
        _ => Ok(()),
    }
}

/// hello's `saslSupportedMechs: "db.user"`, with `lookup` finding a live user's
/// mechanisms. Unknown users get mongod's default pair, so the answer does not reveal
/// which users exist.
pub fn sasl_supported_mechs<F>(spec: &str, lookup: F) -> RawArrayBuf
where
    F: FnOnce(&str, &str) -> Option<Vec<&'static str>>,
{
    let known = spec.split_once('.').and_then(|(db, user)| lookup(db, user));
    let mut out = RawArrayBuf::new();
    for m in known.unwrap_or_else(|| vec!["SCRAM-SHA-1", "SCRAM-SHA-256"]) {
        out.push(m);
    }
    out
}

/// The step for a fire-and-forget message (moreToCome), which gets no reply: an answer
/// is dropped (None), and a refusal closes the connection, the only way the driver
/// learns that its write was not applied.
pub fn unanswered(step: Step) -> Option<Step> {
    match step {
        Step::Reply(_) => None,
        Step::Refuse(_) => Some(Step::Close),
        other => Some(other),
    }
}

/// What the login deadline of a connection does after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginDeadline {
    Keep,
    /// Authenticated: no deadline any more.
    Disarm,
    /// Count again from now.
    Restart,
    /// Start counting (a new connection, or after a logout).
    Arm,
}

/// Authenticated: no deadline. Unauthenticated: a hello (what monitoring connections
/// send, and never authenticate) starts the count again; after a logout it restarts.
pub fn login_deadline(armed: bool, authenticated: bool, hello: bool) -> LoginDeadline {
    match (armed, authenticated) {
        (true, true) => LoginDeadline::Disarm,
        (true, false) if hello => LoginDeadline::Restart,
        (false, false) => LoginDeadline::Arm,
        _ => LoginDeadline::Keep,
    }
}

/// Network errors on a retryable write carry the label drivers retry on (4.4+ servers):
/// a write with a txnNumber outside a multi-statement transaction (which carries
/// `autocommit`).
pub fn retryable_label(body: &RawDocument, err: ErrorReply) -> ErrorReply {
    let in_txn = body.get_bool("autocommit").is_ok();
    if body.get("txnNumber").ok().flatten().is_some() && !in_txn {
        err.with_label("RetryableWriteError")
    } else {
        err
    }
}

/// `lsid.id` (a UUID) out of a session document. Read with the cheap field walk: every
/// command of a driver with sessions carries an lsid, so this runs per message.
fn uuid_of(lsid: &RawDocument) -> Option<[u8; 16]> {
    elements::get(lsid.as_bytes(), "id")?
        .as_binary()?
        .try_into()
        .ok()
}

fn lsid_of(body: &RawDocument) -> Option<[u8; 16]> {
    uuid_of(elements::get(body.as_bytes(), "lsid")?.as_document()?)
}

#[cfg(test)]
mod tests;
