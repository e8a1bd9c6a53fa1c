//! Every kind of malformed message yields its own error, never a panic, and
//! never leaves a conversation authenticated.

use super::*;

fn start_err(m: Mechanism, message: &[u8]) -> Option<ScramError> {
    ScramServer::start(m, message, |_| None, &[1u8; 24], SECRET).err()
}

#[test]
fn malformed_client_first_messages() {
    let long = format!("n,,n={},r=abc", "u".repeat(parse::MAX_MESSAGE_LEN));
    let cases: Vec<(&[u8], ScramError)> = vec![
        (b"", ScramError::BadGs2Header),
        (b"n", ScramError::BadGs2Header),
        (b"n,", ScramError::BadGs2Header),
        (b"x,,n=user,r=abc", ScramError::BadGs2Header),
        (b"y,,n=user,r=abc", ScramError::ChannelBindingUnsupported),
        (
            b"p=tls-unique,,n=user,r=abc",
            ScramError::ChannelBindingUnsupported,
        ),
        (b"n,a=user,n=user,r=abc", ScramError::AuthzidUnsupported),
        (b"n,zz,n=user,r=abc", ScramError::BadGs2Header),
        (b"n,,m=ext,n=user,r=abc", ScramError::ExtensionUnsupported),
        (b"n,,n=user,r=abc,x=1", ScramError::ExtensionUnsupported),
        (b"n,,n=user,r=abc,", ScramError::ExtensionUnsupported),
        (b"n,,r=abc,n=user", ScramError::MissingAttribute("n")),
        (b"n,,n=user", ScramError::MissingAttribute("r")),
        (b"n,,n=user,abc", ScramError::MissingAttribute("r")),
        (b"n,,n=us=er,r=abc", ScramError::BadUsernameEncoding),
        (b"n,,n=us=2,r=abc", ScramError::BadUsernameEncoding),
        (b"n,,n=,r=abc", ScramError::EmptyUsername),
        (b"n,,n=user,r=", ScramError::BadNonce),
        (b"n,,n=user,r=a b", ScramError::BadNonce),
        (b"n,,n=user,r=\xc3\xa9", ScramError::BadNonce),
        (b"n,,n=\xff,r=abc", ScramError::NotUtf8),
        (long.as_bytes(), ScramError::MessageTooLong),
    ];
    for (message, expected) in cases {
        for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
            assert_eq!(
                start_err(m, message),
                Some(expected.clone()),
                "{:?}",
                text(message)
            );
        }
    }
}

#[test]
fn sha256_username_failing_saslprep_is_rejected() {
    // U+0007 is prohibited by SASLprep; SCRAM-SHA-1 does not prep names.
    let message = "n,,n=a\u{0007},r=abc".as_bytes();
    assert_eq!(
        start_err(Mechanism::ScramSha256, message),
        Some(ScramError::UsernamePrep)
    );
    assert_eq!(start_err(Mechanism::ScramSha1, message), None);
}

#[test]
fn short_server_nonce_is_refused() {
    let started = ScramServer::start(
        Mechanism::ScramSha256,
        b"n,,n=u,r=abc",
        |_| None,
        &[1u8; 23],
        SECRET,
    );
    assert_eq!(started.err(), Some(ScramError::NonceTooShort));
}

/// A started server for user "u" (password "p") and the combined nonce.
fn started(m: Mechanism) -> (ScramServer, String) {
    let known = cred(m, "u", "p");
    let res = ScramServer::start_with_nonce(m, b"n,,n=u,r=cn", |_| Some(known), "SN", SECRET);
    let Ok((server, _)) = res else {
        panic!("{res:?}")
    };
    (server, "cnSN".to_owned())
}

