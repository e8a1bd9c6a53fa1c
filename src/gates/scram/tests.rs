//! Test vectors (RFC 5802, RFC 7677, MongoDB driver auth spec) and
//! client/server round trips.

use super::*;

mod malformed;

pub(super) const SECRET: &[u8] = b"per-process fake credential secret, 32+ bytes";

pub(super) fn b64(text: &str) -> Vec<u8> {
    B64.decode(text).unwrap_or_default()
}

pub(super) fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("<not utf-8>")
}

/// Derives a credential with the minimum iterations to keep tests fast.
pub(super) fn cred(m: Mechanism, user: &str, password: &str) -> ScramCredential {
    let salt = vec![0x5a; m.salt_len()];
    match ScramCredential::derive(m, user, password, &salt, 4096) {
        Ok(c) => c,
        Err(e) => panic!("test credential: {e}"),
    }
}

/// Runs a whole conversation; returns the server (for state checks).
fn converse(
    m: Mechanism,
    stored: Option<ScramCredential>,
    user: &str,
    password: &str,
    skip_empty: bool,
) -> Result<ScramServer, ScramError> {
    let (mut client, first) = ScramClient::new(m, user, password, &[1u8; 24])?;
    let (mut server, server_first) = ScramServer::start(m, &first, |_| stored, &[2u8; 24], SECRET)?;
    server.set_skip_empty_exchange(skip_empty);
    let client_final = client.client_final(&server_first)?;
    let reply = server.step(&client_final)?;
    client.verify_server_final(&reply.payload)?;
    assert_eq!(reply.done, skip_empty);
    assert_eq!(server.is_authenticated(), skip_empty);
    if !reply.done {
        let last = server.step(b"")?;
        assert_eq!(
            last,
            Reply {
                payload: Vec::new(),
                done: true
            }
        );
    }
    Ok(server)
}

/// Replays one recorded conversation against the server, byte for byte.
fn replay_server(
    m: Mechanism,
    credential: ScramCredential,
    client_nonce: &str,
    server_nonce: &str,
    expect_server_first: &str,
    client_final: &str,
    expect_server_final: &str,
) {
    let client_first = format!("n,,n=user,r={client_nonce}");
    let started = ScramServer::start_with_nonce(
        m,
        client_first.as_bytes(),
        |name| (name == "user").then_some(credential),
        server_nonce,
        SECRET,
    );
    let Ok((mut server, server_first)) = started else {
        panic!("start failed: {started:?}");
    };
    assert_eq!(text(&server_first), expect_server_first);
    let server_final = server.finish(client_final.as_bytes());
    assert_eq!(server_final, Ok(expect_server_final.as_bytes().to_vec()));
}

/// Replays one recorded conversation against the client, byte for byte.
fn replay_client(
    m: Mechanism,
    prepared: &[u8],
    client_nonce: &str,
    server_first: &str,
    expect_client_final: &str,
    server_final: &str,
) {
    let (mut client, first) =
        ScramClient::with_prepared(m, "user", prepared.to_vec(), client_nonce);
    assert_eq!(text(&first), format!("n,,n=user,r={client_nonce}"));
    let fin = client.client_final(server_first.as_bytes());
    assert_eq!(fin, Ok(expect_client_final.as_bytes().to_vec()));
    assert_eq!(client.verify_server_final(server_final.as_bytes()), Ok(()));
}

const RFC5802_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";
const RFC5802_FIRST: &str =
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
const RFC5802_FINAL: &str =
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
const RFC5802_V: &str = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";

