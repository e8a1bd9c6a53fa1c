//! Decides what happens to each client command: answered by the proxy, refused, or
//! forwarded. The gates plug in here; the session loop only carries out the decision.

use bson::{RawDocument, RawDocumentBuf};

use crate::authz::classify::{Kind, NoSequences, Sequences};
use crate::authz::decide::{decide, Caller, Refusal};
use crate::error_code::ErrorCode;
use crate::ops::audit::{AuditEvent, Principal, RoleRef as AuditRole, UserRef};
use crate::ops::ratelimit::LogLimit;
use crate::proxy::client::conn;
use crate::proxy::client::handshake::{self, HelloRequest};
use crate::proxy::client::legacy::{self, LegacyRefusal, LOG_BURST, LOG_INTERVAL_SECS};
use crate::proxy::client::replies::ErrorReply;
use crate::proxy::client::session::Session;
use crate::proxy::state::stats::Stats;
use crate::wire::{DocSequence, Documents, OpMsg, OpQuery};

pub use super::conn::{ReplyFilter, Step};

/// The kind-1 sections of an OP_MSG, for the classifier.
pub struct MsgSequences<'a>(pub &'a OpMsg);

impl<'a> Sequences<'a> for MsgSequences<'a> {
    type Iter = Documents<'a>;
    fn documents(&self, identifier: &str) -> Option<Self::Iter> {
        let seq: DocSequence<'a> = self.0.sequence(identifier)?;
        Some(seq.documents())
    }

    fn unexpected(&self, allowed: &[&str]) -> Option<String> {
        self.0
            .sequences()
            .find(|s| !allowed.contains(&s.identifier()))
            .map(|s| s.identifier().to_owned())
    }
}

/// Log lines for refused OP_QUERY messages, shared by every connection.
static LEGACY_LOG: LogLimit = LogLimit::new(LOG_BURST, LOG_INTERVAL_SECS);

/// OP_QUERY: mongod's short list of commands on `<db>.$cmd`, each upconverted to its
/// OP_MSG body and routed exactly like it (same gates, throttle, audit and handlers);
/// everything else is refused as mongod refuses it. Never forwarded: the reply is the
/// proxy's own, which the session encodes as OP_REPLY.
pub async fn legacy_query(
    session: &mut Session,
    q: &OpQuery,
) -> Result<RawDocumentBuf, ErrorReply> {
    let name = q.command_name();
    let body = match legacy::upconvert(q.full_collection_name(), q.query(), q.command(), name) {
        Ok(body) => body,
        Err(refusal) => {
            session.legacy_refused(&refusal);
            return Ok(refusal.to_doc());
        }
    };
    match route_command(session, &body, &NoSequences).await {
        Step::Reply(doc) => Ok(doc),
        Step::Refuse(err) => Err(err),
        // None of the allowed commands is forwarded; should one ever classify so, it is
        // refused rather than sent upstream in a form the gates did not read.
        Step::Forward(_) | Step::Close => {
            let refusal = LegacyRefusal::Unsupported(name.to_string());
            session.legacy_refused(&refusal);
            Err(legacy::unsupported(name))
        }
    }
}

async fn hello(session: &mut Session, body: &RawDocument, name: &str) -> RawDocumentBuf {
    let req = HelloRequest::parse(body, name);
    if !req.compression.is_empty() || session.compressors.is_empty() {
        session.compressors = handshake::negotiate(&req.compression);
    }
    let info = session.client_info();
    let now = bson::DateTime::now().timestamp_millis();
    let mut doc = handshake::hello_reply(
        &req,
        &info,
        &session.shared.identity,
        session.info.id,
        &session.compressors,
        now,
    );
    if let Some(spec) = &req.sasl_supported_mechs {
        doc.append("saslSupportedMechs", session.supported_mechs(spec));
    }
    if let Some(spec) = &req.speculative {
        if let Some(first) = session.speculative(spec).await {
            doc.append("speculativeAuthenticate", first);
        }
    }
    handshake::finish(doc)
}

fn refusal_reply(r: &Refusal) -> ErrorReply {
    ErrorReply::new(r.error_code(), r.errmsg())
}

/// Routes one OP_MSG command.
pub async fn route(session: &mut Session, msg: &OpMsg) -> Step {
    route_command(session, msg.body(), &MsgSequences(msg)).await
}

