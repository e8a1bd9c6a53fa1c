//! Tables for the authentication decisions: hello (compression, saslSupportedMechs,
//! speculative authentication), saslStart/saslContinue with a fixed nonce and a real
//! SCRAM client, and the failure throttle's delay and refusal.

use bson::spec::BinarySubtype;
use bson::{rawdoc, Binary, RawDocument, RawDocumentBuf};

use super::world::{op_msg, strings, World, NONCE, PASSWORD};
use crate::error_code::ErrorCode;
use crate::gates::credentials::Mechanism;
use crate::gates::scram::ScramClient;
use crate::gates::throttle::ThrottleConfig;
use crate::proxy::client::conn::{Conn, Effect, Outcome, Step};
use crate::proxy::state::stats::Stats;
use crate::wire::Compressor;

fn bin(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

fn payload(doc: &RawDocument) -> Vec<u8> {
    doc.get_binary("payload")
        .map(|b| b.bytes.to_vec())
        .unwrap_or_default()
}

fn refused_code(out: &Outcome) -> Option<i32> {
    match &out.step {
        Step::Refuse(e) => Some(e.code.code()),
        _ => None,
    }
}

fn logged_in(out: &Outcome) -> Option<String> {
    out.effects.iter().find_map(|e| match e {
        Effect::LoggedIn(u) => Some(format!("{}.{}", u.db, u.user)),
        _ => None,
    })
}

/// The audit events an outcome asks for: (atype, result).
fn audited(out: &Outcome) -> Vec<(&'static str, i32)> {
    out.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit(ev) | Effect::AuditOrDrop(ev) => Some((ev.atype, ev.result)),
            _ => None,
        })
        .collect()
}

fn sasl_start(m: Mechanism, first: Vec<u8>) -> RawDocumentBuf {
    rawdoc! { "saslStart": 1, "mechanism": m.name(), "payload": bin(first), "$db": "admin" }
}

fn sasl_continue(p: Vec<u8>) -> RawDocumentBuf {
    rawdoc! { "saslContinue": 1, "conversationId": 1, "payload": bin(p), "$db": "admin" }
}

/// Runs saslStart and the proof step; returns the proof step's outcome.
fn prove(w: &World, c: &mut Conn, m: Mechanism, user: &str, password: &str) -> Outcome {
    let (mut client, first) = ScramClient::new(m, user, password, &[3u8; 24]).expect("client");
    let out = w.msg(c, &sasl_start(m, first));
    let Step::Reply(started) = &out.step else {
        return out;
    };
    assert_eq!(started.get_bool("done"), Ok(false));
    let server_first = payload(started);
    let expected_nonce = base64_of(&NONCE);
    assert!(
        String::from_utf8_lossy(&server_first).contains(&expected_nonce),
        "the server nonce is the one the driver drew"
    );
    let proof = client.client_final(&server_first).expect("client final");
    let out = w.msg(c, &sasl_continue(proof));
    if let Step::Reply(doc) = &out.step {
        client
            .verify_server_final(&payload(doc))
            .expect("the server proves it knows the credential");
    }
    out
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn sasl_conversations_succeed_or_fail_as_scram_says() {
    use Mechanism::{ScramSha1, ScramSha256};
    // (mechanism, user, password) -> authenticated as?, refusal code
    type Row<'a> = (Mechanism, &'a str, &'a str, Option<&'a str>, Option<i32>);
    let rows: &[Row] = &[
        (ScramSha256, "alice", PASSWORD, Some("admin.alice"), None),
        (ScramSha1, "alice", PASSWORD, Some("admin.alice"), None),
        (
            ScramSha1,
            "sha1only",
            PASSWORD,
            Some("admin.sha1only"),
            None,
        ),
        (ScramSha256, "alice", "wrong", None, Some(18)),
        (ScramSha256, "nobody", PASSWORD, None, Some(18)),
        (ScramSha256, "sha1only", PASSWORD, None, Some(18)),
    ];
    for (i, (m, user, password, who, code)) in rows.iter().enumerate() {
        let w = World::new();
        let mut c = Conn::new("c");
        let out = prove(&w, &mut c, *m, user, password);
        assert_eq!(refused_code(&out), *code, "row {i}");
        if code.is_some() {
            assert_eq!(audited(&out), vec![("authenticate", 18)], "row {i}");
            assert!(c.conversation.is_none() && c.user.is_none(), "row {i}");
            continue;
        }
        // The client's empty last message completes the conversation.
        let done = w.msg(&mut c, &sasl_continue(Vec::new()));
        match &done.step {
            Step::Reply(doc) => assert_eq!(doc.get_bool("done"), Ok(true), "row {i}"),
            other => panic!("row {i}: {other:?}"),
        }
        assert_eq!(logged_in(&done).as_deref(), *who, "row {i}");
        assert_eq!(audited(&done), vec![("authenticate", 0)], "row {i}");
        assert_eq!(c.owner.as_deref(), *who, "row {i}");
    }
}

