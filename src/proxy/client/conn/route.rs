//! The entry points of the connection core: each client command is answered by the
//! proxy, refused, or forwarded. The gates plug in here; the session driver only carries
//! out the decision.

use bson::{RawDocument, RawDocumentBuf};

use super::{list_collections, list_databases_filter, Conn, Env, Outcome, ReplyFilter, Step};
use crate::authz::classify::{Classified, Kind, NoSequences, Sequences};
use crate::authz::decide::{decide, Caller, Refusal};
use crate::authz::privileges::UserPrivileges;
use crate::error_code::ErrorCode;
use crate::ops::audit::{AuditEvent, Principal, RoleRef as AuditRole, UserRef};
use crate::ops::ratelimit::LogLimit;
use crate::proxy::client::handshake::{self, HelloRequest};
use crate::proxy::client::legacy::{self, LegacyRefusal, LOG_BURST, LOG_INTERVAL_SECS};
use crate::proxy::client::replies::ErrorReply;
use crate::proxy::state::stats::Stats;
use crate::wire::{DocSequence, Documents, OpMsg, OpQuery};

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

fn is_hello(name: &str) -> bool {
    matches!(name, "hello" | "isMaster" | "ismaster")
}

fn refusal_reply(r: &Refusal) -> ErrorReply {
    ErrorReply::new(r.error_code(), r.errmsg())
}

fn answer(r: Result<RawDocumentBuf, ErrorReply>) -> Step {
    match r {
        Ok(doc) => Step::Reply(handshake::finish(doc)),
        Err(e) => Step::Refuse(e),
    }
}

impl Conn {
    /// One OP_MSG command. A `Step::Wait` is followed by [`Conn::resume`].
    pub fn on_msg(&mut self, msg: &OpMsg, env: &Env) -> Outcome {
        if self.user.is_none() {
            self.hello_seen = is_hello(msg.command_name());
        }
        let step = self.route_command(msg.body(), &MsgSequences(msg), env);
        self.outcome(step)
    }

    /// OP_QUERY: mongod's short list of commands on `<db>.$cmd`, each upconverted to its
    /// OP_MSG body and routed exactly like it (same gates, throttle, audit and handlers);
    /// everything else is refused as mongod refuses it. Never forwarded: the reply is the
    /// proxy's own, which the driver encodes as OP_REPLY.
    pub fn on_query(&mut self, q: &OpQuery, env: &Env) -> Outcome {
        let name = q.command_name();
        self.hello_seen = is_hello(name);
        let upconverted = legacy::upconvert(q.full_collection_name(), q.query(), q.command(), name);
        let step = match upconverted {
            Ok(body) => match self.route_command(&body, &NoSequences, env) {
                // None of the allowed commands is forwarded; should one ever classify
                // so, it is refused rather than sent upstream in a form the gates did
                // not read.
                Step::Forward(_) | Step::Close => {
                    self.legacy_refused(&LegacyRefusal::Unsupported(name.to_string()), env);
                    Step::Refuse(legacy::unsupported(name))
                }
                step => step,
            },
            Err(refusal) => {
                self.legacy_refused(&refusal, env);
                Step::Reply(refusal.to_doc())
            }
        };
        self.outcome(step)
    }

    /// Routes one command body (an OP_MSG's, or an upconverted OP_QUERY's).
    fn route_command<'a, S: Sequences<'a>>(
        &mut self,
        body: &'a RawDocument,
        seqs: &S,
        env: &Env,
    ) -> Step {
        let user = self.current_user_in(env);
        let caller = user.as_ref().map(|u| Caller {
            user: &u.user,
            db: &u.db,
            privileges: &u.privileges,
        });
        let c = match decide(caller, body, seqs) {
            Ok(c) => c,
            Err(refusal) => {
                self.log_refusal(&refusal, env);
                return Step::Refuse(refusal_reply(&refusal));
            }
        };
        if c.requires_auth {
            self.note_allowed(c.name, c.db, &c.target, env);
        }
        let privs = user.as_ref().map(|u| &*u.privileges);
        self.route_kind(c, body, privs, env)
    }