#[test]
fn malformed_client_final_messages() {
    let m = Mechanism::ScramSha256;
    let proof32 = B64.encode([0u8; 32]);
    let proof20 = B64.encode([0u8; 20]);
    let cases = vec![
        (String::new(), ScramError::MissingAttribute("p")),
        (
            "c=biws,r=cnSN".to_owned(),
            ScramError::MissingAttribute("p"),
        ),
        (
            format!("c=eSws,r=cnSN,p={proof32}"),
            ScramError::BadChannelBinding,
        ),
        (
            format!("r=cnSN,c=biws,p={proof32}"),
            ScramError::MissingAttribute("c"),
        ),
        (
            format!("c=biws,p={proof32}"),
            ScramError::MissingAttribute("r"),
        ),
        (
            format!("c=biws,r=cnXX,p={proof32}"),
            ScramError::NonceMismatch,
        ),
        (
            format!("c=biws,r=cn,p={proof32}"),
            ScramError::NonceMismatch,
        ),
        (
            format!("c=biws,r=cnSN,x=1,p={proof32}"),
            ScramError::ExtensionUnsupported,
        ),
        ("c=biws,r=cnSN,p=***".to_owned(), ScramError::BadBase64("p")),
        (
            format!("c=biws,r=cnSN,p={proof20}"),
            ScramError::BadProofLength,
        ),
        (
            format!("c=biws,r=cnSN,p={proof32}"),
            ScramError::AuthenticationFailed,
        ),
    ];
    for (message, expected) in cases {
        let (mut server, _) = started(m);
        assert_eq!(server.step(message.as_bytes()), Err(expected), "{message}");
        assert!(!server.is_authenticated());
        // A failed conversation stays failed, even for a would-be valid message.
        assert_eq!(server.step(b""), Err(ScramError::InvalidState));
    }
}

#[test]
fn third_message_is_ignored_as_mongod_does_and_happens_once() {
    let m = Mechanism::ScramSha1;
    let (mut server, _) = started(m);
    let (mut client, _) = ScramClient::with_prepared(m, "u", prepared(m), "cn");
    let fin = client.client_final(b"r=cnSN,s=WlpaWlpaWlpaWlpaWlpaWg==,i=4096");
    let Ok(fin) = fin else { panic!("{fin:?}") };
    let Ok(server_final) = server.step(&fin) else {
        panic!("the proof verifies")
    };
    assert!(!server_final.done);
    // Drivers 3.x-4.0 echo server-final as their third payload: mongod's step 3
    // ignores the payload, and so does the proxy.
    assert_eq!(
        server.step(&server_final.payload),
        Ok(Reply {
            payload: vec![],
            done: true
        })
    );
    assert!(server.is_authenticated());
    // Whatever the third payload holds, it cannot complete a conversation whose
    // proof did not verify.
    let (mut server, _) = started(m);
    let wrong = format!("c=biws,r=cnSN,p={}", B64.encode([0u8; 20]));
    assert_eq!(
        server.step(wrong.as_bytes()),
        Err(ScramError::AuthenticationFailed)
    );
    assert_eq!(
        server.step(&server_final.payload),
        Err(ScramError::InvalidState)
    );
    assert!(!server.is_authenticated());

    let (mut server, _) = started(m);
    assert!(server.finish(&fin).is_ok());
    assert_eq!(
        server.step(b""),
        Ok(Reply {
            payload: vec![],
            done: true
        })
    );
    assert!(server.is_authenticated());
    // Anything after done is a protocol violation and revokes the result.
    assert_eq!(server.step(b""), Err(ScramError::InvalidState));
    assert!(!server.is_authenticated());
}

#[test]
fn only_a_checked_proof_counts_as_a_password_failure() {
    assert!(ScramError::AuthenticationFailed.is_wrong_proof());
    for protocol in [
        ScramError::InvalidState,
        ScramError::NonceMismatch,
        ScramError::BadProofLength,
        ScramError::BadChannelBinding,
        ScramError::MissingAttribute("p"),
        ScramError::BadBase64("p"),
        ScramError::NotUtf8,
        ScramError::MessageTooLong,
        ScramError::ExtensionUnsupported,
    ] {
        assert!(!protocol.is_wrong_proof(), "{protocol}");
    }
}

