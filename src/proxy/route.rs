//! Decides what happens to each client command: answered by the proxy, refused, or
//! forwarded. The gates plug in here; the session loop only carries out the decision.

use bson::{RawDocument, RawDocumentBuf};

use super::handshake::{self, HelloRequest};
use super::replies::ErrorReply;
use super::session::Session;
use crate::authz::classify::{Kind, Sequences};
use crate::authz::decide::{decide, Caller, Refusal};
use crate::ops::audit::{AuditEvent, Principal, RoleRef as AuditRole, UserRef};
use crate::wire::{DocSequence, Documents, OpMsg, OpQuery};

/// The decision for one command.
pub enum Route {
    /// The proxy answers with this document.
    Reply(RawDocumentBuf),
    /// Refused with a MongoDB error; the connection stays open.
    Refuse(ErrorReply),
    /// Send the checked bytes upstream; `filter` says whether the reply is rewritten.
    Forward(ReplyFilter),
    /// Close the connection without a reply.
    Close,
}

/// Replies the proxy must narrow to what the user may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyFilter {
    None,
    ListDatabases,
    ListCollections,
}

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

fn is_hello(name: &str) -> bool {
    matches!(name, "hello" | "isMaster" | "ismaster")
}

/// OP_QUERY is accepted only for the legacy handshake on `admin.$cmd`, as mongod 6+.
pub async fn legacy_query(
    session: &mut Session,
    q: &OpQuery,
) -> Result<RawDocumentBuf, ErrorReply> {
    let name = q.command_name();
    if q.full_collection_name() != "admin.$cmd" || !is_hello(name) {
        return Err(ErrorReply::new(
            5739101,
            "UnsupportedOpQueryCommand",
            format!(
                "Unsupported OP_QUERY command: {name}. The client driver may require an upgrade."
            ),
        ));
    }
    Ok(hello(session, q.command(), name).await)
}

async fn hello(session: &mut Session, body: &RawDocument, name: &str) -> RawDocumentBuf {
    let req = HelloRequest::parse(body, name);
    if !req.compression.is_empty() || session.compressors.is_empty() {
        session.compressors = handshake::negotiate(&req.compression);
    }
    let info = session.info.cluster.info();
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
    ErrorReply::new(r.code(), r.code_name(), r.errmsg())
}

/// Routes one OP_MSG command.
pub async fn route(session: &mut Session, msg: &OpMsg) -> Route {
    let user = session.current_user();
    let caller = user.as_ref().map(|u| Caller {
        user: &u.user,
        db: &u.db,
        privileges: &u.privileges,
    });
    let c = match decide(caller, msg.body(), &MsgSequences(msg)) {
        Ok(c) => c,
        Err(refusal) => {
            session.log_refusal(&refusal);
            return Route::Refuse(refusal_reply(&refusal));
        }
    };
    if c.requires_auth {
        session.note_allowed(c.name, c.db, &c.target);
    }
    match c.kind {
        Kind::Handshake => Route::Reply(hello(session, msg.body(), c.name).await),
        Kind::Ping => Route::Reply(handshake::finish(RawDocumentBuf::new())),
        Kind::BuildInfo => Route::Reply(handshake::build_info(&session.info.cluster.info())),
        Kind::WhatsMyUri => Route::Reply(session.whats_my_uri()),
        Kind::SaslStart => answer(session.sasl_start(msg.body(), c.db).await),
        Kind::SaslContinue => answer(session.sasl_continue(msg.body()).await),
        Kind::Authenticate => Route::Refuse(ErrorReply::new(
            334,
            "MechanismUnavailable",
            "only SCRAM-SHA-256 and SCRAM-SHA-1 are enabled",
        )),
        Kind::Logout => Route::Reply(session.logout()),
        Kind::ConnectionStatus => Route::Reply(session.connection_status(msg.body())),
        Kind::UsersInfo => Route::Reply(session.users_info(msg.body(), c.db)),
        Kind::RolesInfo => Route::Reply(session.roles_info(msg.body(), c.db)),
        Kind::GetMore { cursor_id, coll } => session.check_get_more(cursor_id, c.db, coll),
        Kind::KillCursors {
            coll,
            ref cursor_ids,
        } => session.check_kill_cursors(c.db, coll, cursor_ids),
        Kind::EndSessions => session.route_end_sessions(msg.body()),
        Kind::ListDatabases { filter } => {
            Route::Forward(session.list_databases_filter(msg.body(), filter))
        }
        Kind::ListCollections { filter: true } => session.list_collections_filtered(c.db),
        _ => {
            session.note_lsid(msg.body());
            Route::Forward(ReplyFilter::None)
        }
    }
}

fn answer(r: Result<RawDocumentBuf, ErrorReply>) -> Route {
    match r {
        Ok(doc) => Route::Reply(handshake::finish(doc)),
        Err(e) => Route::Refuse(e),
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
        tracing::info!(conn.id = self.info.id, cluster.name = %self.info.cluster.name, auth.user = %user, command.name = %name, command.ns = %target, "authorization denied");
        let event = AuditEvent::auth_check(&self.audit_ctx(), &who, name, target, false);
        self.shared.auditor.emit(event);
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
            self.shared.auditor.emit(event);
        }
    }
}
