//! SCRAM credentials as mongod stores them in `system.users`, and the key
//! derivation shared by the SCRAM server and client (RFC 5802 / RFC 7677 with
//! MongoDB's password preparation).
//!
//! The proxy never stores a password: only `{iterationCount, salt, storedKey,
//! serverKey}` per mechanism, which is enough to verify a client proof.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Lowest iteration count accepted anywhere: RFC 7677 section 4 and the
/// MongoDB driver auth spec both require clients to refuse fewer than 4096.
pub const MIN_ITERATIONS: u32 = 4096;

/// The two SCRAM mechanisms mongod offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `SCRAM-SHA-1`, password prepared as hex MD5 of `user:mongo:password`.
    ScramSha1,
    /// `SCRAM-SHA-256`, password prepared with SASLprep (RFC 4013).
    ScramSha256,
}

impl Mechanism {
    /// The SASL mechanism name as it appears in `saslStart` and `system.users`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Parses a SASL mechanism name (exact, case-sensitive, as mongod does).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "SCRAM-SHA-1" => Some(Mechanism::ScramSha1),
            "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
            _ => None,
        }
    }

    /// Digest output length, which is also the length of StoredKey/ServerKey.
    pub fn key_len(self) -> usize {
        match self {
            Mechanism::ScramSha1 => 20,
            Mechanism::ScramSha256 => 32,
        }
    }

    /// mongod's default iteration count (`scramIterationCount` = 10000,
    /// `scramSHA256IterationCount` = 15000).
    pub fn default_iterations(self) -> u32 {
        match self {
            Mechanism::ScramSha1 => 10_000,
            Mechanism::ScramSha256 => 15_000,
        }
    }

    /// Salt length mongod generates: digest length minus 4 (16 / 28 bytes).
    pub fn salt_len(self) -> usize {
        self.key_len().saturating_sub(4)
    }

    /// HMAC(key, data) with this mechanism's digest.
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha1 => hmac_sha1(key, data),
            Mechanism::ScramSha256 => hmac_sha256(key, data),
        }
    }

    /// H(data) with this mechanism's digest.
    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha1 => Sha1::digest(data).to_vec(),
            Mechanism::ScramSha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// Hi() of RFC 5802: PBKDF2-HMAC with this mechanism's digest.
    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.key_len()];
        match self {
            Mechanism::ScramSha1 => {
                pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out)
            }
            Mechanism::ScramSha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
        }
        out
    }

    /// The password bytes that go into Hi(), exactly as mongod and the drivers
    /// prepare them: SHA-1 uses hex(MD5("user:mongo:password")) without
    /// SASLprep (legacy MONGODB-CR digest), SHA-256 uses SASLprep(password).
    pub fn prepare_password(self, user: &str, password: &str) -> Result<Vec<u8>, CredentialError> {
        match self {
            Mechanism::ScramSha1 => {
                let digest = Md5::digest(format!("{user}:mongo:{password}").as_bytes());
                Ok(hex_lower(&digest).into_bytes())
            }
            Mechanism::ScramSha256 => stringprep::saslprep(password)
                .map(|p| p.into_owned().into_bytes())
                .map_err(|_| CredentialError::PasswordPrep),
        }
    }
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // ok: HMAC accepts keys of any length (long keys are hashed first), so
    // new_from_slice has no failing case.
    // ok: HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts any key length"); // ok:
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // ok: HMAC accepts keys of any length (long keys are hashed first), so
    // new_from_slice has no failing case.
    // ok: HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length"); // ok:
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(&d) = DIGITS.get(usize::from(nibble)) {
                out.push(char::from(d));
            }
        }
    }
    out
}

/// Why a credential could not be built. Each variant names the offending field.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("{field}: not valid base64")]
    Base64 { field: &'static str },
    #[error("{field}: expected {expected} bytes, got {actual}")]
    KeyLength {
        field: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("salt: must not be empty")]
    EmptySalt,
    #[error("iterationCount: {actual} is below the minimum {min}")]
    Iterations { actual: u32, min: u32 },
    #[error("password: rejected by SASLprep (RFC 4013 prohibited or unassigned characters)")]
    PasswordPrep,
}

/// serde shape of `[users.credentials."SCRAM-SHA-256"]`; field names exactly
/// as in mongod's `system.users` so documents can be copied over.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    #[serde(rename = "iterationCount")]
    pub iteration_count: u32,
    pub salt: String,
    #[serde(rename = "storedKey")]
    pub stored_key: String,
    #[serde(rename = "serverKey")]
    pub server_key: String,
}