#[test]
fn sasl_protocol_mistakes_are_refused() {
    let w = World::new();
    // (body) -> refusal code, on a connection with no conversation
    let rows: &[(RawDocumentBuf, i32)] = &[
        (sasl_continue(b"c=biws".to_vec()), 17),
        (
            rawdoc! { "saslStart": 1, "mechanism": "PLAIN", "payload": bin(vec![]), "$db": "admin" },
            334,
        ),
        (
            rawdoc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "$db": "admin" },
            2,
        ),
        (
            sasl_start(Mechanism::ScramSha256, b"not scram".to_vec()),
            18,
        ),
        (
            rawdoc! { "authenticate": 1, "mechanism": "MONGODB-X509", "$db": "admin" },
            334,
        ),
    ];
    for (i, (body, code)) in rows.iter().enumerate() {
        let mut c = Conn::new("c");
        assert_eq!(refused_code(&w.msg(&mut c, body)), Some(*code), "row {i}");
    }
    // Without a nonce from the driver no conversation starts (fail closed).
    let mut c = Conn::new("c");
    let (_, first) =
        ScramClient::new(Mechanism::ScramSha256, "alice", PASSWORD, &[3; 24]).expect("client");
    let mut env = w.env();
    env.nonce = None;
    let out = c.on_msg(&op_msg(&sasl_start(Mechanism::ScramSha256, first)), &env);
    assert_eq!(refused_code(&out), Some(18));
}

#[test]
fn a_second_user_on_one_connection_is_refused() {
    let w = World::new();
    let mut c = Conn::new("c");
    assert_eq!(
        refused_code(&prove(
            &w,
            &mut c,
            Mechanism::ScramSha256,
            "alice",
            PASSWORD
        )),
        None
    );
    w.msg(&mut c, &sasl_continue(Vec::new()));
    let out = prove(&w, &mut c, Mechanism::ScramSha1, "sha1only", PASSWORD);
    let out = match out.step {
        Step::Reply(_) => w.msg(&mut c, &sasl_continue(Vec::new())),
        _ => out,
    };
    assert_eq!(refused_code(&out), Some(ErrorCode::ProtocolError.code()));
    assert_eq!(c.owner.as_deref(), Some("admin.alice"));
}

#[test]
fn the_throttle_delays_then_refuses_repeated_failures() {
    let config = ThrottleConfig {
        free_failures: 1,
        base_delay_ms: 250,
        pair_max_failures: 3,
        ..ThrottleConfig::default()
    };
    let w = World::with(config, "");
    // attempt n (wrong password) -> what the proof step gets before any check
    let rows = [
        (0, "checked"),
        (1, "waits 250"),
        (2, "waits 500"),
        (3, "refused"),
    ];
    for (n, want) in rows {
        let mut c = Conn::new("c");
        let out = prove(&w, &mut c, Mechanism::ScramSha256, "alice", "wrong");
        let got = match &out.step {
            Step::Refuse(_) if matches!(out.effects[..], [Effect::Audit(_)]) => {
                "checked".to_string()
            }
            Step::Wait(ms) => {
                // After the wait the proof is checked, and fails.
                let resumed = c.resume(&w.env());
                assert_eq!(refused_code(&resumed), Some(18), "attempt {n}");
                assert_eq!(audited(&resumed), vec![("authenticate", 18)], "attempt {n}");
                format!("waits {ms}")
            }
            Step::Refuse(_) => {
                assert!(
                    matches!(out.effects[..], [Effect::AuditOrDrop(_)]),
                    "attempt {n}"
                );
                "refused".to_string()
            }
            other => panic!("attempt {n}: {other:?}"),
        };
        assert_eq!(got, want, "attempt {n}");
    }
    assert!(Stats::get(&w.stats.auth_throttled) >= 1);
    // A resume with nothing held back is a protocol error, not a check.
    let mut c = Conn::new("c");
    assert_eq!(refused_code(&c.resume(&w.env())), Some(17));
}

fn hello_with(extra: RawDocumentBuf) -> RawDocumentBuf {
    let mut body = rawdoc! { "hello": 1 };
    for (k, v) in extra.iter().flatten() {
        body.append(k, v.to_raw_bson());
    }
    body.append("$db", "admin");
    body
}

