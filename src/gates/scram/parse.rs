//! Strict parsers and encoders for the four SCRAM messages (RFC 5802 section 7),
//! limited to what MongoDB uses: no channel binding, no authzid, no extensions.

use super::ScramError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

/// Upper bound for any single SCRAM message. Real ones are ~100-300 bytes;
/// the cap keeps a hostile client from making us hash megabytes.
pub(crate) const MAX_MESSAGE_LEN: usize = 8 * 1024;

/// The channel-binding attribute every MongoDB client sends: base64("n,,").
pub(crate) const CHANNEL_BINDING_NONE: &str = "biws";

/// Attribute letters with a meaning in the messages we parse.
const KNOWN_ATTRIBUTES: &str = "nrcpsive";

/// Parsed client-first-message.
#[derive(Debug)]
pub(crate) struct ClientFirst<'a> {
    /// client-first-message-bare, verbatim; it is part of the AuthMessage.
    pub(crate) bare: &'a str,
    /// Unescaped user name.
    pub(crate) username: String,
    pub(crate) nonce: &'a str,
}

/// Parsed client-final-message.
#[derive(Debug)]
pub(crate) struct ClientFinal<'a> {
    /// client-final-message-without-proof, verbatim (for the AuthMessage).
    pub(crate) without_proof: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) proof: Vec<u8>,
}

/// Parsed server-first-message (client side).
#[derive(Debug)]
pub(crate) struct ServerFirst<'a> {
    pub(crate) nonce: &'a str,
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
}

pub(crate) fn as_text(message: &[u8]) -> Result<&str, ScramError> {
    if message.len() > MAX_MESSAGE_LEN {
        return Err(ScramError::MessageTooLong);
    }
    std::str::from_utf8(message).map_err(|_| ScramError::NotUtf8)
}

/// Splits `name=value`, requiring the expected attribute name.
fn attr<'a>(part: Option<&'a str>, name: &'static str) -> Result<&'a str, ScramError> {
    let part = part.ok_or(ScramError::MissingAttribute(name))?;
    let (key, value) = part
        .split_once('=')
        .ok_or(ScramError::MissingAttribute(name))?;
    if key == name {
        return Ok(value);
    }
    // A single-letter key that SCRAM does not define here (including RFC
    // 5802's reserved `m=`) is an extension; a known letter is merely out of order.
    let is_letter = key.len() == 1 && key.bytes().all(|b| b.is_ascii_alphabetic());
    if is_letter && !KNOWN_ATTRIBUTES.contains(key) {
        return Err(ScramError::ExtensionUnsupported);
    }
    Err(ScramError::MissingAttribute(name))
}

/// Any attribute after the last one we expect is an extension, which MongoDB
/// never sends; refusing them keeps the AuthMessage unambiguous.
fn no_more<'a>(mut parts: impl Iterator<Item = &'a str>) -> Result<(), ScramError> {
    match parts.next() {
        None => Ok(()),
        Some(_) => Err(ScramError::ExtensionUnsupported),
    }
}

pub(crate) fn parse_client_first(message: &[u8]) -> Result<ClientFirst<'_>, ScramError> {
    let text = as_text(message)?;
    let (flag, rest) = text.split_once(',').ok_or(ScramError::BadGs2Header)?;
    match flag {
        "n" => {}
        "y" => return Err(ScramError::ChannelBindingUnsupported),
        f if f.starts_with("p=") => return Err(ScramError::ChannelBindingUnsupported),
        _ => return Err(ScramError::BadGs2Header),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(ScramError::BadGs2Header)?;
    if authzid.starts_with("a=") {
        return Err(ScramError::AuthzidUnsupported);
    }
    if !authzid.is_empty() {
        return Err(ScramError::BadGs2Header);
    }
    let mut parts = bare.split(',');
    let username = unescape_username(attr(parts.next(), "n")?)?;
    let nonce = attr(parts.next(), "r")?;
    check_nonce(nonce)?;
    no_more(parts)?;
    Ok(ClientFirst {
        bare,
        username,
        nonce,
    })
}

pub(crate) fn parse_client_final(message: &[u8]) -> Result<ClientFinal<'_>, ScramError> {
    let text = as_text(message)?;
    // The proof is always last, so the AuthMessage part is everything before ",p=".
    let (without_proof, proof_b64) = text
        .rsplit_once(",p=")
        .ok_or(ScramError::MissingAttribute("p"))?;
    let mut parts = without_proof.split(',');
    let binding = attr(parts.next(), "c")?;
    if binding != CHANNEL_BINDING_NONE {
        return Err(ScramError::BadChannelBinding);
    }
    let nonce = attr(parts.next(), "r")?;
    no_more(parts)?;
    let proof = B64
        .decode(proof_b64)
        .map_err(|_| ScramError::BadBase64("p"))?;
    Ok(ClientFinal {
        without_proof,
        nonce,
        proof,
    })
}

pub(crate) fn parse_server_first(message: &[u8]) -> Result<ServerFirst<'_>, ScramError> {
    let text = as_text(message)?;
    if let Some(err) = text.strip_prefix("e=") {
        return Err(ScramError::ServerError(err.to_owned()));
    }
    let mut parts = text.split(',');
    let nonce = attr(parts.next(), "r")?;
    check_nonce(nonce)?;
    let salt = B64
        .decode(attr(parts.next(), "s")?)
        .map_err(|_| ScramError::BadBase64("s"))?;
    if salt.is_empty() {
        return Err(ScramError::BadBase64("s"));
    }
    let iterations = attr(parts.next(), "i")?;
    // Digits only: u32::from_str would also take a leading '+'.
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScramError::BadIterationCount);
    }
    let iterations = iterations
        .parse::<u32>()
        .map_err(|_| ScramError::BadIterationCount)?;
    no_more(parts)?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// Returns the decoded ServerSignature of a server-final-message.
pub(crate) fn parse_server_final(message: &[u8]) -> Result<Vec<u8>, ScramError> {
    let text = as_text(message)?;
    if let Some(err) = text.strip_prefix("e=") {
        return Err(ScramError::ServerError(err.to_owned()));
    }
    let mut parts = text.split(',');
    let verifier = attr(parts.next(), "v")?;
    no_more(parts)?;
    B64.decode(verifier).map_err(|_| ScramError::BadBase64("v"))
}

/// RFC 5802 5.1: nonce is printable ASCII except ','.
fn check_nonce(nonce: &str) -> Result<(), ScramError> {
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(ScramError::BadNonce);
    }
    Ok(())
}

/// RFC 5802 5.1: '=' must be followed by "2C" or "3D"; anything else fails.
pub(crate) fn unescape_username(raw: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find('=') {
        let (head, tail) = rest.split_at(pos);
        out.push_str(head);
        if let Some(after) = tail.strip_prefix("=2C") {
            out.push(',');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("=3D") {
            out.push('=');
            rest = after;
        } else {
            return Err(ScramError::BadUsernameEncoding);
        }
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ScramError::EmptyUsername);
    }
    Ok(out)
}

pub(crate) fn escape_username(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}
