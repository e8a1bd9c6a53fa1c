//! The authentication part of the connection core: SASL (SCRAM) conversations,
//! speculative authentication inside hello, `saslSupportedMechs`, the failure throttle
//! and the one-user-per-connection rule. The SCRAM maths is in `gates::scram`; this file
//! holds the state. A throttle delay is a [`Step::Wait`] the driver waits out.

use std::sync::{Arc, Mutex};

use bson::spec::BinarySubtype;
use bson::{rawdoc, Binary, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use tracing::info;

use super::{one_user, sasl_supported_mechs, Conn, Effect, Env, Outcome, Step};
use crate::error_code::ErrorCode;
use crate::gates::credentials::Mechanism;
use crate::gates::scram::ScramServer;
use crate::gates::throttle::{Refusal, Throttle, Ticket, Verdict};
use crate::gates::users::{Absent, Context, User};
use crate::ops::audit::AuditEvent;
use crate::proxy::client::handshake;
use crate::proxy::client::replies::ErrorReply;
use crate::proxy::state::counters::AuthMechanism;
use crate::proxy::state::stats::Stats;

/// The conversation id mongod uses; one conversation per connection at a time.
const CONVERSATION_ID: i32 = 1;

/// An authentication in progress.
pub struct Conversation {
    server: ScramServer,
    db: String,
    /// The user found at saslStart, or why none was usable.
    found: Result<Arc<User>, Absent>,
    /// Started inside hello (`speculativeAuthenticate`), for the stats.
    speculative: bool,
    /// The next `saslContinue` carries the proof (the throttle is asked again first).
    proof_pending: bool,
    /// The proof held back while the throttle's delay is waited out.
    delayed_proof: Option<Vec<u8>>,
    /// This conversation's count against its source in the failure throttle.
    slot: ThrottleSlot,
}

/// Hands a conversation's throttle ticket back however the conversation ends: with a
/// verdict on its proof (`finish`), or dropped unfinished (abandoned, still counted).
struct ThrottleSlot {
    throttle: Arc<Mutex<Throttle>>,
    ticket: Option<Ticket>,
}

impl ThrottleSlot {
    /// Ends the conversation without a verdict on a password (a protocol mismatch).
    fn abandon(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.throttle.lock() {
                t.abandon(ticket);
            }
        }
    }

    fn finish(&mut self, user: &str, success: bool, now_ms: u64) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.throttle.lock() {
                t.finish(ticket, user, success, now_ms);
            }
        }
    }
}