#[test]
fn hello_chooses_compression_in_the_clients_order() {
    let w = World::new();
    // (client's list) -> agreed compressors, and what hello answers
    let rows: &[(&[&str], &[Compressor])] = &[
        (&["zlib", "snappy"], &[Compressor::Zlib, Compressor::Snappy]),
        (&["lz4", "zstd"], &[Compressor::Zstd]),
        (&["lz4"], &[]),
        (&[], &[]),
    ];
    for (i, (asked, agreed)) in rows.iter().enumerate() {
        let mut c = Conn::new("c");
        let list: Vec<&str> = asked.to_vec();
        let mut arr = bson::RawArrayBuf::new();
        for name in &list {
            arr.push(*name);
        }
        let doc = w.reply(&mut c, &hello_with(rawdoc! { "compression": arr }));
        assert_eq!(c.compressors, agreed.to_vec(), "row {i}");
        let answered = strings(doc.get_array("compression").ok());

        let want: Vec<String> = agreed.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(answered, want, "row {i}");
        assert_eq!(doc.get_f64("ok"), Ok(1.0), "row {i}");
    }
}

#[test]
fn hello_names_mechanisms_without_revealing_users() {
    let w = World::new();
    // (saslSupportedMechs) -> mechanisms answered
    let rows: &[(&str, &[&str])] = &[
        ("admin.alice", &["SCRAM-SHA-1", "SCRAM-SHA-256"]),
        ("admin.sha1only", &["SCRAM-SHA-1"]),
        ("admin.nobody", &["SCRAM-SHA-1", "SCRAM-SHA-256"]),
    ];
    for (i, (spec, want)) in rows.iter().enumerate() {
        let mut c = Conn::new("c");
        let doc = w.reply(&mut c, &hello_with(rawdoc! { "saslSupportedMechs": *spec }));
        let mut got = strings(doc.get_array("saslSupportedMechs").ok());

        got.sort();
        assert_eq!(got, *want, "row {i}");
    }
}

#[test]
fn hello_starts_speculative_authentication_only_where_mongod_would() {
    let w = World::new();
    // (user, mechanism) -> speculativeAuthenticate answered?
    let rows = [
        ("alice", Mechanism::ScramSha256, true),
        ("nobody", Mechanism::ScramSha256, true),
        ("sha1only", Mechanism::ScramSha256, false),
        ("sha1only", Mechanism::ScramSha1, true),
    ];
    for (i, (user, m, answered)) in rows.into_iter().enumerate() {
        let mut c = Conn::new("c");
        let (mut client, first) = ScramClient::new(m, user, PASSWORD, &[3; 24]).expect("client");
        let spec =
            rawdoc! { "saslStart": 1, "mechanism": m.name(), "payload": bin(first), "db": "admin" };
        let doc = w.reply(
            &mut c,
            &hello_with(rawdoc! { "speculativeAuthenticate": spec }),
        );
        let first_reply = doc.get_document("speculativeAuthenticate").ok();
        assert_eq!(first_reply.is_some(), answered, "row {i}");
        assert_eq!(c.conversation.is_some(), answered, "row {i}");
        if user != "alice" || !answered {
            continue;
        }
        // The conversation goes on with saslContinue and counts as speculative.
        let server_first = payload(first_reply.expect("answered"));
        let proof = client.client_final(&server_first).expect("client final");
        let out = w.msg(&mut c, &sasl_continue(proof));
        assert!(
            matches!(out.step, Step::Reply(_)),
            "row {i}: {:?}",
            out.step
        );
        let done = w.msg(&mut c, &sasl_continue(Vec::new()));
        assert_eq!(logged_in(&done).as_deref(), Some("admin.alice"), "row {i}");
        assert_eq!(Stats::get(&w.stats.auth_speculative), 1, "row {i}");
    }
}

#[test]
fn hello_reports_the_capped_message_size() {
    let mut w = World::new();
    // (proxy cap) -> maxMessageSizeBytes told to clients
    let rows = [(None, 48_000_000), (Some(1_000_000), 1_000_000)];
    for (i, (cap, want)) in rows.into_iter().enumerate() {
        w.max_message_size = cap;
        let doc = w.reply(&mut Conn::new("c"), &hello_with(rawdoc! {}));
        assert_eq!(doc.get_i32("maxMessageSizeBytes"), Ok(want), "row {i}");
        assert!(doc.get_datetime("localTime").is_ok(), "row {i}");
    }
}