#[test]
fn rfc5802_sha1_vector_raw_password() {
    // RFC 5802 section 5 uses the raw password, not MongoDB's MD5 digest.
    let salt = b64("QSXCR+Q6sek8bf92");
    let c = ScramCredential::derive_prepared(Mechanism::ScramSha1, b"pencil", &salt, 4096);
    let Ok(c) = c else { panic!("{c:?}") };
    replay_server(
        Mechanism::ScramSha1,
        c,
        RFC5802_NONCE,
        "3rfcNHYJY1ZVvWVs7j",
        RFC5802_FIRST,
        RFC5802_FINAL,
        RFC5802_V,
    );
    replay_client(
        Mechanism::ScramSha1,
        b"pencil",
        RFC5802_NONCE,
        RFC5802_FIRST,
        RFC5802_FINAL,
        RFC5802_V,
    );
}

const RFC7677_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC7677_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC7677_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC7677_V: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

#[test]
fn rfc7677_sha256_vector() {
    // SASLprep("pencil") == "pencil", so this goes through the MongoDB path.
    let salt = b64("W22ZaJ0SNY7soEsUEjb6gQ==");
    let c = ScramCredential::derive(Mechanism::ScramSha256, "user", "pencil", &salt, 4096);
    let Ok(c) = c else { panic!("{c:?}") };
    replay_server(
        Mechanism::ScramSha256,
        c,
        RFC7677_NONCE,
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        RFC7677_FIRST,
        RFC7677_FINAL,
        RFC7677_V,
    );
    replay_client(
        Mechanism::ScramSha256,
        b"pencil",
        RFC7677_NONCE,
        RFC7677_FIRST,
        RFC7677_FINAL,
        RFC7677_V,
    );
}

const MONGO_FIRST: &str =
    "r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,s=rQ9ZY3MntBeuP3E1TDVC4w==,i=10000";
const MONGO_FINAL: &str = "c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,p=MC2T8BvbmWRckDw8oWl5IVghwCY=";
const MONGO_V: &str = "v=UMWeI25JD1yNYZRMpZ4VHvhZ9e0=";

#[test]
fn mongodb_auth_spec_sha1_conversation() {
    // Driver auth spec, SCRAM-SHA-1 "Conversation": user/pencil with the
    // MD5-prepared password; the 32-char server nonce is base64 of 24 bytes,
    // so the public byte-nonce API reproduces it exactly.
    let salt = b64("rQ9ZY3MntBeuP3E1TDVC4w==");
    let c = ScramCredential::derive(Mechanism::ScramSha1, "user", "pencil", &salt, 10_000);
    let Ok(c) = c else { panic!("{c:?}") };
    let started = ScramServer::start(
        Mechanism::ScramSha1,
        b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
        |_| Some(c),
        &b64("Ho+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE"),
        SECRET,
    );
    let Ok((mut server, first)) = started else {
        panic!("{started:?}")
    };
    assert_eq!(text(&first), MONGO_FIRST);
    let reply = server.step(MONGO_FINAL.as_bytes());
    assert_eq!(
        reply,
        Ok(Reply {
            payload: MONGO_V.as_bytes().to_vec(),
            done: false
        })
    );
    assert!(!server.is_authenticated());
    assert_eq!(
        server.step(b""),
        Ok(Reply {
            payload: vec![],
            done: true
        })
    );
    assert!(server.is_authenticated());

    let prepared = Mechanism::ScramSha1.prepare_password("user", "pencil");
    let Ok(prepared) = prepared else {
        panic!("{prepared:?}")
    };
    replay_client(
        Mechanism::ScramSha1,
        &prepared,
        RFC5802_NONCE,
        MONGO_FIRST,
        MONGO_FINAL,
        MONGO_V,
    );
}

#[test]
fn round_trip_both_mechanisms_with_and_without_empty_exchange() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        for skip in [false, true] {
            let server = converse(m, Some(cred(m, "app", "s3cret")), "app", "s3cret", skip);
            let server = server.map(|s| (s.is_authenticated(), s.user_exists()));
            assert_eq!(server, Ok((true, true)), "{m:?} skip={skip}");
        }
    }
}