/// Routes one command body (an OP_MSG's, or an upconverted OP_QUERY's).
async fn route_command<'a, S: Sequences<'a>>(
    session: &mut Session,
    body: &'a RawDocument,
    seqs: &S,
) -> Step {
    let user = session.current_user();
    let caller = user.as_ref().map(|u| Caller {
        user: &u.user,
        db: &u.db,
        privileges: &u.privileges,
    });
    let c = match decide(caller, body, seqs) {
        Ok(c) => c,
        Err(refusal) => {
            session.log_refusal(&refusal);
            return Step::Refuse(refusal_reply(&refusal));
        }
    };
    if c.requires_auth {
        session.note_allowed(c.name, c.db, &c.target);
    }
    match c.kind {
        Kind::Handshake => Step::Reply(hello(session, body, c.name).await),
        Kind::Ping => Step::Reply(handshake::finish(RawDocumentBuf::new())),
        Kind::BuildInfo => Step::Reply(handshake::build_info(&session.info.cluster.info())),
        Kind::WhatsMyUri => Step::Reply(session.whats_my_uri()),
        Kind::SaslStart => answer(session.sasl_start(body, c.db).await),
        Kind::SaslContinue => answer(session.sasl_continue(body).await),
        Kind::Authenticate => Step::Refuse(ErrorReply::new(
            ErrorCode::MechanismUnavailable,
            "only SCRAM-SHA-256 and SCRAM-SHA-1 are enabled",
        )),
        Kind::Logout => Step::Reply(session.logout()),
        Kind::ConnectionStatus => Step::Reply(session.connection_status(body)),
        Kind::UsersInfo => Step::Reply(session.users_info(body, c.db)),
        Kind::RolesInfo => Step::Reply(session.roles_info(body, c.db)),
        Kind::GetMore { cursor_id, coll } => {
            session.conn.get_more(&session.env(), cursor_id, c.db, coll)
        }
        Kind::KillCursors {
            coll,
            ref cursor_ids,
        } => {
            let privs = user.as_ref().map(|u| &*u.privileges);
            (session.conn).kill_cursors(&session.env(), privs, c.db, coll, cursor_ids)
        }
        Kind::EndSessions => session.conn.end_sessions(body),
        Kind::ListDatabases { filter } => {
            let privs = user.as_ref().map(|u| &*u.privileges);
            Step::Forward(conn::list_databases_filter(privs, body, filter))
        }
        Kind::ListCollections { filter: true } => {
            conn::list_collections(user.as_ref().map(|u| &*u.privileges), c.db)
        }
        // Every kind is named: a new one must be routed on purpose, never forwarded
        // by default.
        Kind::Forward
        | Kind::ListCollections { filter: false }
        | Kind::KillSessions
        | Kind::Transaction => {
            session.conn.note_lsid(body);
            Step::Forward(ReplyFilter::None)
        }
        // `decide` refuses these before routing; refused here too should that change.
        Kind::UserManagement => Step::Refuse(refusal_reply(&Refusal::UserManagement {
            name: c.name.to_string(),
        })),
    }
}

fn answer(r: Result<RawDocumentBuf, ErrorReply>) -> Step {
    match r {
        Ok(doc) => Step::Reply(handshake::finish(doc)),
        Err(e) => Step::Refuse(e),
    }
}

impl Session {
    fn principal(&mut self) -> Principal {
        let Some(u) = self.current_user() else {
            return Principal::default();
        };
        Principal {
            users: vec![UserRef {
                user: u.user.clone(),
                db: u.db.clone(),
            }],
            roles: u
                .privileges
                .role_names()
                .into_iter()
                .map(|(role, db)| AuditRole { role, db })
                .collect(),
        }
    }

    fn log_refusal(&mut self, r: &Refusal) {
        let (name, target) = match r {
            Refusal::Denied { name, target, .. } => (name.as_str(), target.as_str()),
            Refusal::Unauthenticated { name } | Refusal::UserManagement { name } => {
                (name.as_str(), "")
            }
            Refusal::Classify(_) => return,
        };
        self.shared.stats.record_authz(name, false);
        let who = self.principal();
        let user = who
            .users
            .first()
            .map(|u| format!("{}@{}", u.user, u.db))
            .unwrap_or_default();
        // mongosh asks these of every server at startup whatever the user's rights; a
        // denial is expected, so it is audited but not logged at info.
        if crate::authz::decide::is_shell_startup_probe(name, target) {
            tracing::debug!(conn.id = self.info.id, cluster.name = %self.info.cluster.name, auth.user = %user, command.name = %name, command.ns = %target, "authorization denied (shell startup probe)");
        } else {
            tracing::info!(conn.id = self.info.id, cluster.name = %self.info.cluster.name, auth.user = %user, command.name = %name, command.ns = %target, "authorization denied");
        }
        let event = AuditEvent::auth_check(&self.audit_ctx(), &who, name, target, false);
        self.audit(event);
    }

    /// A refused OP_QUERY: counted always, logged within the shared budget.
    fn legacy_refused(&self, refusal: &LegacyRefusal) {
        Stats::inc(&self.shared.stats.op_query_refused);
        if let Some(suppressed) = LEGACY_LOG.check(crate::config::now_unix()) {
            tracing::warn!(conn.id = self.info.id, client.addr = %self.info.peer, command.name = refusal.what(), suppressed, "refused a legacy OP_QUERY message; the client driver may need an upgrade");
        }
    }

    /// Counts an allowed command; audits it only when `audit.log_allowed` selects it.
    fn note_allowed(&mut self, name: &str, db: &str, target: &str) {
        self.shared.stats.record_authz(name, true);
        if !self.shared.auditor.enabled() {
            return;
        }
        let who = self.principal();
        if self
            .shared
            .auditor
            .wants_allowed(who.users.first(), db, name)
        {
            let event = AuditEvent::auth_check(&self.audit_ctx(), &who, name, target, true);
            self.audit(event);
        }
    }
}