    /// Carries out an allowed command: the proxy's own answer, or forwarding (with the
    /// reply filter its kind needs).
    fn route_kind<'a>(
        &mut self,
        c: Classified<'a>,
        body: &'a RawDocument,
        privs: Option<&UserPrivileges>,
        env: &Env,
    ) -> Step {
        match c.kind {
            Kind::Handshake => Step::Reply(self.hello(body, c.name, env)),
            Kind::Ping => Step::Reply(handshake::finish(RawDocumentBuf::new())),
            Kind::BuildInfo => Step::Reply(handshake::build_info(env.upstream)),
            Kind::WhatsMyUri => Step::Reply(self.whats_my_uri()),
            Kind::SaslStart => answer(self.sasl_start(body, c.db, env)),
            Kind::SaslContinue => self.sasl_continue(body, env),
            Kind::Authenticate => Step::Refuse(ErrorReply::new(
                ErrorCode::MechanismUnavailable,
                "only SCRAM-SHA-256 and SCRAM-SHA-1 are enabled",
            )),
            Kind::Logout => Step::Reply(self.logout()),
            Kind::ConnectionStatus => Step::Reply(self.connection_status(body, env)),
            Kind::UsersInfo => Step::Reply(self.users_info(body, c.db, env)),
            Kind::RolesInfo => Step::Reply(self.roles_info(body, c.db, env)),
            Kind::GetMore { cursor_id, coll } => self.get_more(env, cursor_id, c.db, coll),
            Kind::KillCursors {
                coll,
                ref cursor_ids,
            } => self.kill_cursors(env, privs, c.db, coll, cursor_ids),
            Kind::EndSessions => self.end_sessions(body),
            Kind::ListDatabases { filter } => {
                Step::Forward(list_databases_filter(privs, body, filter))
            }
            Kind::ListCollections { filter: true } => list_collections(privs, c.db),
            // Every kind is named: a new one must be routed on purpose, never forwarded
            // by default.
            Kind::Forward
            | Kind::ListCollections { filter: false }
            | Kind::KillSessions
            | Kind::Transaction => {
                self.note_lsid(body);
                Step::Forward(ReplyFilter::None)
            }
            // `decide` refuses these before routing; refused here too should that change.
            Kind::UserManagement => Step::Refuse(refusal_reply(&Refusal::UserManagement {
                name: c.name.to_string(),
            })),
        }
    }

    /// hello: compression choice, saslSupportedMechs and speculative authentication.
    fn hello(&mut self, body: &RawDocument, name: &str, env: &Env) -> RawDocumentBuf {
        let req = HelloRequest::parse(body, name);
        if !req.compression.is_empty() || self.compressors.is_empty() {
            self.compressors = handshake::negotiate(&req.compression);
        }
        let capped = env.upstream.capped(env.max_message_size);
        let info = capped.as_ref().unwrap_or(env.upstream);
        let mut doc = handshake::hello_reply(
            &req,
            info,
            env.identity,
            self.id,
            &self.compressors,
            env.now_ms,
        );
        if let Some(spec) = &req.sasl_supported_mechs {
            doc.append("saslSupportedMechs", self.supported_mechs(spec, env));
        }
        if let Some(spec) = &req.speculative {
            if let Some(first) = self.speculative(spec, env) {
                doc.append("speculativeAuthenticate", first);
            }
        }
        handshake::finish(doc)
    }

    fn principal(&mut self, env: &Env) -> Principal {
        let Some(u) = self.current_user_in(env) else {
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

    fn log_refusal(&mut self, r: &Refusal, env: &Env) {
        let (name, target) = match r {
            Refusal::Denied { name, target, .. } => (name.as_str(), target.as_str()),
            Refusal::Unauthenticated { name } | Refusal::UserManagement { name } => {
                (name.as_str(), "")
            }
            Refusal::Classify(_) => return,
        };
        env.stats.record_authz(name, false);
        let who = self.principal(env);
        let user = who
            .users
            .first()
            .map(|u| format!("{}@{}", u.user, u.db))
            .unwrap_or_default();
        // mongosh asks these of every server at startup whatever the user's rights; a
        // denial is expected, so it is audited but not logged at info.
        if crate::authz::decide::is_shell_startup_probe(name, target) {
            tracing::debug!(conn.id = self.id, cluster.name = %self.cluster, auth.user = %user, command.name = %name, command.ns = %target, "authorization denied (shell startup probe)");
        } else {
            tracing::info!(conn.id = self.id, cluster.name = %self.cluster, auth.user = %user, command.name = %name, command.ns = %target, "authorization denied");
        }
        let event = AuditEvent::auth_check(&self.audit_ctx(), &who, name, target, false);
        self.audit(event, env);
    }

    /// A refused OP_QUERY: counted always, logged within the shared budget.
    fn legacy_refused(&self, refusal: &LegacyRefusal, env: &Env) {
        Stats::inc(&env.stats.op_query_refused);
        if let Some(suppressed) = LEGACY_LOG.check(env.now) {
            tracing::warn!(conn.id = self.id, client.addr = %self.peer, command.name = refusal.what(), suppressed, "refused a legacy OP_QUERY message; the client driver may need an upgrade");
        }
    }

    /// Counts an allowed command; audits it only when `audit.log_allowed` selects it.
    fn note_allowed(&mut self, name: &str, db: &str, target: &str, env: &Env) {
        env.stats.record_authz(name, true);
        if !env.auditor.enabled() {
            return;
        }
        let who = self.principal(env);
        if env.auditor.wants_allowed(who.users.first(), db, name) {
            let event = AuditEvent::auth_check(&self.audit_ctx(), &who, name, target, true);
            self.audit(event, env);
        }
    }
}