#[test]
fn non_ascii_password_round_trip() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let pw = "пароль-密码-ß";
        let ok = converse(m, Some(cred(m, "ünïcode", pw)), "ünïcode", pw, true);
        assert!(ok.is_ok(), "{m:?}: {ok:?}");
    }
}

#[test]
fn sha256_rejects_code_points_unassigned_in_unicode_3_2() {
    // SASLprep is defined over Unicode 3.2 (RFC 3454) and the stringprep
    // crate prohibits unassigned code points, so an emoji password cannot be
    // used with SCRAM-SHA-256; SCRAM-SHA-1 (MD5-prepared) accepts it.
    let emoji = "pw\u{1F511}";
    assert_eq!(
        ScramClient::new(Mechanism::ScramSha256, "u", emoji, &[0; 24]).err(),
        Some(ScramError::Credential(CredentialError::PasswordPrep))
    );
    let m = Mechanism::ScramSha1;
    assert!(converse(m, Some(cred(m, "u", emoji)), "u", emoji, true).is_ok());
}

#[test]
fn saslprep_equivalent_passwords_sha256_only() {
    // RFC 4013: soft hyphen maps to nothing, so "I\u{AD}X" == "IX" for
    // SCRAM-SHA-256; SCRAM-SHA-1 hashes the raw text, so they differ there.
    let m = Mechanism::ScramSha256;
    let ok = converse(m, Some(cred(m, "u", "IX")), "u", "I\u{00AD}X", true);
    assert!(ok.is_ok(), "{ok:?}");
    let m = Mechanism::ScramSha1;
    let err = converse(m, Some(cred(m, "u", "IX")), "u", "I\u{00AD}X", true).err();
    assert_eq!(err, Some(ScramError::AuthenticationFailed));
}

#[test]
fn username_with_comma_and_equals_round_trips() {
    let m = Mechanism::ScramSha256;
    let user = "a,b=c";
    let (_, first) = ScramClient::new(m, user, "pw", &[1u8; 24]).unwrap_or_else(|e| panic!("{e}"));
    assert!(text(&first).starts_with("n,,n=a=2Cb=3Dc,r="));
    let mut seen = String::new();
    let started = ScramServer::start(
        m,
        &first,
        |n| {
            seen = n.to_owned();
            None
        },
        &[3u8; 24],
        SECRET,
    );
    assert_eq!(
        started.map(|(s, _)| s.username().to_owned()),
        Ok(user.to_owned())
    );
    assert_eq!(seen, user);
}

#[test]
fn sha256_username_is_saslprepped_for_lookup() {
    let mut seen = String::new();
    let first = "n,,n=I\u{00AD}X,r=abc";
    let started = ScramServer::start(
        Mechanism::ScramSha256,
        first.as_bytes(),
        |n| {
            seen = n.to_owned();
            None
        },
        &[3u8; 24],
        SECRET,
    );
    assert!(started.is_ok());
    assert_eq!(seen, "IX");
}

#[test]
fn wrong_password_fails_at_proof_step() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let err = converse(m, Some(cred(m, "app", "right")), "app", "wrong", false).err();
        assert_eq!(err, Some(ScramError::AuthenticationFailed), "{m:?}");
    }
}

#[test]
fn unknown_user_fails_at_proof_step_with_same_error() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let err = converse(m, None, "ghost", "whatever", false).err();
        assert_eq!(err, Some(ScramError::AuthenticationFailed), "{m:?}");
    }
}

/// Salt and iteration count of a server-first message for `user`.
fn salt_and_iterations(
    m: Mechanism,
    user: &str,
    known: Option<ScramCredential>,
    secret: &[u8],
) -> (Vec<u8>, String) {
    let first = format!("n,,n={user},r=clientnonce");
    let started = ScramServer::start(m, first.as_bytes(), |_| known, &[9u8; 24], secret);
    let Ok((_, server_first)) = started else {
        panic!("{started:?}")
    };
    let msg = text(&server_first).to_owned();
    let mut parts = msg.split(',').skip(1);
    let salt = parts
        .next()
        .and_then(|s| s.strip_prefix("s="))
        .map(b64)
        .unwrap_or_default();
    let iterations = parts.next().unwrap_or_default().to_owned();
    (salt, iterations)
}