impl Drop for ThrottleSlot {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// The throttle's clock: whole seconds, in milliseconds.
fn now_ms(env: &Env) -> u64 {
    (env.now.max(0) as u64).saturating_mul(1000)
}

fn metric_mechanism(m: Mechanism) -> AuthMechanism {
    match m {
        Mechanism::ScramSha1 => AuthMechanism::ScramSha1,
        Mechanism::ScramSha256 => AuthMechanism::ScramSha256,
    }
}

fn binary(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

fn payload_of(body: &RawDocument) -> Result<&[u8], ErrorReply> {
    match body.get("payload") {
        Ok(Some(RawBsonRef::Binary(b))) => Ok(b.bytes),
        Ok(Some(RawBsonRef::String(s))) => Ok(s.as_bytes()),
        _ => Err(ErrorReply::new(
            ErrorCode::BadValue,
            "payload must be BinData",
        )),
    }
}

fn mechanism_of(body: &RawDocument) -> Result<Mechanism, ErrorReply> {
    let name = body
        .get_str("mechanism")
        .map_err(|_| ErrorReply::new(ErrorCode::BadValue, "mechanism must be a string"))?;
    Mechanism::from_name(name).ok_or_else(|| {
        ErrorReply::new(
            ErrorCode::MechanismUnavailable,
            format!("Received authentication for mechanism {name} which is not enabled"),
        )
    })
}

fn auth_failed() -> ErrorReply {
    ErrorReply::authentication_failed()
}

impl Conn {
    fn lookup_context(&self, env: &Env) -> Context<'_> {
        Context {
            cluster: &self.cluster,
            peer: self.peer.ip(),
            now: env.now,
        }
    }

    /// `saslStart` (or the speculative one inside hello): returns the reply fields.
    pub(super) fn sasl_start(
        &mut self,
        body: &RawDocument,
        db: &str,
        env: &Env,
    ) -> Result<RawDocumentBuf, ErrorReply> {
        let mechanism = mechanism_of(body)?;
        let payload = payload_of(body)?;
        let Some(nonce) = env.nonce else {
            // The driver draws one for every command that gets here; fail closed.
            tracing::error!(conn.id = self.id, "no nonce for a SASL conversation");
            return Err(auth_failed());
        };
        let policy = env.policy.load();
        let mut found = Err(Absent::Unknown);
        let started = {
            let ctx = self.lookup_context(env);
            let lookup = |name: &str| {
                found = policy.users(ctx.cluster).lookup(db, name, &ctx).cloned();
                found
                    .as_ref()
                    .ok()
                    .and_then(|u| u.credential(mechanism).cloned())
            };
            ScramServer::start(mechanism, payload, lookup, &nonce, env.fake_secret)
        };
        let (mut server, server_first) = match started {
            Ok(s) => s,
            Err(e) => {
                info!(conn.id = self.id, auth.db = db, reason = %e, "malformed saslStart");
                return Err(auth_failed());
            }
        };
        server.set_skip_empty_exchange(
            body.get_document("options")
                .and_then(|o| o.get_bool("skipEmptyExchange"))
                .unwrap_or(false),
        );
        let ticket = self.throttle_begin(&server, db, env)?;
        self.conversation = Some(Conversation {
            server,
            db: db.to_string(),
            found,
            speculative: false,
            proof_pending: true,
            delayed_proof: None,
            slot: ThrottleSlot {
                throttle: env.throttle.clone(),
                ticket: Some(ticket),
            },
        });
        Ok(rawdoc! {
            "conversationId": CONVERSATION_ID,
            "done": false,
            "payload": binary(server_first),
        })
    }

    /// Admits a conversation through the failure throttle, counting it against its
    /// source. A poisoned lock refuses (fail closed).
    fn throttle_begin(
        &mut self,
        server: &ScramServer,
        db: &str,
        env: &Env,
    ) -> Result<Ticket, ErrorReply> {
        let (verdict, ticket) = match env.throttle.lock() {
            Ok(mut t) => t.begin(server.username(), self.peer.ip(), now_ms(env)),
            Err(_) => (poisoned(), None),
        };
        match (verdict, ticket) {
            (_, Some(ticket)) => Ok(ticket),
            (
                Verdict::Refuse {
                    retry_after_ms,
                    reason,
                },
                None,
            ) => Err(self.throttled(server, db, reason, retry_after_ms, env)),
            (_, None) => Err(self.throttled(server, db, Refusal::SourceCooldown, 0, env)),
        }
    }

    /// Asks the throttle again right before a proof is verified and takes a place in
    /// the source's failure budget: failures of parallel conversations since this one
    /// started count. `Some(ms)`: wait that long, then ask again.
    fn throttle_before_proof(
        &mut self,
        conv: &mut Conversation,
        env: &Env,
    ) -> Result<Option<u64>, ErrorReply> {
        let Some(ticket) = conv.slot.ticket.as_mut() else {
            return Err(self.throttled(&conv.server, &conv.db, Refusal::SourceCooldown, 0, env));
        };
        let verdict = match env.throttle.lock() {
            Ok(mut t) => t.reserve(ticket, conv.server.username(), now_ms(env)),
            Err(_) => poisoned(),
        };
        match verdict {
            Verdict::Allow => Ok(None),
            Verdict::Delay(ms) => Ok(Some(ms)),
            Verdict::Refuse {
                retry_after_ms,
                reason,
            } => Err(self.throttled(&conv.server, &conv.db, reason, retry_after_ms, env)),
        }
    }

    /// An attempt the throttle refused: counted, audited and logged, answered like any
    /// other authentication failure.
    fn throttled(
        &mut self,
        server: &ScramServer,
        db: &str,
        reason: Refusal,
        retry_after_ms: u64,
        env: &Env,
    ) -> ErrorReply {
        Stats::inc(&env.stats.auth_throttled);
        let event = AuditEvent::authenticate(
            &self.audit_ctx(),
            server.username(),
            db,
            server.mechanism().name(),
            Err(reason.as_str()),
        );
        self.audit_or_drop(event, env);
        info!(
            conn.id = self.id, auth.user = server.username(), client.addr = %self.peer.ip(),
            retry_after_ms, reason = reason.as_str(), "authentication refused by the failure throttle"
        );
        auth_failed()
    }

    /// `saslContinue`.
    pub(super) fn sasl_continue(&mut self, body: &RawDocument, env: &Env) -> Step {
        let payload = match payload_of(body) {
            Ok(p) => p,
            Err(e) => return Step::Refuse(e),
        };
        let id_ok = matches!(
            body.get("conversationId"),
            Ok(Some(RawBsonRef::Int32(CONVERSATION_ID)))
        ) || body.get_i64("conversationId").ok() == Some(i64::from(CONVERSATION_ID));
        let Some(conv) = self.conversation.take() else {
            return Step::Refuse(no_conversation());
        };
        if !id_ok {
            return Step::Refuse(ErrorReply::new(
                ErrorCode::ProtocolError,
                "wrong conversationId",
            ));
        }
        self.continue_with(conv, payload, env)
    }

    /// After a [`Step::Wait`]: asks the throttle again, then checks the proof it held.
    pub fn resume(&mut self, env: &Env) -> Outcome {
        let held = self
            .conversation
            .take()
            .and_then(|mut c| c.delayed_proof.take().map(|proof| (c, proof)));
        let step = match held {
            Some((conv, proof)) => self.continue_with(conv, &proof, env),
            None => Step::Refuse(no_conversation()),
        };
        self.outcome(step)
    }

    fn continue_with(&mut self, mut conv: Conversation, payload: &[u8], env: &Env) -> Step {
        let proof_step = conv.proof_pending;
        if proof_step {
            match self.throttle_before_proof(&mut conv, env) {
                Ok(None) => conv.proof_pending = false,
                Ok(Some(ms)) => {
                    conv.delayed_proof = Some(payload.to_vec());
                    self.conversation = Some(conv);
                    return Step::Wait(ms);
                }
                Err(e) => return Step::Refuse(e),
            }
        }
        let reply = match conv.server.step(payload) {
            Ok(r) => r,
            Err(e) => {
                self.record_failure(&mut conv, &e.to_string(), e.is_wrong_proof(), env);
                return Step::Refuse(auth_failed());
            }
        };
        if proof_step {
            // The proof verified: give its place in the budget back now, not after the
            // client's optional empty message.
            conv.slot.finish(conv.server.username(), true, now_ms(env));
        }
        if reply.done {
            if let Err(e) = self.complete(&mut conv, env) {
                return Step::Refuse(e);
            }
        } else {
            self.conversation = Some(conv);
        }
        Step::Reply(handshake::finish(rawdoc! {
            "conversationId": CONVERSATION_ID,
            "done": reply.done,
            "payload": binary(reply.payload),
        }))
    }

    /// A failed authentication: counted, audited and logged. Only a proof that was
    /// checked and did not verify (`guessed`) feeds the failure throttle.
    fn record_failure(&mut self, conv: &mut Conversation, proof: &str, guessed: bool, env: &Env) {
        let mechanism = conv.server.mechanism();
        env.stats.record_auth(metric_mechanism(mechanism), false);
        let reason = match &conv.found {
            Err(absent) => absent.as_str(),
            Ok(_) => proof,
        };
        let event = AuditEvent::authenticate(
            &self.audit_ctx(),
            conv.server.username(),
            &conv.db,
            mechanism.name(),
            Err(reason),
        );
        self.audit(event, env);
        // Still a failed login (metrics, audit, log) when it tested no password, but
        // only a guess may slow or refuse the next attempt.
        if guessed {
            let user = conv.server.username().to_string();
            conv.slot.finish(&user, false, now_ms(env));
        } else {
            conv.slot.abandon();
        }
        info!(
            conn.id = self.id, cluster.name = %self.cluster, client.addr = %self.peer.ip(),
            auth.user = conv.server.username(), auth.db = %conv.db, auth.mechanism = conv.server.mechanism().name(),
            reason, "authentication failed"
        );
    }

    /// The conversation proved the password: bind the user to the connection.
    fn complete(&mut self, conv: &mut Conversation, env: &Env) -> Result<(), ErrorReply> {
        let Ok(user) = conv.found.clone() else {
            // Unreachable by construction (a fake credential never verifies); fail closed.
            self.record_failure(conv, "no user", true, env);
            return Err(auth_failed());
        };
        // Normally released at the proof step already; this covers any other path.
        conv.slot.finish(conv.server.username(), true, now_ms(env));
        one_user(self.user.as_deref(), &user)?;
        let mechanism = conv.server.mechanism();
        env.stats.record_auth(metric_mechanism(mechanism), true);
        let event = AuditEvent::authenticate(
            &self.audit_ctx(),
            &user.user,
            &user.db,
            mechanism.name(),
            Ok(()),
        );
        self.audit(event, env);
        if conv.speculative {
            Stats::inc(&env.stats.auth_speculative);
        }
        info!(
            conn.id = self.id, cluster.name = %self.cluster, client.addr = %self.peer.ip(),
            auth.user = %user.user, auth.db = %user.db, auth.mechanism = mechanism.name(),
            "authenticated"
        );
        self.log_in(user.clone(), env.policy.generation());
        self.effect(Effect::LoggedIn(user));
        Ok(())
    }

    /// hello's `speculativeAuthenticate`: the saslStart step inside the handshake. Any
    /// failure just omits the field; the driver then authenticates normally and sees the
    /// usual error.
    pub(super) fn speculative(&mut self, doc: &RawDocument, env: &Env) -> Option<RawDocumentBuf> {
        if doc.get_i32("saslStart").is_err()
            && doc.get_f64("saslStart").is_err()
            && doc.get_bool("saslStart").is_err()
        {
            return None;
        }
        let db = doc.get_str("db").unwrap_or("admin").to_string();
        let first = self.sasl_start(doc, &db, env).ok()?;
        let conv = self.conversation.as_mut()?;
        // A user that exists without a credential for the speculated mechanism (e.g. only
        // SCRAM-SHA-1, while drivers speculate SCRAM-SHA-256): mongod omits the field so
        // the driver falls back to the mechanism saslSupportedMechs named. Answering with
        // a fake credential would make an otherwise valid login fail.
        let mechanism = conv.server.mechanism();
        if matches!(&conv.found, Ok(u) if u.credential(mechanism).is_none()) {
            self.conversation = None;
            return None;
        }
        conv.speculative = true;
        Some(first)
    }

    /// hello's `saslSupportedMechs: "db.user"`. Unknown users get mongod's default pair,
    /// so the answer does not reveal which users exist.
    pub(super) fn supported_mechs(&self, spec: &str, env: &Env) -> RawArrayBuf {
        let policy = env.policy.load();
        let ctx = self.lookup_context(env);
        sasl_supported_mechs(spec, |db, user| {
            let found = policy.users(ctx.cluster).lookup(db, user, &ctx).ok();
            found.map(|u| u.mechanisms())
        })
    }
}

fn no_conversation() -> ErrorReply {
    ErrorReply::new(ErrorCode::ProtocolError, "No SASL session state found")
}

/// A poisoned throttle lock refuses every attempt rather than letting them all through.
fn poisoned() -> Verdict {
    tracing::error!("the authentication throttle lock is poisoned; refusing authentication");
    Verdict::Refuse {
        retry_after_ms: 1_000,
        reason: Refusal::SourceCooldown,
    }
}
