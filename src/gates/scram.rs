//! Server side of SCRAM-SHA-1 / SCRAM-SHA-256 exactly as mongod speaks it
//! (RFC 5802, RFC 7677, MongoDB driver auth spec), plus a client for the
//! proxy's own upstream login ([`ScramClient`]).
//!
//! Pure: the caller supplies the server nonce bytes (from a CSPRNG), the
//! per-process fake-credential secret and the user lookup; no I/O, no clock.
//!
//! Conversation as the caller drives it:
//! 1. `saslStart` payload -> [`ScramServer::start`] -> server-first (done: false).
//! 2. `saslContinue` payloads -> [`ScramServer::step`] until `done` is true;
//!    the first returns server-final, the second (unless `skipEmptyExchange`
//!    was requested) answers the client's third message with an empty payload.
//!    That third payload is ignored, as mongod ignores it: drivers 3.x-4.0 send
//!    the server-final message back there instead of an empty one.
//! 3. The session is authenticated only when [`ScramServer::is_authenticated`].
//!
//! Any error ends the conversation; the client must only ever see
//! [`CLIENT_ERROR_MESSAGE`] so it cannot learn which check failed.

mod client;
mod parse;

pub use client::{KeyCache, ScramClient};

use crate::gates::credentials::{CredentialError, Mechanism, ScramCredential};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// mongod's reply text for every authentication failure (error code 18,
/// `AuthenticationFailed`); details go to the proxy's log only.
pub const CLIENT_ERROR_MESSAGE: &str = "Authentication failed.";

/// Minimum nonce entropy we accept from the caller: mongod and the drivers
/// draw 24 random bytes.
pub const MIN_NONCE_BYTES: usize = 24;