fn prepared(m: Mechanism) -> Vec<u8> {
    m.prepare_password("u", "p").unwrap_or_default()
}

#[test]
fn finish_twice_is_refused() {
    let (mut server, _) = started(Mechanism::ScramSha256);
    let fin = format!("c=biws,r=cnSN,p={}", B64.encode([0u8; 32]));
    assert!(server.finish(fin.as_bytes()).is_err());
    assert_eq!(server.finish(fin.as_bytes()), Err(ScramError::InvalidState));
}

fn client(m: Mechanism) -> ScramClient {
    ScramClient::with_prepared(m, "u", prepared(m), "cn").0
}

#[test]
fn malformed_server_first_messages() {
    let m = Mechanism::ScramSha256;
    let cases: Vec<(&str, ScramError)> = vec![
        ("", ScramError::MissingAttribute("r")),
        (
            "e=other-error",
            ScramError::ServerError("other-error".into()),
        ),
        ("r=cn,s=c2FsdA==,i=4096", ScramError::NonceMismatch),
        ("r=xxSN,s=c2FsdA==,i=4096", ScramError::NonceMismatch),
        ("r=cnSN,s=***,i=4096", ScramError::BadBase64("s")),
        ("r=cnSN,s=,i=4096", ScramError::BadBase64("s")),
        (
            "r=cnSN,s=c2FsdA==,i=4095",
            ScramError::IterationCountTooLow(4095),
        ),
        ("r=cnSN,s=c2FsdA==,i=+4096", ScramError::BadIterationCount),
        ("r=cnSN,s=c2FsdA==,i=", ScramError::BadIterationCount),
        (
            "r=cnSN,s=c2FsdA==,i=99999999999",
            ScramError::BadIterationCount,
        ),
        (
            "r=cnSN,s=c2FsdA==,i=4000000000",
            ScramError::IterationCountTooHigh(4_000_000_000),
        ),
        (
            "m=x,r=cnSN,s=c2FsdA==,i=4096",
            ScramError::ExtensionUnsupported,
        ),
        (
            "r=cnSN,s=c2FsdA==,i=4096,x=y",
            ScramError::ExtensionUnsupported,
        ),
        ("r=cnSN,i=4096", ScramError::MissingAttribute("s")),
    ];
    for (message, expected) in cases {
        assert_eq!(
            client(m).client_final(message.as_bytes()),
            Err(expected),
            "{message}"
        );
    }
}

#[test]
fn client_checks_server_final() {
    let m = Mechanism::ScramSha256;
    let mut c = client(m);
    assert_eq!(
        c.verify_server_final(b"v=AAAA"),
        Err(ScramError::InvalidState)
    );
    assert!(c.client_final(b"r=cnSN,s=c2FsdA==,i=4096").is_ok());
    assert_eq!(
        c.client_final(b"r=cnSN,s=c2FsdA==,i=4096"),
        Err(ScramError::InvalidState)
    );
    let cases: Vec<(&str, ScramError)> = vec![
        ("v=AAAA", ScramError::ServerSignatureMismatch),
        ("v=", ScramError::ServerSignatureMismatch),
        ("v=***", ScramError::BadBase64("v")),
        (
            "e=invalid-proof",
            ScramError::ServerError("invalid-proof".into()),
        ),
        ("x=1", ScramError::ExtensionUnsupported),
        ("", ScramError::MissingAttribute("v")),
    ];
    for (message, expected) in cases {
        assert_eq!(
            c.verify_server_final(message.as_bytes()),
            Err(expected),
            "{message}"
        );
    }
}

#[test]
fn client_rejects_short_nonce_and_bad_password() {
    let m = Mechanism::ScramSha256;
    assert_eq!(
        ScramClient::new(m, "u", "p", &[0; 23]).err(),
        Some(ScramError::NonceTooShort)
    );
    assert_eq!(
        ScramClient::new(m, "u", "\u{0007}", &[0; 24]).err(),
        Some(ScramError::Credential(CredentialError::PasswordPrep))
    );
}
