//! Tables for the connection core's decisions: each row is an input and the step the
//! connection must take. No sockets, no upstream; the registries are the real ones.

use std::sync::Arc;

use bson::spec::BinarySubtype;
use bson::{rawdoc, Binary, RawDocumentBuf};

use super::*;
use crate::authz::model::{Action, Privilege, ResourcePattern};

mod tables_auth;
mod tables_commands;
mod world;

fn privs(rules: &[(ResourcePattern, Action)]) -> UserPrivileges {
    let list = rules
        .iter()
        .map(|(resource, action)| Privilege {
            resource: resource.clone(),
            actions: ActionSet::of(&[*action]),
        })
        .collect();
    UserPrivileges::from_privileges(list, Vec::new())
}

fn ns(db: &str, coll: &str) -> ResourcePattern {
    ResourcePattern::Namespace {
        db: db.into(),
        coll: coll.into(),
    }
}

fn user(db: &str, name: &str) -> User {
    User {
        user: name.into(),
        db: db.into(),
        sha1: None,
        sha256: None,
        privileges: Arc::new(privs(&[])),
        scopes: None,
        delete_after: None,
        client_source: Vec::new(),
    }
}

/// A connection on cluster "c" authenticated as `owner` (None = not authenticated).
fn conn(owner: Option<&str>) -> Conn {
    let mut c = Conn::new("c");
    c.owner = owner.map(Owner::from);
    c
}

fn code(step: &Step) -> Option<i32> {
    match step {
        Step::Refuse(e) => Some(e.code.code()),
        _ => None,
    }
}

