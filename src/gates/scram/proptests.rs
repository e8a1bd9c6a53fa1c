//! Property tests: arbitrary bytes into every step never panic and never
//! authenticate; escaping round-trips; any tampering breaks the proof.

use super::tests::{cred, SECRET};
use super::*;
use proptest::prelude::*;

fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop_oneof![Just(Mechanism::ScramSha1), Just(Mechanism::ScramSha256)]
}

/// A server for user "u"/"p" after a valid start, plus its server-first.
fn started(m: Mechanism, known: &ScramCredential) -> (ScramServer, Vec<u8>) {
    let known = known.clone();
    let res = ScramServer::start(m, b"n,,n=u,r=cn", |_| Some(known), &[7u8; 24], SECRET);
    match res {
        Ok(pair) => pair,
        Err(e) => panic!("start: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_client_first_never_panics(m in mechanism(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = ScramServer::start(m, &bytes, |_| None, &[1u8; 24], SECRET);
    }

    #[test]
    fn structured_client_first_never_panics(m in mechanism(), s in "[nyp]?[=,a-z]{0,3},[a=,]{0,4}[nrm=,A-Za-z0-9=]{0,40}") {
        if let Ok((server, first)) = ScramServer::start(m, s.as_bytes(), |_| None, &[1u8; 24], SECRET) {
            prop_assert!(!server.is_authenticated());
            prop_assert!(!server.user_exists());
            prop_assert!(first.starts_with(b"r="));
        }
    }

    #[test]
    fn random_client_final_never_authenticates(m in mechanism(), msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..4)) {
        let known = cred(m, "u", "p");
        let (mut server, _) = started(m, &known);
        for msg in msgs {
            let _ = server.step(&msg);
            prop_assert!(!server.is_authenticated());
        }
    }

    #[test]
    fn random_server_messages_never_panic(m in mechanism(), first in proptest::collection::vec(any::<u8>(), 0..200), last in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (mut client, _) = ScramClient::with_prepared(m, "u", b"p".to_vec(), "cn");
        let _ = client.client_final(&first);
        prop_assert!(client.verify_server_final(&last).is_err());
    }

    #[test]
    fn username_escaping_round_trips(user in "\\PC{1,40}") {
        let escaped = parse::escape_username(&user);
        prop_assert!(!escaped.contains(','));
        prop_assert_eq!(parse::unescape_username(&escaped), Ok(user));
    }
}

proptest! {
    // Each case runs PBKDF2 twice, so fewer cases.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_preppable_password_round_trips(m in mechanism(), pw in "\\PC{1,24}", nonce in proptest::array::uniform32(any::<u8>())) {
        prop_assume!(m.prepare_password("u", &pw).is_ok());
        let known = cred(m, "u", &pw);
        let (mut server, first) = started(m, &known);
        let (mut client, _) = ScramClient::with_prepared(m, "u", m.prepare_password("u", &pw).unwrap_or_default(), "cn");
        let fin = client.client_final(&first);
        prop_assert!(fin.is_ok());
        let fin = fin.unwrap_or_default();
        let reply = server.finish(&fin);
        prop_assert!(reply.is_ok());
        prop_assert_eq!(client.verify_server_final(&reply.unwrap_or_default()), Ok(()));
        // The nonce argument only exercises the public constructor's encoding.
        prop_assert!(ScramClient::new(m, "u", &pw, &nonce).is_ok());
    }

    #[test]
    fn any_flipped_proof_bit_fails(m in mechanism(), bit in 0usize..160) {
        let known = cred(m, "u", "p");
        let (mut server, first) = started(m, &known);
        let (mut client, _) = ScramClient::with_prepared(m, "u", m.prepare_password("u", "p").unwrap_or_default(), "cn");
        let fin = String::from_utf8(client.client_final(&first).unwrap_or_default()).unwrap_or_default();
        let (head, proof) = fin.rsplit_once(",p=").unwrap_or_default();
        let mut proof = B64.decode(proof).unwrap_or_default();
        if let Some(byte) = proof.get_mut(bit / 8) {
            *byte ^= 1 << (bit % 8);
        }
        let tampered = format!("{head},p={}", B64.encode(proof));
        prop_assert_eq!(server.finish(tampered.as_bytes()), Err(ScramError::AuthenticationFailed));
    }
}
