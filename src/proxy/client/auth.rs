//! The authentication gate in the session: SASL (SCRAM) conversations, speculative
//! authentication inside hello, `saslSupportedMechs`, throttling and the one-user-per-
//! connection rule. The SCRAM maths is in `gates::scram`; this file holds the state.

use std::sync::Arc;
use std::time::Duration;

use bson::spec::BinarySubtype;
use bson::{rawdoc, Binary, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use rand::RngCore;
use tracing::info;

use crate::config::now_unix;
use crate::error_code::ErrorCode;
use crate::gates::credentials::Mechanism;
use crate::gates::scram::{ScramServer, MIN_NONCE_BYTES};
use crate::gates::throttle::{Refusal, Ticket, Verdict};
use crate::gates::users::{Absent, Context, User};
use crate::ops::audit::AuditEvent;
use crate::proxy::client::conn;
use crate::proxy::client::replies::ErrorReply;
use crate::proxy::client::session::Session;
use crate::proxy::state::counters::AuthMechanism;
use crate::proxy::state::stats::Stats;
use crate::proxy::Shared;

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
    /// This conversation's count against its source in the failure throttle.
    slot: ThrottleSlot,
}

/// Hands a conversation's throttle ticket back however the conversation ends: with a
/// verdict on its proof (`finish`), or dropped unfinished (abandoned, still counted).
struct ThrottleSlot {
    shared: Arc<Shared>,
    ticket: Option<Ticket>,
}

impl ThrottleSlot {
    /// Ends the conversation without a verdict on a password (a protocol mismatch).
    fn abandon(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.shared.throttle.lock() {
                t.abandon(ticket);
            }
        }
    }

    fn finish(&mut self, user: &str, success: bool) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.shared.throttle.lock() {
                t.finish(ticket, user, success, now_ms());
            }
        }
    }
}

impl Drop for ThrottleSlot {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.shared.throttle.lock() {
                t.abandon(ticket);
            }
        }
    }
}