#[test]
fn get_more_follows_the_owner_and_the_namespace() {
    let world = world::World::new();
    let (cursors, env) = (&world.cursors, world.env());
    conn(Some("admin.alice")).observe_cursor(&env, 5, "shop.orders", None);
    conn(Some("admin.alice")).observe_cursor(&env, 6, "shop.$cmd.listCollections", None);
    cursors.mark_filtered(&ClusterId::from("c"), 6);
    let other_cluster = {
        let mut c = Conn::new("d");
        c.owner = Some(Owner::from("admin.alice"));
        c
    };
    // (who asks, cursor id, db, coll) -> step (forward filter, or refusal code)
    type Row<'a> = (&'a Conn, i64, &'a str, &'a str, Result<ReplyFilter, i32>);
    let rows: &[Row] = &[
        (
            &conn(Some("admin.alice")),
            5,
            "shop",
            "orders",
            Ok(ReplyFilter::None),
        ),
        (&conn(Some("admin.alice")), 5, "shop", "other", Err(13)),
        (&conn(Some("admin.alice")), 5, "sho", "p.orders", Err(13)),
        (&conn(Some("admin.bob")), 5, "shop", "orders", Err(43)),
        (&conn(None), 5, "shop", "orders", Err(43)),
        (&conn(Some("admin.alice")), 7, "shop", "orders", Err(43)),
        (&other_cluster, 5, "shop", "orders", Err(43)),
        (
            &conn(Some("admin.alice")),
            6,
            "shop",
            "$cmd.listCollections",
            Ok(ReplyFilter::ListCollections),
        ),
    ];
    for (i, (c, id, db, coll, want)) in rows.iter().enumerate() {
        let got = c.get_more(&env, *id, db, coll);
        match want {
            Ok(filter) => assert_eq!(got, Step::Forward(*filter), "row {i}"),
            Err(want) => assert_eq!(code(&got), Some(*want), "row {i}: {got:?}"),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Kill {
    Forward,
    NotFound,
    Refused,
}

#[test]
fn kill_cursors_only_for_the_owner_or_kill_any_cursor() {
    let alice = conn(Some("admin.alice"));
    let bob = conn(Some("admin.bob"));
    let none = privs(&[]);
    let any_on_orders = privs(&[(ns("shop", "orders"), actions::KILL_ANY_CURSOR)]);
    let any_cluster = privs(&[(ResourcePattern::Cluster, actions::KILL_ANY_CURSOR)]);
    // (who, privileges, ids) -> outcome; the registry holds alice's 5 and 6 before each.
    let rows: &[(&Conn, Option<&UserPrivileges>, &[i64], Kill)] = &[
        (&alice, Some(&none), &[5], Kill::Forward),
        (&alice, Some(&none), &[5, 6], Kill::Forward),
        (&bob, Some(&none), &[5], Kill::Refused),
        (&bob, Some(&none), &[5, 99], Kill::Refused),
        (&alice, Some(&none), &[5, 99], Kill::Refused),
        (&bob, Some(&none), &[98, 99], Kill::NotFound),
        (&bob, Some(&any_on_orders), &[5], Kill::Forward),
        (&bob, Some(&any_cluster), &[5], Kill::Forward),
        (&bob, None, &[5], Kill::Refused),
        (&alice, Some(&none), &[], Kill::Forward),
    ];
    for (i, (c, p, ids, want)) in rows.iter().enumerate() {
        let world = world::World::new();
        let (cursors, env) = (&world.cursors, world.env());
        alice.observe_cursor(&env, 5, "shop.orders", None);
        alice.observe_cursor(&env, 6, "shop.orders", None);
        let got = match c.kill_cursors(&env, *p, "shop", "orders", ids) {
            Step::Forward(ReplyFilter::None) => Kill::Forward,
            Step::Reply(doc) => {
                let listed = doc
                    .get_array("cursorsNotFound")
                    .map(|a| a.into_iter().count());
                assert_eq!(listed, Ok(ids.len()), "row {i}");
                Kill::NotFound
            }
            Step::Refuse(e) if e.code == ErrorCode::Unauthorized => Kill::Refused,
            other => panic!("row {i}: {other:?}"),
        };
        assert_eq!(got, *want, "row {i}");
        // Rows 0 and 1 are the owner's own kills: mongod closes those cursors.
        if matches!(i, 0 | 1) {
            assert!(
                !cursors.is_known(&alice.cluster_id, 5),
                "row {i}: forgotten"
            );
        }
    }
}

fn lsid(byte: u8) -> RawDocumentBuf {
    let id = Binary {
        subtype: BinarySubtype::Uuid,
        bytes: vec![byte; 16],
    };
    rawdoc! { "id": id }
}

#[test]
fn end_sessions_forwards_only_this_connections_sessions() {
    let mut c = conn(Some("admin.alice"));
    c.note_lsid(&rawdoc! { "find": "x", "lsid": lsid(1), "$db": "d" });
    c.note_lsid(&rawdoc! { "find": "x", "lsid": lsid(2), "$db": "d" });
    c.note_lsid(&rawdoc! { "find": "x", "lsid": "not a session", "$db": "d" });
    let ack = Step::Reply(rawdoc! { "ok": 1.0 });
    let rows: &[(RawDocumentBuf, Result<Step, i32>)] = &[
        (
            rawdoc! { "endSessions": [lsid(1)] },
            Ok(Step::Forward(ReplyFilter::None)),
        ),
        (
            rawdoc! { "endSessions": [lsid(1), lsid(2)] },
            Ok(Step::Forward(ReplyFilter::None)),
        ),
        (
            rawdoc! { "endSessions": [lsid(1), lsid(3)] },
            Ok(ack.clone()),
        ),
        (rawdoc! { "endSessions": [lsid(3)] }, Ok(ack.clone())),
        (rawdoc! { "endSessions": [1] }, Ok(ack.clone())),
        (rawdoc! { "endSessions": lsid(1) }, Err(14)),
        (
            rawdoc! { "endSessions": [] },
            Ok(Step::Forward(ReplyFilter::None)),
        ),
    ];
    for (i, (body, want)) in rows.iter().enumerate() {
        let got = c.end_sessions(body);
        match want {
            Ok(step) => assert_eq!(&got, step, "row {i}"),
            Err(want) => assert_eq!(code(&got), Some(*want), "row {i}"),
        }
    }
}

#[test]
fn list_databases_and_list_collections_filters() {
    let reader = privs(&[(ns("shop", "orders"), actions::FIND)]);
    let lister = privs(&[(ResourcePattern::Cluster, actions::LIST_DATABASES)]);
    let plain = rawdoc! { "listDatabases": 1 };
    let authorized = rawdoc! { "listDatabases": 1, "authorizedDatabases": true };
    // (privileges, body, classifier says filter) -> reply filter
    let rows: &[(Option<&UserPrivileges>, &RawDocumentBuf, bool, ReplyFilter)] = &[
        (Some(&reader), &plain, true, ReplyFilter::ListDatabases),
        (Some(&lister), &plain, true, ReplyFilter::None),
        (Some(&lister), &authorized, true, ReplyFilter::ListDatabases),
        (None, &plain, true, ReplyFilter::ListDatabases),
        (Some(&reader), &plain, false, ReplyFilter::None),
    ];
    for (i, (p, body, filter, want)) in rows.iter().enumerate() {
        assert_eq!(list_databases_filter(*p, body, *filter), *want, "row {i}");
    }
    // (privileges, db) -> listCollections with authorizedCollections
    let rows: &[(Option<&UserPrivileges>, &str, Option<i32>)] = &[
        (Some(&reader), "shop", None),
        (Some(&reader), "other", Some(13)),
        (Some(&lister), "shop", Some(13)),
        (None, "shop", Some(13)),
    ];
    for (i, (p, db, want)) in rows.iter().enumerate() {
        let got = list_collections(*p, db);
        match want {
            None => assert_eq!(got, Step::Forward(ReplyFilter::ListCollections), "row {i}"),
            Some(c) => assert_eq!(code(&got), Some(*c), "row {i}"),
        }
    }
}

#[test]
fn one_user_per_connection() {
    let alice = user("admin", "alice");
    let rows: &[(Option<User>, User, bool)] = &[
        (None, user("admin", "alice"), true),
        (Some(user("admin", "alice")), user("admin", "alice"), true),
        (Some(user("admin", "alice")), user("admin", "bob"), false),
        (Some(user("admin", "alice")), user("shop", "alice"), false),
    ];
    for (i, (current, next, ok)) in rows.iter().enumerate() {
        let got = one_user(current.as_ref(), next);
        assert_eq!(got.is_ok(), *ok, "row {i}");
        if let Err(e) = got {
            assert_eq!(e.code, ErrorCode::ProtocolError, "row {i}");
        }
    }
    assert!(one_user(Some(&alice), &alice).is_ok());
}

#[test]
fn sasl_supported_mechs_never_reveals_unknown_users() {
    let lookup = |db: &str, user: &str| match (db, user) {
        ("admin", "new") => Some(vec!["SCRAM-SHA-256"]),
        ("admin", "old") => Some(vec!["SCRAM-SHA-1"]),
        _ => None,
    };
    let both = ["SCRAM-SHA-1", "SCRAM-SHA-256"];
    // spec -> mechanisms listed
    let rows: &[(&str, &[&str])] = &[
        ("admin.new", &["SCRAM-SHA-256"]),
        ("admin.old", &["SCRAM-SHA-1"]),
        ("admin.ghost", &both),
        ("nodot", &both),
        ("", &both),
        ("admin.new.extra", &both),
    ];
    for (i, (spec, want)) in rows.iter().enumerate() {
        let got = sasl_supported_mechs(spec, lookup);
        let got: Vec<&str> = got
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str())
            .collect();
        assert_eq!(got, *want, "row {i}: {spec}");
    }
}

#[test]
fn retryable_label_only_on_retryable_writes() {
    let rows: &[(RawDocumentBuf, bool)] = &[
        (rawdoc! { "insert": "x", "txnNumber": 1_i64 }, true),
        (
            rawdoc! { "insert": "x", "txnNumber": 1_i64, "autocommit": false },
            false,
        ),
        (rawdoc! { "insert": "x" }, false),
        (rawdoc! { "find": "x" }, false),
    ];
    for (i, (body, labelled)) in rows.iter().enumerate() {
        let err = retryable_label(body, ErrorReply::host_unreachable("connection lost"));
        assert_eq!(
            err.labels.contains(&"RetryableWriteError"),
            *labelled,
            "row {i}"
        );
        assert_eq!(err.code, ErrorCode::HostUnreachable, "row {i}");
    }
}

#[test]
fn the_user_follows_the_policy_generation() {
    let alice = Arc::new(user("admin", "alice"));
    let mut widened = user("admin", "alice");
    widened.privileges = Arc::new(privs(&[(ns("shop", "orders"), actions::FIND)]));
    let widened = Arc::new(widened);
    // (policy generation now, what a lookup finds) -> (looked up?, user after, generation after)
    type Row = (u64, Option<Arc<User>>, bool, bool, u64);
    let rows: &[Row] = &[
        (1, None, false, true, 1),
        (2, Some(widened.clone()), true, true, 2),
        (3, None, true, false, 3),
    ];
    for (i, (generation, found, looked, present, after)) in rows.iter().enumerate() {
        let mut c = conn(None);
        c.log_in(alice.clone(), 1);
        let mut asked = false;
        let got = c.current_user(*generation, |db, name| {
            asked = true;
            assert_eq!((db, name), ("admin", "alice"), "row {i}");
            (*generation, found.clone())
        });
        assert_eq!(asked, *looked, "row {i}: lookup only on a new generation");
        assert_eq!(got.is_some(), *present, "row {i}");
        assert_eq!(c.user_generation, *after, "row {i}");
        if *generation == 2 {
            let roles = got.map(|u| u.privileges.has_any_in_db("shop"));
            assert_eq!(roles, Some(true), "row {i}: new roles apply");
        }
    }
    let mut c = conn(None);
    assert!(c
        .current_user(9, |_, _| panic!("no user, no lookup"))
        .is_none());
    c.log_in(alice.clone(), 1);
    assert_eq!(c.owner.as_deref(), Some("admin.alice"));
    c.log_out();
    assert!(c.owner.is_none() && c.user.is_none());
}

#[test]
fn the_login_deadline_runs_only_while_unauthenticated() {
    use LoginDeadline::*;
    // (armed, authenticated, the message was a hello) -> what the timer does
    let rows = [
        (false, false, false, Arm),
        (false, false, true, Arm),
        (true, false, false, Keep),
        (true, false, true, Restart),
        (true, true, false, Disarm),
        (true, true, true, Disarm),
        (false, true, false, Keep),
        (false, true, true, Keep),
    ];
    for (i, (armed, authenticated, hello, want)) in rows.into_iter().enumerate() {
        assert_eq!(login_deadline(armed, authenticated, hello), want, "row {i}");
    }
}

#[test]
fn a_fire_and_forget_message_is_never_answered() {
    let refused = Step::Refuse(ErrorReply::unauthorized("no"));
    let rows = [
        (Step::Reply(rawdoc! { "ok": 1.0 }), None),
        (refused, Some(Step::Close)),
        (
            Step::Forward(ReplyFilter::None),
            Some(Step::Forward(ReplyFilter::None)),
        ),
        (
            Step::Forward(ReplyFilter::ListDatabases),
            Some(Step::Forward(ReplyFilter::ListDatabases)),
        ),
        (Step::Close, Some(Step::Close)),
    ];
    for (i, (step, want)) in rows.into_iter().enumerate() {
        assert_eq!(unanswered(step), want, "row {i}");
    }
}
