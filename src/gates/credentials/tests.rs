use super::*;

fn b64(text: &str) -> Vec<u8> {
    B64.decode(text).unwrap_or_default()
}

fn config(iterations: u32, salt: &str, stored: &str, server: &str) -> CredentialConfig {
    CredentialConfig {
        iteration_count: iterations,
        salt: salt.into(),
        stored_key: stored.into(),
        server_key: server.into(),
    }
}

#[test]
fn mechanism_names_and_sizes() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        assert_eq!(Mechanism::from_name(m.name()), Some(m));
    }
    assert_eq!(Mechanism::from_name("scram-sha-256"), None);
    assert_eq!(Mechanism::from_name("PLAIN"), None);
    assert_eq!(Mechanism::ScramSha1.salt_len(), 16);
    assert_eq!(Mechanism::ScramSha256.salt_len(), 28);
    assert_eq!(Mechanism::ScramSha1.default_iterations(), 10_000);
    assert_eq!(Mechanism::ScramSha256.default_iterations(), 15_000);
}

#[test]
fn sha1_password_is_mongodb_md5_digest() {
    // hex(md5("user:mongo:pencil")), computed independently with Python hashlib.
    let prepared = Mechanism::ScramSha1.prepare_password("user", "pencil");
    assert_eq!(prepared, Ok(b"1c33006ec1ffd90f9cadcbcc0e118200".to_vec()));
}

#[test]
fn sha1_password_is_not_saslprepped() {
    let plain = Mechanism::ScramSha1.prepare_password("u", "IX");
    let soft_hyphen = Mechanism::ScramSha1.prepare_password("u", "I\u{00AD}X");
    assert_ne!(plain, soft_hyphen);
}

#[test]
fn sha256_password_is_saslprepped() {
    let m = Mechanism::ScramSha256;
    // RFC 4013 section 3 examples: soft hyphen is mapped to nothing, U+00AA
    // is NFKC-normalised to 'a', U+0007 is prohibited.
    assert_eq!(m.prepare_password("u", "I\u{00AD}X"), Ok(b"IX".to_vec()));
    assert_eq!(m.prepare_password("u", "\u{00AA}"), Ok(b"a".to_vec()));
    assert_eq!(
        m.prepare_password("u", "\u{0007}"),
        Err(CredentialError::PasswordPrep)
    );
}