#[test]
fn fake_credential_looks_like_a_real_one_and_is_stable() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let (fake_salt, fake_i) = salt_and_iterations(m, "ghost", None, SECRET);
        let real =
            ScramCredential::derive(m, "u", "p", &vec![1; m.salt_len()], m.default_iterations());
        let (real_salt, real_i) = salt_and_iterations(m, "u", real.ok(), SECRET);
        assert_eq!(fake_salt.len(), real_salt.len(), "{m:?}");
        assert_eq!(fake_i, real_i, "{m:?}");
        // Same user, same secret: same salt (a changing salt would reveal the fake).
        assert_eq!(salt_and_iterations(m, "ghost", None, SECRET).0, fake_salt);
        assert_ne!(salt_and_iterations(m, "ghost2", None, SECRET).0, fake_salt);
        assert_ne!(
            salt_and_iterations(m, "ghost", None, b"other secret").0,
            fake_salt
        );
    }
}

#[test]
fn credential_of_other_mechanism_is_treated_as_unknown() {
    let sha1 = cred(Mechanism::ScramSha1, "u", "p");
    let started = ScramServer::start(
        Mechanism::ScramSha256,
        b"n,,n=u,r=x",
        |_| Some(sha1),
        &[0; 24],
        SECRET,
    );
    assert_eq!(started.map(|(s, _)| s.user_exists()), Ok(false));
}

#[test]
fn fake_credential_cannot_verify_even_with_its_own_keys() {
    // Defence in depth: force the fake path and check the existence guard.
    let m = Mechanism::ScramSha256;
    let real = cred(m, "u", "p");
    let started = ScramServer::start(m, b"n,,n=u,r=cn", |_| Some(real.clone()), &[4; 24], SECRET);
    let Ok((mut server, first)) = started else {
        panic!("{started:?}")
    };
    let (mut client, _) = ScramClient::with_prepared(m, "u", b"p".to_vec(), "cn");
    let fin = client.client_final(&first);
    let Ok(fin) = fin else { panic!("{fin:?}") };
    server.user_exists = false;
    assert_eq!(server.finish(&fin), Err(ScramError::AuthenticationFailed));
}

/// Drivers keep the PBKDF2 result between logins; so do the proxy's upstream logins and
/// the load generator. A cached login must be as valid as a fresh one, and a new salt
/// (the password changed) must not reuse the old keys.
#[test]
fn cached_client_keys_log_in_and_follow_a_new_salt() {
    let m = Mechanism::ScramSha256;
    let cache = KeyCache::default();
    let login = |cred: &ScramCredential, password: &str| -> Result<(), ScramError> {
        let (mut client, first) = ScramClient::new(m, "u", password, &[1u8; 24])?;
        let stored = Some(cred.clone());
        let (mut server, server_first) =
            ScramServer::start(m, &first, |_| stored, &[2u8; 24], SECRET)?;
        server.set_skip_empty_exchange(true);
        let fin = client.client_final_cached(&server_first, &cache)?;
        let reply = server.step(&fin)?;
        client.verify_server_final(&reply.payload)
    };
    let cred = cred(m, "u", "pw-one");
    assert!(!cache.is_warm());
    assert_eq!(login(&cred, "pw-one"), Ok(()));
    assert!(cache.is_warm());
    assert_eq!(login(&cred, "pw-one"), Ok(()), "from the cache");
    assert!(
        login(&cred, "wrong").is_err(),
        "another password is not served from the cache"
    );
    let other_salt = ScramCredential::derive(m, "u", "pw-two", &[7u8; 28], 4096)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        login(&other_salt, "pw-two"),
        Ok(()),
        "new salt: derived again"
    );
}
