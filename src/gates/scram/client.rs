//! Client side of SCRAM, used by the proxy to log in to the upstream mongod
//! with its own service user. Pure: the caller supplies the nonce bytes.

use super::parse::{self, CHANNEL_BINDING_NONE};
use super::{xor, ScramError, MIN_NONCE_BYTES};
use crate::gates::credentials::{ClientKeys, Mechanism, MIN_ITERATIONS};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// Highest iteration count the client will run. mongod's defaults are
/// 10000/15000; a misconfigured or hostile upstream asking for billions
/// would otherwise pin a core for minutes per connection.
pub const MAX_CLIENT_ITERATIONS: u32 = 10_000_000;

/// One client-side SCRAM conversation.
pub struct ScramClient {
    mechanism: Mechanism,
    /// Password after MongoDB's preparation (MD5 digest or SASLprep).
    prepared_password: Vec<u8>,
    client_first_bare: String,
    client_nonce: String,
    /// Expected ServerSignature, known once client-final was built.
    server_signature: Option<Vec<u8>>,
}

// The prepared password is a password equivalent: never print it.
impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("client_first_bare", &self.client_first_bare)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Starts a conversation; returns the client-first message for saslStart.
    /// `client_nonce` must be >= 24 bytes from a CSPRNG.
    pub fn new(
        mechanism: Mechanism,
        user: &str,
        password: &str,
        client_nonce: &[u8],
    ) -> Result<(ScramClient, Vec<u8>), ScramError> {
        if client_nonce.len() < MIN_NONCE_BYTES {
            return Err(ScramError::NonceTooShort);
        }
        let prepared = mechanism.prepare_password(user, password)?;
        Ok(Self::with_prepared(
            mechanism,
            user,
            prepared,
            &B64.encode(client_nonce),
        ))
    }

    /// Constructor taking an already prepared password and a printable nonce,
    /// so the raw RFC 5802/7677 vectors can be replayed.
    pub(crate) fn with_prepared(
        mechanism: Mechanism,
        user: &str,
        prepared_password: Vec<u8>,
        client_nonce: &str,
    ) -> (ScramClient, Vec<u8>) {
        let client_first_bare = format!("n={},r={}", parse::escape_username(user), client_nonce);
        let message = format!("n,,{client_first_bare}").into_bytes();
        let client = ScramClient {
            mechanism,
            prepared_password,
            client_first_bare,
            client_nonce: client_nonce.to_owned(),
            server_signature: None,
        };
        (client, message)
    }

    /// Answers the server-first message with client-final (proof included).
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        self.client_final_with(server_first, None)
    }

    /// As `client_final`, reusing the keys `cache` holds for the same password, salt and
    /// iteration count instead of running PBKDF2 again.
    pub fn client_final_cached(
        &mut self,
        server_first: &[u8],
        cache: &KeyCache,
    ) -> Result<Vec<u8>, ScramError> {
        self.client_final_with(server_first, Some(cache))
    }

    fn client_final_with(
        &mut self,
        server_first: &[u8],
        cache: Option<&KeyCache>,
    ) -> Result<Vec<u8>, ScramError> {
        if self.server_signature.is_some() {
            return Err(ScramError::InvalidState);
        }
        let first = parse::parse_server_first(server_first)?;
        // The server must extend our nonce, not replace or merely echo it.
        let extends = first.nonce.len() > self.client_nonce.len()
            && first.nonce.starts_with(self.client_nonce.as_str());
        if !extends {
            return Err(ScramError::NonceMismatch);
        }
        if first.iterations < MIN_ITERATIONS {
            return Err(ScramError::IterationCountTooLow(first.iterations));
        }
        if first.iterations > MAX_CLIENT_ITERATIONS {
            return Err(ScramError::IterationCountTooHigh(first.iterations));
        }
        let m = self.mechanism;
        let derive = || ClientKeys::new(m, &self.prepared_password, &first.salt, first.iterations);
        let keys = match cache {
            Some(c) => c.get_or(
                m,
                &self.prepared_password,
                &first.salt,
                first.iterations,
                derive,
            ),
            None => derive(),
        };
        let without_proof = format!("c={CHANNEL_BINDING_NONE},r={}", first.nonce);
        // as_text succeeded inside parse_server_first, so this is the same text.
        let server_first_text = parse::as_text(server_first)?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first_text, without_proof
        );
        let stored_key = m.hash(&keys.client_key);
        let client_signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof = xor(&keys.client_key, &client_signature);
        self.server_signature = Some(m.hmac(&keys.server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message: proves the server knew the
    /// credential (mutual authentication), so a spoofed upstream is caught.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let expected = self
            .server_signature
            .as_ref()
            .ok_or(ScramError::InvalidState)?;
        let got = parse::parse_server_final(server_final)?;
        if bool::from(got.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ScramError::ServerSignatureMismatch)
        }
    }
}

/// The client keys for the last salt and iteration count a server sent, kept as drivers
/// keep them: PBKDF2 is most of the cost of a SCRAM login, and the salt and count change
/// only when the password does. One cache per login identity (user and password); the
/// lock is taken once per login, never on the message path.
#[derive(Default)]
pub struct KeyCache(Mutex<Option<CachedKeys>>);

struct CachedKeys {
    mechanism: Mechanism,
    prepared_password: Vec<u8>,
    salt: Vec<u8>,
    iterations: u32,
    keys: ClientKeys,
}

// Password equivalents inside: never print them.
impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

impl KeyCache {
    fn get_or(
        &self,
        m: Mechanism,
        prepared: &[u8],
        salt: &[u8],
        iterations: u32,
        derive: impl FnOnce() -> ClientKeys,
    ) -> ClientKeys {
        let hit = |c: &CachedKeys| {
            c.mechanism == m
                && c.iterations == iterations
                && c.salt == salt
                && bool::from(c.prepared_password.ct_eq(prepared))
        };
        if let Ok(guard) = self.0.lock() {
            if let Some(c) = guard.as_ref().filter(|c| hit(c)) {
                return c.keys.clone();
            }
        }
        let keys = derive();
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some(CachedKeys {
                mechanism: m,
                prepared_password: prepared.to_vec(),
                salt: salt.to_vec(),
                iterations,
                keys: keys.clone(),
            });
        }
        keys
    }

    /// Whether keys are held (says nothing about them).
    #[cfg(test)]
    pub(crate) fn is_warm(&self) -> bool {
        self.0.lock().map(|g| g.is_some()).unwrap_or(false)
    }
}
