//! Tables for the commands the proxy answers itself (usersInfo, rolesInfo,
//! connectionStatus, whatsmyuri, logout), the refusal audit, and legacy OP_QUERY routing.

use bson::{rawdoc, RawDocument, RawDocumentBuf};

use super::world::{op_query, strings, World, NOW};
use crate::proxy::client::conn::{Conn, Effect, Outcome, ReplyFilter, Step};
use crate::proxy::state::stats::Stats;

fn names(doc: &RawDocument, list: &str, field: &str) -> Vec<String> {
    let mut out: Vec<String> = doc
        .get_array(list)
        .map(|a| {
            a.into_iter()
                .flatten()
                .filter_map(|v| v.as_document().and_then(|d| d.get_str(field).ok()))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn code(out: &Outcome) -> Option<i32> {
    match &out.step {
        Step::Refuse(e) => Some(e.code.code()),
        _ => None,
    }
}

#[test]
fn users_info_lists_the_proxys_users() {
    let w = World::new();
    // (caller, body) -> user names answered, or the refusal code
    type Row<'a> = (&'a str, RawDocumentBuf, Result<&'a [&'a str], i32>);
    let rows: &[Row] = &[
        (
            "boss",
            rawdoc! { "usersInfo": "alice", "$db": "admin" },
            Ok(&["alice"]),
        ),
        (
            "boss",
            rawdoc! { "usersInfo": 1, "$db": "admin" },
            Ok(&["alice", "boss", "sha1only"]),
        ),
        (
            "boss",
            rawdoc! { "usersInfo": [{ "user": "sha1only", "db": "admin" }, "nobody"], "$db": "admin" },
            Ok(&["sha1only"]),
        ),
        ("boss", rawdoc! { "usersInfo": 1, "$db": "shop" }, Ok(&[])),
        (
            "alice",
            rawdoc! { "usersInfo": "alice", "$db": "admin" },
            Ok(&["alice"]),
        ),
        (
            "alice",
            rawdoc! { "usersInfo": "boss", "$db": "admin" },
            Err(13),
        ),
    ];
    for (i, (caller, body, want)) in rows.iter().enumerate() {
        let mut c = w.logged_in(caller);
        let out = w.msg(&mut c, body);
        match (&out.step, want) {
            (Step::Reply(doc), Ok(users)) => {
                assert_eq!(names(doc, "users", "user"), *users, "row {i}");
            }
            (_, Err(want)) => assert_eq!(code(&out), Some(*want), "row {i}"),
            (other, _) => panic!("row {i}: {other:?}"),
        }
    }
    // Mechanisms are each user's own.
    let doc = w.reply(
        &mut w.logged_in("boss"),
        &rawdoc! { "usersInfo": "sha1only", "$db": "admin" },
    );
    let mechs = strings(
        doc.get_array("users")
            .ok()
            .and_then(|a| a.into_iter().flatten().next())
            .and_then(|v| v.as_document())
            .and_then(|u| u.get_array("mechanisms").ok()),
    );
    assert_eq!(mechs, vec!["SCRAM-SHA-1".to_string()]);
}

#[test]
fn roles_info_and_connection_status_answer_with_the_proxys_view() {
    let w = World::new();
    // rolesInfo: (db, body) -> custom roles answered
    let rows: &[(RawDocumentBuf, &[&str])] = &[
        (
            rawdoc! { "rolesInfo": 1, "$db": "admin" },
            &["ordersReader"],
        ),
        (
            rawdoc! { "rolesInfo": "ordersReader", "$db": "admin" },
            &["ordersReader"],
        ),
        (rawdoc! { "rolesInfo": "other", "$db": "admin" }, &[]),
        (rawdoc! { "rolesInfo": 1, "$db": "shop" }, &[]),
    ];
    for (i, (body, want)) in rows.iter().enumerate() {
        let doc = w.reply(&mut w.logged_in("boss"), body);
        assert_eq!(names(&doc, "roles", "role"), *want, "row {i}");
    }
    let doc = w.reply(
        &mut w.logged_in("boss"),
        &rawdoc! { "rolesInfo": 1, "showPrivileges": true, "$db": "admin" },
    );
    let collection = doc
        .get_array("roles")
        .ok()
        .and_then(|a| a.into_iter().flatten().next())
        .and_then(|v| v.as_document())
        .and_then(|r| r.get_array("privileges").ok())
        .and_then(|p| p.into_iter().flatten().next())
        .and_then(|v| v.as_document())
        .and_then(|p| p.get_document("resource").ok())
        .and_then(|r| r.get_str("collection").ok());
    assert_eq!(
        collection,
        Some("orders"),
        "the custom role's privileges are shown"
    );
    // connectionStatus: (who) -> authenticated users
    let rows: &[(Option<&str>, &[&str])] = &[(None, &[]), (Some("alice"), &["alice"])];
    for (i, (who, want)) in rows.iter().enumerate() {
        let mut c = match who {
            Some(u) => w.logged_in(u),
            None => Conn::new("c"),
        };
        let body = rawdoc! { "connectionStatus": 1, "showPrivileges": true, "$db": "admin" };
        let doc = w.reply(&mut c, &body);
        let info = doc.get_document("authInfo").expect("authInfo").to_owned();
        assert_eq!(names(&info, "authenticatedUsers", "user"), *want, "row {i}");
        let privs = info
            .get_array("authenticatedUserPrivileges")
            .map(|a| a.into_iter().count());
        assert_eq!(privs.map(|n| n > 0), Ok(who.is_some()), "row {i}");
    }
}

#[test]
fn whatsmyuri_and_logout() {
    let w = World::new();
    let mut c = w.logged_in("alice");
    let doc = w.reply(&mut c, &rawdoc! { "whatsmyuri": 1, "$db": "admin" });
    assert_eq!(doc.get_str("you"), Ok("127.0.0.1:0"));
    let out = w.msg(&mut c, &rawdoc! { "logout": 1, "$db": "admin" });
    assert!(matches!(out.step, Step::Reply(_)));
    assert!(matches!(out.effects[..], [Effect::LoggedOut]));
    assert!(c.user.is_none() && c.owner.is_none());
    // After the logout the data is out of reach again.
    let find = rawdoc! { "find": "orders", "$db": "shop" };
    assert_eq!(code(&w.msg(&mut c, &find)), Some(13));
}

#[test]
fn refusals_are_audited_and_allowed_commands_forwarded() {
    let w = World::new();
    // (caller, body) -> step, audit events asked for (atype, result)
    type Row<'a> = (
        Option<&'a str>,
        RawDocumentBuf,
        Result<ReplyFilter, i32>,
        &'a [(&'a str, i32)],
    );
    let rows: &[Row] = &[
        (
            Some("alice"),
            rawdoc! { "find": "orders", "$db": "shop" },
            Ok(ReplyFilter::None),
            &[],
        ),
        (
            Some("alice"),
            rawdoc! { "find": "secrets", "$db": "hr" },
            Err(13),
            &[("authCheck", 13)],
        ),
        (
            None,
            rawdoc! { "find": "orders", "$db": "shop" },
            Err(13),
            &[("authCheck", 13)],
        ),
        (
            Some("alice"),
            rawdoc! { "createUser": "x", "pwd": "y", "roles": [], "$db": "admin" },
            Err(13),
            &[("authCheck", 13)],
        ),
        (
            Some("alice"),
            rawdoc! { "listDatabases": 1, "$db": "admin" },
            Ok(ReplyFilter::ListDatabases),
            &[],
        ),
        (
            Some("alice"),
            rawdoc! { "ping": 1, "$db": "admin" },
            Err(0),
            &[],
        ),
    ];
    for (i, (who, body, want, audits)) in rows.iter().enumerate() {
        let mut c = match who {
            Some(u) => w.logged_in(u),
            None => Conn::new("c"),
        };
        let out = w.msg(&mut c, body);
        match (&out.step, want) {
            (Step::Forward(f), Ok(want)) => assert_eq!(f, want, "row {i}"),
            (Step::Reply(_), Err(0)) => {}
            (_, Err(want)) => assert_eq!(code(&out), Some(*want), "row {i}"),
            (other, _) => panic!("row {i}: {other:?}"),
        }
        let got: Vec<(&str, i32)> = out
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Audit(ev) => {
                    assert_eq!(ev.ts.0, NOW * 1000, "row {i}: the driver's clock");
                    Some((ev.atype, ev.result))
                }
                _ => None,
            })
            .collect();
        assert_eq!(got, *audits, "row {i}");
    }
    assert!(Stats::get(&w.stats.authz_denied) >= 3);
}