/// A decoded, validated SCRAM credential for one mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub mechanism: Mechanism,
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

// Keys are password-equivalent for offline guessing; keep them out of logs.
impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// Decodes and validates a configured credential.
    pub fn from_config(m: Mechanism, c: &CredentialConfig) -> Result<Self, CredentialError> {
        check_iterations(c.iteration_count)?;
        let salt = decode_field("salt", &c.salt)?;
        if salt.is_empty() {
            return Err(CredentialError::EmptySalt);
        }
        let stored_key = decode_key(m, "storedKey", &c.stored_key)?;
        let server_key = decode_key(m, "serverKey", &c.server_key)?;
        Ok(ScramCredential {
            mechanism: m,
            iterations: c.iteration_count,
            salt,
            stored_key,
            server_key,
        })
    }

    /// Derives the stored credential from a password, as `createUser` does.
    pub fn derive(
        m: Mechanism,
        user: &str,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, CredentialError> {
        let prepared = m.prepare_password(user, password)?;
        Self::derive_prepared(m, &prepared, salt, iterations)
    }

    /// Derivation from an already prepared password. Separate from `derive`
    /// so the raw RFC 5802 algorithm (no MongoDB MD5 step) is testable.
    pub(crate) fn derive_prepared(
        m: Mechanism,
        prepared: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, CredentialError> {
        check_iterations(iterations)?;
        if salt.is_empty() {
            return Err(CredentialError::EmptySalt);
        }
        let keys = ClientKeys::new(m, prepared, salt, iterations);
        Ok(ScramCredential {
            mechanism: m,
            iterations,
            salt: salt.to_vec(),
            stored_key: m.hash(&keys.client_key),
            server_key: keys.server_key,
        })
    }

    /// The base64 form stored in configuration.
    pub fn to_config(&self) -> CredentialConfig {
        CredentialConfig {
            iteration_count: self.iterations,
            salt: B64.encode(&self.salt),
            stored_key: B64.encode(&self.stored_key),
            server_key: B64.encode(&self.server_key),
        }
    }
}

/// ClientKey and ServerKey derived from a salted password; shared by
/// credential derivation and the SCRAM client.
#[derive(Clone)]
pub(crate) struct ClientKeys {
    pub(crate) client_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

impl ClientKeys {
    pub(crate) fn new(m: Mechanism, prepared: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salted = m.salted_password(prepared, salt, iterations);
        ClientKeys {
            client_key: m.hmac(&salted, b"Client Key"),
            server_key: m.hmac(&salted, b"Server Key"),
        }
    }
}

fn check_iterations(actual: u32) -> Result<(), CredentialError> {
    if actual < MIN_ITERATIONS {
        return Err(CredentialError::Iterations {
            actual,
            min: MIN_ITERATIONS,
        });
    }
    Ok(())
}

fn decode_field(field: &'static str, text: &str) -> Result<Vec<u8>, CredentialError> {
    B64.decode(text.trim())
        .map_err(|_| CredentialError::Base64 { field })
}

fn decode_key(m: Mechanism, field: &'static str, text: &str) -> Result<Vec<u8>, CredentialError> {
    let key = decode_field(field, text)?;
    if key.len() != m.key_len() {
        return Err(CredentialError::KeyLength {
            field,
            expected: m.key_len(),
            actual: key.len(),
        });
    }
    Ok(key)
}

/// The TOML table text `hash-password` prints, one
/// `[users.credentials."<mechanism>"]` table per credential, ready to paste
/// under a `[[users]]` entry.
pub fn credentials_toml(creds: &[ScramCredential]) -> String {
    let tables: Vec<String> = creds
        .iter()
        .map(|c| {
            let cfg = c.to_config();
            // Base64 text never contains '"' or '\\', so plain quoting is exact TOML.
            format!(
                "[users.credentials.\"{}\"]\niterationCount = {}\nsalt = \"{}\"\nstoredKey = \"{}\"\nserverKey = \"{}\"\n",
                c.mechanism.name(),
                cfg.iteration_count,
                cfg.salt,
                cfg.stored_key,
                cfg.server_key
            )
        })
        .collect();
    tables.join("\n")
}

#[cfg(test)]
mod tests;