/// What went wrong in a SCRAM conversation. For logs only.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("message is not UTF-8")]
    NotUtf8,
    #[error("message exceeds the SCRAM message size limit")]
    MessageTooLong,
    #[error("malformed GS2 header")]
    BadGs2Header,
    #[error("channel binding requested but not supported")]
    ChannelBindingUnsupported,
    #[error("authorization identity (a=) not supported")]
    AuthzidUnsupported,
    #[error("missing or misplaced attribute `{0}=`")]
    MissingAttribute(&'static str),
    #[error("SCRAM extensions are not supported")]
    ExtensionUnsupported,
    #[error("user name has an '=' not followed by 2C or 3D")]
    BadUsernameEncoding,
    #[error("empty user name")]
    EmptyUsername,
    #[error("user name rejected by SASLprep")]
    UsernamePrep,
    #[error("nonce empty or has invalid characters")]
    BadNonce,
    #[error("nonce too short: need at least {MIN_NONCE_BYTES} random bytes")]
    NonceTooShort,
    #[error("channel binding attribute is not `c=biws`")]
    BadChannelBinding,
    #[error("nonce does not match the conversation's nonce")]
    NonceMismatch,
    #[error("attribute `{0}=` is not valid base64")]
    BadBase64(&'static str),
    #[error("client proof has the wrong length")]
    BadProofLength,
    /// Wrong password *or* unknown user: deliberately the same variant.
    #[error("client proof does not verify (wrong password or unknown user)")]
    AuthenticationFailed,
    #[error("message out of order for the conversation state")]
    InvalidState,
    #[error("iteration count is not a decimal number")]
    BadIterationCount,
    #[error("iteration count {0} is below the minimum 4096")]
    IterationCountTooLow(u32),
    #[error("iteration count {0} is above the client's limit")]
    IterationCountTooHigh(u32),
    #[error("server signature does not verify")]
    ServerSignatureMismatch,
    #[error("server reported error: {0}")]
    ServerError(String),
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl ScramError {
    /// True only when a proof was checked against a credential and did not verify: the
    /// one outcome that says something about a password guess. Every other error is a
    /// protocol mismatch (a malformed or out-of-order message, another nonce, a proof of
    /// the wrong length) that tested no password, so the failure throttle must not count
    /// it: an old driver speaking a slightly different dialect would otherwise lock its
    /// own user out.
    pub fn is_wrong_proof(&self) -> bool {
        matches!(self, ScramError::AuthenticationFailed)
    }
}

/// One `saslContinue` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub payload: Vec<u8>,
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitClientFinal,
    /// The proof verified; the client's (ignored) third message completes it.
    AwaitThird,
    Authenticated,
    Failed,
}

/// One server-side SCRAM conversation.
#[derive(Debug)]
pub struct ScramServer {
    mechanism: Mechanism,
    username: String,
    credential: ScramCredential,
    user_exists: bool,
    /// `client-first-bare "," server-first`: the fixed prefix of the AuthMessage.
    auth_prefix: String,
    combined_nonce: String,
    skip_empty_exchange: bool,
    state: State,
}

impl ScramServer {
    /// Handles the `saslStart` payload. `lookup` gets the user name (already
    /// SASLprep'ed for SCRAM-SHA-256, as mongod does) and returns the
    /// credential for `mechanism`, or None for an unknown user, in which case
    /// a fake credential derived from `fake_secret` (a per-process random key,
    /// >= 32 bytes) stands in so the failure only shows at the proof step.
    pub fn start(
        mechanism: Mechanism,
        client_first: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
        server_nonce: &[u8],
        fake_secret: &[u8],
    ) -> Result<(ScramServer, Vec<u8>), ScramError> {
        if server_nonce.len() < MIN_NONCE_BYTES {
            return Err(ScramError::NonceTooShort);
        }
        let nonce = B64.encode(server_nonce);
        Self::start_with_nonce(mechanism, client_first, lookup, &nonce, fake_secret)
    }

    /// `start` with the server nonce already in its printable form, so the
    /// RFC test vectors (whose nonces are not base64) can be replayed.
    pub(crate) fn start_with_nonce(
        mechanism: Mechanism,
        client_first: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
        server_nonce: &str,
        fake_secret: &[u8],
    ) -> Result<(ScramServer, Vec<u8>), ScramError> {
        let first = parse::parse_client_first(client_first)?;
        let username = match mechanism {
            Mechanism::ScramSha1 => first.username,
            Mechanism::ScramSha256 => stringprep::saslprep(&first.username)
                .map_err(|_| ScramError::UsernamePrep)?
                .into_owned(),
        };
        // A credential of the wrong mechanism is a caller bug; treating it as
        // unknown fails closed and keeps the reply indistinguishable.
        let found = lookup(&username).filter(|c| c.mechanism == mechanism);
        let user_exists = found.is_some();
        let credential =
            found.unwrap_or_else(|| fake_credential(mechanism, &username, fake_secret));
        let combined_nonce = format!("{}{}", first.nonce, server_nonce);
        let server_first = format!(
            "r={},s={},i={}",
            combined_nonce,
            B64.encode(&credential.salt),
            credential.iterations
        );
        let server = ScramServer {
            mechanism,
            username,
            credential,
            user_exists,
            auth_prefix: format!("{},{}", first.bare, server_first),
            combined_nonce,
            skip_empty_exchange: false,
            state: State::AwaitClientFinal,
        };
        Ok((server, server_first.into_bytes()))
    }

    /// Mirrors saslStart's `options: {skipEmptyExchange: true}`: the
    /// conversation completes with the server-final message.
    pub fn set_skip_empty_exchange(&mut self, skip: bool) {
        self.skip_empty_exchange = skip;
    }

    /// The user name being authenticated (unescaped; SASLprep'ed for SHA-256).
    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the lookup found the user. For the proxy's own log only: the
    /// client must not learn it.
    pub fn user_exists(&self) -> bool {
        self.user_exists
    }

    /// Handles the client-final message and returns server-final when the
    /// proof verifies. Without `skipEmptyExchange` the conversation still
    /// needs the client's third message (see [`ScramServer::step`]).
    pub fn finish(&mut self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        if self.state != State::AwaitClientFinal {
            self.state = State::Failed;
            return Err(ScramError::InvalidState);
        }
        // One attempt per conversation: any failure is final.
        self.state = State::Failed;
        let server_final = self.verify(client_final)?;
        self.state = if self.skip_empty_exchange {
            State::Authenticated
        } else {
            State::AwaitThird
        };
        Ok(server_final)
    }

    /// Handles any `saslContinue` payload according to the conversation state.
    pub fn step(&mut self, payload: &[u8]) -> Result<Reply, ScramError> {
        match self.state {
            State::AwaitClientFinal => {
                let payload = self.finish(payload)?;
                Ok(Reply {
                    payload,
                    done: self.state == State::Authenticated,
                })
            }
            // mongod's step 3 answers `done` whatever the payload says: the proof
            // already verified, and nothing in this message could change that.
            State::AwaitThird => {
                self.state = State::Authenticated;
                Ok(Reply {
                    payload: Vec::new(),
                    done: true,
                })
            }
            State::Authenticated | State::Failed => {
                self.state = State::Failed;
                Err(ScramError::InvalidState)
            }
        }
    }

    /// True once the proof verified and the conversation reported `done`.
    pub fn is_authenticated(&self) -> bool {
        self.state == State::Authenticated
    }

    /// RFC 5802 section 3 verification; returns the server-final message.
    fn verify(&self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        let fin = parse::parse_client_final(client_final)?;
        if fin.nonce != self.combined_nonce {
            return Err(ScramError::NonceMismatch);
        }
        let m = self.mechanism;
        if fin.proof.len() != m.key_len() {
            return Err(ScramError::BadProofLength);
        }
        let auth_message = format!("{},{}", self.auth_prefix, fin.without_proof);
        let client_signature = m.hmac(&self.credential.stored_key, auth_message.as_bytes());
        let client_key = xor(&fin.proof, &client_signature);
        let matches = m.hash(&client_key).ct_eq(&self.credential.stored_key);
        // The fake credential must never verify, even by a 2^-160 accident.
        let exists = subtle::Choice::from(u8::from(self.user_exists));
        if !bool::from(matches & exists) {
            return Err(ScramError::AuthenticationFailed);
        }
        let server_signature = m.hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

pub(crate) fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Stand-in credential for unknown users, like mongod's: deterministic per
/// (secret, mechanism, user) so repeated probes see a stable salt, shaped
/// like a real one (mongod's salt length and default iteration count) so the
/// server-first message does not reveal that the user is missing.
fn fake_credential(m: Mechanism, username: &str, secret: &[u8]) -> ScramCredential {
    let mut label = b"mongoward fake SCRAM credential\0".to_vec();
    label.extend_from_slice(m.name().as_bytes());
    label.push(0);
    label.extend_from_slice(username.as_bytes());
    let seed = Mechanism::ScramSha256.hmac(secret, &label);
    let part = |tag: &[u8], len: usize| {
        let mut bytes = Mechanism::ScramSha256.hmac(&seed, tag);
        bytes.truncate(len);
        bytes
    };
    ScramCredential {
        mechanism: m,
        iterations: m.default_iterations(),
        salt: part(b"salt", m.salt_len()),
        stored_key: part(b"storedKey", m.key_len()),
        server_key: part(b"serverKey", m.key_len()),
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// Fuzzing entry (`fuzz/fuzz_targets/scram_server.rs`): the first byte picks the
/// mechanism and how long the client-first message is; the rest are the client's
/// messages, separated by NUL bytes, driven through a conversation with a real
/// credential. Must never panic.
pub fn fuzz_logic(data: &[u8]) {
    use std::sync::LazyLock;
    static CREDS: LazyLock<Vec<ScramCredential>> = LazyLock::new(|| {
        [Mechanism::ScramSha1, Mechanism::ScramSha256]
            .iter()
            .filter_map(|m| {
                let salt = vec![5u8; m.salt_len()];
                ScramCredential::derive(*m, "fuzz", "fuzz-pw", &salt, 4096).ok()
            })
            .collect()
    });
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mechanism = if sel & 1 == 0 {
        Mechanism::ScramSha1
    } else {
        Mechanism::ScramSha256
    };
    let cut = (usize::from(sel >> 1) * 4).min(rest.len());
    let (first, more) = rest.split_at(cut);
    let lookup = |_: &str| CREDS.iter().find(|c| c.mechanism == mechanism).cloned();
    let Ok((mut server, _)) = ScramServer::start(mechanism, first, lookup, &[7u8; 24], &[9u8; 32])
    else {
        return;
    };
    server.set_skip_empty_exchange(sel & 0x80 != 0);
    for message in more.split(|b| *b == 0) {
        if server.step(message).is_err() {
            break;
        }
    }
}