fn now_ms() -> u64 {
    (now_unix() as u64).saturating_mul(1000)
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

impl Session {
    fn lookup_context(&self) -> Context<'_> {
        Context {
            cluster: &self.info.cluster.name,
            peer: self.info.peer.ip(),
            now: now_unix(),
        }
    }

    /// `saslStart` (or the speculative one inside hello): returns the reply fields.
    pub(crate) async fn sasl_start(
        &mut self,
        body: &RawDocument,
        db: &str,
    ) -> Result<RawDocumentBuf, ErrorReply> {
        let mechanism = mechanism_of(body)?;
        let payload = payload_of(body)?;
        let policy = self.shared.policy.load();
        let ctx = self.lookup_context();
        let mut found = Err(Absent::Unknown);
        let mut nonce = [0u8; MIN_NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let lookup = |name: &str| {
            found = policy.users(ctx.cluster).lookup(db, name, &ctx).cloned();
            found
                .as_ref()
                .ok()
                .and_then(|u| u.credential(mechanism).cloned())
        };
        let started =
            ScramServer::start(mechanism, payload, lookup, &nonce, &self.shared.fake_secret);
        let (mut server, server_first) = match started {
            Ok(s) => s,
            Err(e) => {
                info!(conn.id = self.info.id, auth.db = db, reason = %e, "malformed saslStart");
                return Err(self.auth_failed());
            }
        };
        server.set_skip_empty_exchange(
            body.get_document("options")
                .and_then(|o| o.get_bool("skipEmptyExchange"))
                .unwrap_or(false),
        );
        let ticket = self.throttle_begin(&server, db)?;
        self.conversation = Some(Conversation {
            server,
            db: db.to_string(),
            found,
            speculative: false,
            proof_pending: true,
            slot: ThrottleSlot {
                shared: self.shared.clone(),
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
    fn throttle_begin(&mut self, server: &ScramServer, db: &str) -> Result<Ticket, ErrorReply> {
        let (verdict, ticket) = match self.shared.throttle.lock() {
            Ok(mut t) => t.begin(server.username(), self.info.peer.ip(), now_ms()),
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
            ) => Err(self.throttled(server, db, reason, retry_after_ms)),
            (_, None) => Err(self.throttled(server, db, Refusal::SourceCooldown, 0)),
        }
    }

    /// Asks the throttle again right before a proof is verified and takes a place in
    /// the source's failure budget: failures of parallel conversations since this one
    /// started count. A delay is waited out first (the proof is checked after it).
    async fn throttle_before_proof(&mut self, conv: &mut Conversation) -> Result<(), ErrorReply> {
        loop {
            let Some(ticket) = conv.slot.ticket.as_mut() else {
                return Err(self.throttled(&conv.server, &conv.db, Refusal::SourceCooldown, 0));
            };
            let verdict = match self.shared.throttle.lock() {
                Ok(mut t) => t.reserve(ticket, conv.server.username(), now_ms()),
                Err(_) => poisoned(),
            };
            match verdict {
                Verdict::Allow => return Ok(()),
                Verdict::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Verdict::Refuse {
                    retry_after_ms,
                    reason,
                } => {
                    return Err(self.throttled(&conv.server, &conv.db, reason, retry_after_ms));
                }
            }
        }
    }

    /// An attempt the throttle refused: counted, audited and logged, answered like any
    /// other authentication failure.
    fn throttled(
        &self,
        server: &ScramServer,
        db: &str,
        reason: Refusal,
        retry_after_ms: u64,
    ) -> ErrorReply {
        Stats::inc(&self.shared.stats.auth_throttled);
        let event = AuditEvent::authenticate(
            &self.audit_ctx(),
            server.username(),
            db,
            server.mechanism().name(),
            Err(reason.as_str()),
        );
        self.shared.auditor.emit(event);
        info!(
            conn.id = self.info.id, auth.user = server.username(), client.addr = %self.info.peer.ip(),
            retry_after_ms, reason = reason.as_str(), "authentication refused by the failure throttle"
        );
        self.auth_failed()
    }

    /// `saslContinue`.
    pub(crate) async fn sasl_continue(
        &mut self,
        body: &RawDocument,
    ) -> Result<RawDocumentBuf, ErrorReply> {
        let payload = payload_of(body)?;
        let id_ok = matches!(
            body.get("conversationId"),
            Ok(Some(RawBsonRef::Int32(CONVERSATION_ID)))
        ) || body.get_i64("conversationId").ok() == Some(i64::from(CONVERSATION_ID));
        let Some(mut conv) = self.conversation.take() else {
            return Err(ErrorReply::new(
                ErrorCode::ProtocolError,
                "No SASL session state found",
            ));
        };
        if !id_ok {
            return Err(ErrorReply::new(
                ErrorCode::ProtocolError,
                "wrong conversationId",
            ));
        }
        let proof_step = std::mem::take(&mut conv.proof_pending);
        if proof_step {
            self.throttle_before_proof(&mut conv).await?;
        }
        let reply = match conv.server.step(payload) {
            Ok(r) => r,
            Err(e) => {
                self.record_failure(&mut conv, &e.to_string(), e.is_wrong_proof());
                return Err(self.auth_failed());
            }
        };
        if proof_step {
            // The proof verified: give its place in the budget back now, not after the
            // client's optional empty message.
            conv.slot.finish(conv.server.username(), true);
        }
        if reply.done {
            self.complete(&mut conv)?;
        } else {
            self.conversation = Some(conv);
        }
        Ok(rawdoc! {
            "conversationId": CONVERSATION_ID,
            "done": reply.done,
            "payload": binary(reply.payload),
        })
    }

    /// A failed authentication: counted, audited and logged. Only a proof that was
    /// checked and did not verify (`guessed`) feeds the failure throttle.
    fn record_failure(&mut self, conv: &mut Conversation, proof: &str, guessed: bool) {
        let mechanism = conv.server.mechanism();
        self.shared
            .stats
            .record_auth(metric_mechanism(mechanism), false);
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
        self.audit(event);
        // Still a failed login (metrics, audit, log) when it tested no password, but
        // only a guess may slow or refuse the next attempt.
        if guessed {
            let user = conv.server.username().to_string();
            conv.slot.finish(&user, false);
        } else {
            conv.slot.abandon();
        }
        info!(
            conn.id = self.info.id, cluster.name = %self.info.cluster.name, client.addr = %self.info.peer.ip(),
            auth.user = conv.server.username(), auth.db = %conv.db, auth.mechanism = conv.server.mechanism().name(),
            reason, "authentication failed"
        );
    }

    /// The conversation proved the password: bind the user to the connection.
    fn complete(&mut self, conv: &mut Conversation) -> Result<(), ErrorReply> {
        let Ok(user) = conv.found.clone() else {
            // Unreachable by construction (a fake credential never verifies); fail closed.
            self.record_failure(conv, "no user", true);
            return Err(self.auth_failed());
        };
        // Normally released at the proof step already; this covers any other path.
        conv.slot.finish(conv.server.username(), true);
        conn::one_user(self.conn.user.as_deref(), &user)?;
        let mechanism = conv.server.mechanism();
        self.shared
            .stats
            .record_auth(metric_mechanism(mechanism), true);
        let event = AuditEvent::authenticate(
            &self.audit_ctx(),
            &user.user,
            &user.db,
            mechanism.name(),
            Ok(()),
        );
        self.audit(event);
        if conv.speculative {
            Stats::inc(&self.shared.stats.auth_speculative);
        }
        info!(
            conn.id = self.info.id, cluster.name = %self.info.cluster.name, client.addr = %self.info.peer.ip(),
            auth.user = %user.user, auth.db = %user.db, auth.mechanism = conv.server.mechanism().name(),
            "authenticated"
        );
        self.set_user(user);
        Ok(())
    }

    pub(crate) fn auth_failed(&self) -> ErrorReply {
        ErrorReply::authentication_failed()
    }

    /// hello's `speculativeAuthenticate`: the saslStart step inside the handshake. Any
    /// failure just omits the field; the driver then authenticates normally and sees the
    /// usual error.
    pub(crate) async fn speculative(&mut self, doc: &RawDocument) -> Option<RawDocumentBuf> {
        if doc.get_i32("saslStart").is_err()
            && doc.get_f64("saslStart").is_err()
            && doc.get_bool("saslStart").is_err()
        {
            return None;
        }
        let db = doc.get_str("db").unwrap_or("admin").to_string();
        let first = self.sasl_start(doc, &db).await.ok()?;
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
    pub(crate) fn supported_mechs(&self, spec: &str) -> RawArrayBuf {
        let policy = self.shared.policy.load();
        let ctx = self.lookup_context();
        conn::sasl_supported_mechs(spec, |db, user| {
            let found = policy.users(ctx.cluster).lookup(db, user, &ctx).ok();
            found.map(|u| u.mechanisms())
        })
    }
}

/// A poisoned throttle lock refuses every attempt rather than letting them all through.
fn poisoned() -> Verdict {
    tracing::error!("the authentication throttle lock is poisoned; refusing authentication");
    Verdict::Refuse {
        retry_after_ms: 1_000,
        reason: Refusal::SourceCooldown,
    }
}