#[test]
fn derive_matches_rfc7677_keys() {
    // StoredKey/ServerKey for user/pencil, salt and i from RFC 7677 section 3,
    // computed independently with Python hashlib/hmac.
    let c = ScramCredential::derive(
        Mechanism::ScramSha256,
        "user",
        "pencil",
        &b64("W22ZaJ0SNY7soEsUEjb6gQ=="),
        4096,
    );
    let cfg = c.map(|c| c.to_config());
    assert_eq!(
        cfg,
        Ok(config(
            4096,
            "W22ZaJ0SNY7soEsUEjb6gQ==",
            "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
            "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        ))
    );
}

#[test]
fn derive_prepared_matches_rfc5802_raw_keys() {
    let c = ScramCredential::derive_prepared(
        Mechanism::ScramSha1,
        b"pencil",
        &b64("QSXCR+Q6sek8bf92"),
        4096,
    );
    let cfg = c.map(|c| c.to_config());
    assert_eq!(
        cfg,
        Ok(config(
            4096,
            "QSXCR+Q6sek8bf92",
            "6dlGYMOdZcOPutkcNY8U2g7vK9Y=",
            "D+CSWLOshSulAsxiupA+qs2/fTE="
        ))
    );
}

#[test]
fn derive_sha1_matches_mongodb_spec_user() {
    // Salt and i from the driver auth spec's SCRAM-SHA-1 conversation.
    let c = ScramCredential::derive(
        Mechanism::ScramSha1,
        "user",
        "pencil",
        &b64("rQ9ZY3MntBeuP3E1TDVC4w=="),
        10_000,
    );
    let cfg = c.map(|c| c.to_config());
    assert_eq!(
        cfg.map(|c| (c.stored_key, c.server_key)),
        Ok((
            "p5z6n7Utqf+pLBkaeJk4T3eBOOA=".to_owned(),
            "lRrVHyqMX+OOqGvpcvv9anlA8IQ=".to_owned()
        ))
    );
}

#[test]
fn derive_rejects_low_iterations_and_empty_salt() {
    let m = Mechanism::ScramSha256;
    assert_eq!(
        ScramCredential::derive(m, "u", "p", b"salt", 4095),
        Err(CredentialError::Iterations {
            actual: 4095,
            min: 4096
        })
    );
    assert_eq!(
        ScramCredential::derive(m, "u", "p", b"", 4096),
        Err(CredentialError::EmptySalt)
    );
    assert_eq!(
        ScramCredential::derive(m, "u", "\u{0007}", b"salt", 4096),
        Err(CredentialError::PasswordPrep)
    );
}

#[test]
fn from_config_round_trips() {
    let cfg = config(
        15_000,
        "W22ZaJ0SNY7soEsUEjb6gQ==",
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    );
    let cred = ScramCredential::from_config(Mechanism::ScramSha256, &cfg);
    assert_eq!(cred.as_ref().map(|c| c.iterations), Ok(15_000));
    assert_eq!(cred.map(|c| c.to_config()), Ok(cfg));
}

#[test]
fn from_config_errors_name_the_field() {
    let good_key = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
    let sha1_key = "6dlGYMOdZcOPutkcNY8U2g7vK9Y=";
    let m = Mechanism::ScramSha256;
    let cases = [
        (config(4096, "!!", good_key, good_key), "salt"),
        (config(4096, "c2FsdA==", "no pe", good_key), "storedKey"),
        (config(4096, "c2FsdA==", good_key, sha1_key), "serverKey"),
        (
            config(100, "c2FsdA==", good_key, good_key),
            "iterationCount",
        ),
        (config(4096, "", good_key, good_key), "salt"),
    ];
    for (cfg, field) in cases {
        let err = ScramCredential::from_config(m, &cfg).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.starts_with(field), "{field}: {text}");
    }
    assert_eq!(
        ScramCredential::from_config(m, &config(4096, "c2FsdA==", good_key, sha1_key)),
        Err(CredentialError::KeyLength {
            field: "serverKey",
            expected: 32,
            actual: 20
        })
    );
}

#[test]
fn config_serde_uses_mongod_field_names_and_denies_unknown() {
    let text =
        "iterationCount = 15000\nsalt = \"c2FsdA==\"\nstoredKey = \"a\"\nserverKey = \"b\"\n";
    let parsed: Result<CredentialConfig, _> = toml::from_str(text);
    assert_eq!(parsed.ok(), Some(config(15_000, "c2FsdA==", "a", "b")));
    let extra = format!("{text}mechanism = \"x\"\n");
    assert!(toml::from_str::<CredentialConfig>(&extra).is_err());
}

#[derive(Deserialize)]
struct Doc {
    users: Users,
}
#[derive(Deserialize)]
struct Users {
    credentials: std::collections::BTreeMap<String, CredentialConfig>,
}

#[test]
fn credentials_toml_parses_back() {
    let salt = [7u8; 28];
    let creds: Vec<ScramCredential> = [Mechanism::ScramSha256, Mechanism::ScramSha1]
        .into_iter()
        .filter_map(|m| ScramCredential::derive(m, "app", "s3cret", &salt, 4096).ok())
        .collect();
    assert_eq!(creds.len(), 2);
    let text = credentials_toml(&creds);
    assert!(text.starts_with("[users.credentials.\"SCRAM-SHA-256\"]\niterationCount = 4096\n"));
    assert!(text.contains("\n[users.credentials.\"SCRAM-SHA-1\"]\n"));
    let doc: Result<Doc, _> = toml::from_str(&text);
    let tables = doc.map(|d| d.users.credentials).unwrap_or_default();
    for c in &creds {
        assert_eq!(tables.get(c.mechanism.name()), Some(&c.to_config()));
    }
}

#[test]
fn debug_does_not_print_keys() {
    let c = ScramCredential::derive(Mechanism::ScramSha256, "u", "p", b"salt", 4096);
    let text = format!("{c:?}");
    assert!(text.contains("ScramSha256"));
    assert!(!text.contains("stored_key"));
}
