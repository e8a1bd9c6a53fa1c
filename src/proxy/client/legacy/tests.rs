use super::*;
use crate::authz::classify::{Kind, NoSequences};
use crate::authz::decide::decide;
use bson::spec::BinarySubtype;
use bson::Binary;

fn bin() -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: b"n,,n=u,r=abc".to_vec(),
    }
}

/// Each allowed command with the fields an old driver sends.
fn legacy_commands() -> Vec<RawDocumentBuf> {
    vec![
        rawdoc! {"hello": 1},
        rawdoc! {"isMaster": 1, "client": {"driver": {"name": "mongo-java-driver", "version": "3.6.3"}}},
        rawdoc! {"ismaster": 1},
        rawdoc! {"_isSelf": 1},
        rawdoc! {"authenticate": 1, "mechanism": "MONGODB-X509", "user": "CN=x"},
        rawdoc! {"buildinfo": 1},
        rawdoc! {"buildInfo": 1},
        rawdoc! {"saslStart": 1, "mechanism": "SCRAM-SHA-1", "payload": bin()},
        rawdoc! {"saslContinue": 1, "conversationId": 1, "payload": bin()},
    ]
}

fn name_of(doc: &RawDocument) -> &str {
    doc.iter().next().unwrap().unwrap().0
}

#[test]
fn the_list_is_mongods() {
    let names: Vec<String> = legacy_commands()
        .iter()
        .map(|d| name_of(d).to_string())
        .collect();
    let mut want: Vec<&str> = ALLOWED.to_vec();
    let mut got: Vec<&str> = names.iter().map(String::as_str).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn each_allowed_command_decides_exactly_as_its_op_msg_form() {
    for cmd in legacy_commands() {
        let name = name_of(&cmd);
        for db in ["admin", "shop"] {
            let body = upconvert(&format!("{db}.$cmd"), &cmd, &cmd, name).expect(name);
            let mut op_msg = cmd.clone();
            op_msg.append("$db", db);
            assert_eq!(body, op_msg, "{name}: the body is the OP_MSG body");
            // Unauthenticated, as a driver's handshake is.
            let legacy = decide(None, &body, &NoSequences);
            let modern = decide(None, &op_msg, &NoSequences);
            match (legacy, modern) {
                (Ok(l), Ok(m)) => assert_eq!(l, m, "{name}"),
                (Err(l), Err(m)) => {
                    assert_eq!((l.code(), l.errmsg()), (m.code(), m.errmsg()), "{name}")
                }
                (l, m) => panic!("{name}: {l:?} vs {m:?}"),
            }
        }
    }
}

#[test]
fn unauthenticated_buildinfo_and_sasl_reach_their_handlers() {
    let expect = [
        ("buildinfo", Kind::BuildInfo),
        ("buildInfo", Kind::BuildInfo),
        ("isMaster", Kind::Handshake),
        ("saslStart", Kind::SaslStart),
        ("saslContinue", Kind::SaslContinue),
        ("authenticate", Kind::Authenticate),
    ];
    for cmd in legacy_commands() {
        let name = name_of(&cmd);
        let Some((_, kind)) = expect.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let body = upconvert("admin.$cmd", &cmd, &cmd, name).unwrap();
        let c = decide(None, &body, &NoSequences).expect(name);
        assert_eq!(&c.kind, kind, "{name}");
        assert!(!c.requires_auth, "{name}");
        assert_eq!(c.db, "admin");
    }
    // _isSelf is internal: refused on OP_QUERY as on OP_MSG, never forwarded.
    let cmd = rawdoc! {"_isSelf": 1};
    let body = upconvert("admin.$cmd", &cmd, &cmd, "_isSelf").unwrap();
    assert!(decide(None, &body, &NoSequences).is_err());
}

#[test]
fn other_commands_are_refused_with_mongods_code_and_words() {
    for name in [
        "find",
        "insert",
        "getnonce",
        "getlasterror",
        "listDatabases",
        "Hello",
    ] {
        let cmd = rawdoc! {name: 1};
        let err = upconvert("admin.$cmd", &cmd, &cmd, name).unwrap_err();
        assert_eq!(err, LegacyRefusal::Unsupported(name.to_string()));
        let doc = err.to_doc();
        assert_eq!(doc.get_i32("code").unwrap(), 352);
        assert_eq!(
            doc.get_str("codeName").unwrap(),
            "UnsupportedOpQueryCommand"
        );
        assert_eq!(
            doc.get_str("errmsg").unwrap(),
            format!("Unsupported OP_QUERY command: {name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal")
        );
        assert_eq!(doc.get_f64("ok").unwrap(), 0.0);
    }
}

#[test]
fn only_command_namespaces_carry_commands() {
    let cmd = rawdoc! {"isMaster": 1};
    for ns in [
        "admin.users",
        "admin",
        "$cmd",
        ".$cmd",
        "admin.$cmd.x",
        "a.b.$cmd",
    ] {
        let err = upconvert(ns, &cmd, &cmd, "isMaster").unwrap_err();
        assert_eq!(err, LegacyRefusal::NotACommand, "{ns}");
        let doc = err.to_doc();
        assert_eq!(doc.get_i32("code").unwrap(), 5739101);
        assert!(doc
            .get_str("$err")
            .unwrap()
            .starts_with("OP_QUERY is no longer supported."));
    }
}

#[test]
fn db_inside_an_op_query_is_refused_as_mongod_does() {
    let cmd = rawdoc! {"isMaster": 1, "$db": "shop"};
    let err = upconvert("admin.$cmd", &cmd, &cmd, "isMaster").unwrap_err();
    assert_eq!(err, LegacyRefusal::DbField);
    assert_eq!(err.to_doc().get_i32("code").unwrap(), 40621);
    // In the `$query` wrapper too: the proxy and mongod must not read different databases.
    let inner = rawdoc! {"saslStart": 1};
    let wrapper = rawdoc! {"$query": inner.clone(), "$db": "shop"};
    assert_eq!(
        upconvert("admin.$cmd", &wrapper, &inner, "saslStart").unwrap_err(),
        LegacyRefusal::DbField
    );
}

#[test]
fn wrapped_commands_are_upconverted_from_the_inner_document() {
    let inner = rawdoc! {"isMaster": 1};
    let wrapper = rawdoc! {"$query": inner.clone(), "$readPreference": {"mode": "primary"}};
    let body = upconvert("admin.$cmd", &wrapper, &inner, "isMaster").unwrap();
    assert_eq!(body, rawdoc! {"isMaster": 1, "$db": "admin"});
}

#[test]
fn log_budget_allows_a_burst_per_window_and_reports_what_it_held_back() {
    let budget = crate::ops::ratelimit::LogLimit::new(LOG_BURST, LOG_INTERVAL_SECS);
    let t = 1_000 * LOG_INTERVAL_SECS;
    let allowed = (0..LOG_BURST + 7)
        .filter(|_| budget.check(t).is_some())
        .count();
    assert_eq!(allowed as u64, LOG_BURST);
    assert_eq!(budget.check(t + 1), None, "same window");
    assert_eq!(budget.check(t + LOG_INTERVAL_SECS), Some(8), "8 held back");
    assert_eq!(budget.check(t + LOG_INTERVAL_SECS), Some(0));
}