#[test]
fn legacy_op_query_is_routed_like_op_msg_and_never_forwarded() {
    let w = World::new();
    // (caller, namespace, query) -> reply, refusal code, or the legacy refusal document
    let rows: &[(Option<&str>, &str, RawDocumentBuf, &str)] = &[
        (None, "admin.$cmd", rawdoc! { "isMaster": 1 }, "reply"),
        (None, "admin.$cmd", rawdoc! { "buildinfo": 1 }, "reply"),
        (None, "admin.$cmd", rawdoc! { "ping": 1 }, "legacy refusal"),
        (None, "shop.orders", rawdoc! { "x": 1 }, "legacy refusal"),
        (
            Some("alice"),
            "admin.$cmd",
            rawdoc! { "logout": 1 },
            "legacy refusal",
        ),
        (
            None,
            "admin.$cmd",
            rawdoc! { "authenticate": 1, "mechanism": "MONGODB-X509" },
            "refused",
        ),
    ];
    for (i, (who, ns, query, want)) in rows.iter().enumerate() {
        let mut c = match who {
            Some(u) => w.logged_in(u),
            None => Conn::new("c"),
        };
        let before = Stats::get(&w.stats.op_query_refused);
        let out = c.on_query(&op_query(ns, query), &w.env());
        let got = match &out.step {
            Step::Reply(doc) if doc.get_f64("ok") == Ok(0.0) || doc.get_i32("ok") == Ok(0) => {
                "legacy refusal"
            }
            Step::Reply(_) => "reply",
            Step::Refuse(_) => "refused",
            other => panic!("row {i}: {other:?}"),
        };
        assert_eq!(got, *want, "row {i}");
        let counted = Stats::get(&w.stats.op_query_refused) - before;
        assert_eq!(counted, u64::from(*want == "legacy refusal"), "row {i}");
    }
    // The hello seen on OP_QUERY restarts the login deadline, like an OP_MSG hello.
    let mut c = Conn::new("c");
    c.on_query(
        &op_query("admin.$cmd", &rawdoc! { "ismaster": 1 }),
        &w.env(),
    );
    assert!(c.hello_seen);
}
