//! Logging in to the upstream as the cluster's service user (SCRAM-SHA-256, or SCRAM-SHA-1
//! when the upstream's `saslSupportedMechs` only offers that).
//!
//! Errors name the step and the server's code, never the user, the password or a proof:
//! they end up in log lines and, summarised, in the client's HostUnreachable.

use bson::{rawdoc, spec::BinarySubtype, Binary, RawDocument, RawDocumentBuf};

use crate::config::ServicePassword;
use crate::gates::credentials::Mechanism;
use crate::gates::scram::{KeyCache, ScramClient};
use crate::proxy::upstream::{UpstreamConn, UpstreamError};
use std::sync::Arc;

/// The service login of one cluster.
#[derive(Clone, Debug)]
pub struct ServiceLogin {
    pub user: String,
    pub source: String,
    pub password: ServicePassword,
    /// PBKDF2 output for this password, shared by the cluster's upstream connections:
    /// without it every client connection would pay a full key derivation upstream.
    pub keys: Arc<KeyCache>,
}

impl ServiceLogin {
    /// The `saslSupportedMechs` value for the hello that precedes the login.
    pub fn namespace(&self) -> String {
        format!("{}.{}", self.source, self.user)
    }
}

/// SHA-256 unless the hello says the user only has SHA-1 credentials.
pub fn choose_mechanism(hello: &RawDocument) -> Mechanism {
    let offered: Vec<&str> = hello
        .get_array("saslSupportedMechs")
        .map(|a| a.into_iter().flatten().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    if !offered.contains(&"SCRAM-SHA-256") && offered.contains(&"SCRAM-SHA-1") {
        Mechanism::ScramSha1
    } else {
        Mechanism::ScramSha256
    }
}

fn auth_error(step: &str, detail: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Auth(format!("service user login failed at {step}: {detail}"))
}

fn server_failure(reply: &RawDocument) -> Option<String> {
    let ok = reply
        .get_f64("ok")
        .ok()
        .or_else(|| reply.get_i32("ok").ok().map(f64::from));
    if ok == Some(1.0) {
        return None;
    }
    let code = reply.get_i32("code").unwrap_or(0);
    let name = reply.get_str("codeName").unwrap_or("unknown");
    Some(format!("{name} ({code})"))
}

fn payload(reply: &RawDocument) -> Result<Vec<u8>, UpstreamError> {
    reply
        .get_binary("payload")
        .map(|b| b.bytes.to_vec())
        .map_err(|_| auth_error("reply", "no payload"))
}

fn bin(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

/// Runs the whole SCRAM conversation, verifying the server's signature too.
pub async fn login(
    conn: &mut UpstreamConn,
    login: &ServiceLogin,
    mechanism: Mechanism,
) -> Result<(), UpstreamError> {
    use rand::RngCore;
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let (mut client, first) = ScramClient::new(mechanism, &login.user, &login.password.0, &nonce)
        .map_err(|e| auth_error("client-first", e))?;
    let start: RawDocumentBuf = rawdoc! {
        "saslStart": 1, "mechanism": mechanism.name(), "payload": bin(first),
        "options": {"skipEmptyExchange": true}, "$db": login.source.as_str(),
    };
    let reply = conn.command(start).await?;
    if let Some(f) = server_failure(&reply) {
        return Err(auth_error("saslStart", f));
    }
    let conversation = reply.get_i32("conversationId").unwrap_or(1);
    let proof = client
        .client_final_cached(&payload(&reply)?, &login.keys)
        .map_err(|e| auth_error("server-first", e))?;
    let mut reply = conn
        .command(rawdoc! {
            "saslContinue": 1, "conversationId": conversation, "payload": bin(proof),
            "$db": login.source.as_str(),
        })
        .await?;
    if let Some(f) = server_failure(&reply) {
        return Err(auth_error("saslContinue", f));
    }
    client
        .verify_server_final(&payload(&reply)?)
        .map_err(|e| auth_error("server signature", e))?;
    // Servers that ignore skipEmptyExchange want one more, empty, round.
    if !reply.get_bool("done").unwrap_or(false) {
        reply = conn
            .command(rawdoc! {
                "saslContinue": 1, "conversationId": conversation, "payload": bin(Vec::new()),
                "$db": login.source.as_str(),
            })
            .await?;
        if let Some(f) = server_failure(&reply) {
            return Err(auth_error("final saslContinue", f));
        }
    }
    Ok(())
}
