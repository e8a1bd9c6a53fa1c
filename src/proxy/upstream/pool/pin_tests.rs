use bson::{rawdoc, Binary, RawDocumentBuf};

use super::*;

fn lsid(n: u8) -> Binary {
    Binary {
        subtype: BinarySubtype::Uuid,
        bytes: vec![n; 16],
    }
}

fn req(body: RawDocumentBuf) -> Request {
    Request::of(&body)
}

fn reply(body: RawDocumentBuf) -> Reply {
    Reply::of(&body)
}

fn ok() -> Reply {
    reply(rawdoc! {"ok": 1.0})
}

fn cursor(id: i64) -> Reply {
    reply(rawdoc! {"cursor": {"id": id, "ns": "a.b", "firstBatch": []}, "ok": 1.0})
}

#[test]
fn requests_are_read_as_mongos_reads_them() {
    let start = req(
        rawdoc! {"insert": "b", "lsid": {"id": lsid(1)}, "txnNumber": 1_i64,
        "startTransaction": true, "autocommit": false, "$db": "a"},
    );
    assert_eq!(start.lsid, Some(vec![1; 16]));
    assert!(start.in_txn && !start.ends_txn);
    let commit = req(rawdoc! {"commitTransaction": 1, "lsid": {"id": lsid(1)},
    "txnNumber": 1_i64, "autocommit": false, "$db": "admin"});
    assert!(commit.ends_txn);
    let plain = req(rawdoc! {"find": "b", "lsid": {"id": lsid(1)}, "$db": "a"});
    assert!(!plain.in_txn && plain.lsid.is_some());
    // autocommit must be the boolean false; anything else is not a transaction statement.
    let odd = req(rawdoc! {"find": "b", "autocommit": 0, "$db": "a"});
    assert!(!odd.in_txn);
    let more = req(rawdoc! {"getMore": 7_i64, "collection": "b", "$db": "a"});
    assert_eq!(more.get_more, Some(7));
    let kill = req(rawdoc! {"killCursors": "b", "cursors": [7_i64, 8_i64], "$db": "a"});
    assert_eq!(kill.kills, vec![7, 8]);
    // A getMore id that is not a long is no cursor (mongos refuses it).
    assert_eq!(req(rawdoc! {"getMore": 7_i32, "$db": "a"}).get_more, None);
}

#[test]
fn replies_are_read_for_cursor_and_label() {
    assert_eq!(cursor(5).cursor, Some(5));
    assert_eq!(reply(rawdoc! {"cursor": {"id": 5_i32}}).cursor, Some(5));
    assert_eq!(ok().cursor, None);
    let transient = reply(rawdoc! {"ok": 0.0, "code": 251,
    "errorLabels": ["TransientTransactionError"]});
    assert!(transient.transient_txn_error);
    let other = reply(rawdoc! {"ok": 0.0, "errorLabels": ["RetryableWriteError"]});
    assert!(!other.transient_txn_error);
}

/// (what happens, request, reply, pinned afterwards), applied in order to one lease.
type Row = (&'static str, RawDocumentBuf, Reply, bool);

fn run(table: Vec<Row>) {
    let mut pins = Pins::default();
    for (what, body, rep, want) in table {
        pins.observe(&Request::of(&body), &rep);
        assert_eq!(pins.hold(), want, "{what}: {pins:?}");
    }
}

#[test]
fn a_cursor_pins_until_exhausted_or_killed() {
    run(vec![
        ("plain command", rawdoc! {"ping": 1}, ok(), false),
        ("single-batch find", rawdoc! {"find": "b"}, cursor(0), false),
        (
            "find leaves a cursor",
            rawdoc! {"find": "b"},
            cursor(9),
            true,
        ),
        (
            "getMore keeps it open",
            rawdoc! {"getMore": 9_i64, "collection": "b"},
            cursor(9),
            true,
        ),
        (
            "aggregate opens another",
            rawdoc! {"aggregate": "b"},
            cursor(10),
            true,
        ),
        (
            "last batch closes 9",
            rawdoc! {"getMore": 9_i64, "collection": "b"},
            cursor(0),
            true,
        ),
        (
            "killCursors closes 10",
            rawdoc! {"killCursors": "b", "cursors": [10_i64]},
            ok(),
            false,
        ),
        ("find again", rawdoc! {"find": "b"}, cursor(11), true),
        (
            "getMore error: the cursor is gone",
            rawdoc! {"getMore": 11_i64, "collection": "b"},
            reply(rawdoc! {"ok": 0.0, "code": 43}),
            false,
        ),
    ]);
}

#[test]
fn a_transaction_pins_from_its_first_statement_to_commit_or_abort() {
    let s1 = lsid(1);
    let s2 = lsid(2);
    run(vec![
        (
            "first statement",
            rawdoc! {"insert": "b", "lsid": {"id": s1.clone()}, "txnNumber": 1_i64,
            "startTransaction": true, "autocommit": false},
            ok(),
            true,
        ),
        (
            "a second session's transaction",
            rawdoc! {"find": "b", "lsid": {"id": s2.clone()}, "txnNumber": 4_i64,
            "startTransaction": true, "autocommit": false},
            cursor(0),
            true,
        ),
        (
            "first one committed",
            rawdoc! {"commitTransaction": 1, "lsid": {"id": s1.clone()}, "txnNumber": 1_i64,
            "autocommit": false},
            ok(),
            true,
        ),
        (
            "second one aborted by the server",
            rawdoc! {"update": "b", "lsid": {"id": s2.clone()}, "txnNumber": 4_i64,
            "autocommit": false},
            reply(rawdoc! {"ok": 0.0, "code": 251, "errorLabels": ["TransientTransactionError"]}),
            false,
        ),
        (
            "a retryable write outside a transaction",
            rawdoc! {"insert": "b", "lsid": {"id": s1.clone()}, "txnNumber": 2_i64},
            ok(),
            false,
        ),
        (
            "a write error inside a transaction keeps the pin",
            rawdoc! {"insert": "b", "lsid": {"id": s1.clone()}, "txnNumber": 3_i64,
            "startTransaction": true, "autocommit": false},
            reply(rawdoc! {"ok": 0.0, "code": 11000}),
            true,
        ),
        (
            "abort, whatever it answers",
            rawdoc! {"abortTransaction": 1, "lsid": {"id": s1}, "txnNumber": 3_i64,
            "autocommit": false},
            reply(rawdoc! {"ok": 0.0, "code": 251}),
            false,
        ),
    ]);
}

#[test]
fn a_cursor_inside_a_transaction_outlives_the_commit() {
    let s = lsid(3);
    run(vec![
        (
            "find in a transaction",
            rawdoc! {"find": "b", "lsid": {"id": s.clone()}, "txnNumber": 1_i64,
            "startTransaction": true, "autocommit": false},
            cursor(21),
            true,
        ),
        (
            "commit",
            rawdoc! {"commitTransaction": 1, "lsid": {"id": s}, "txnNumber": 1_i64,
            "autocommit": false},
            ok(),
            true,
        ),
        (
            "cursor exhausted",
            rawdoc! {"getMore": 21_i64, "collection": "b"},
            cursor(0),
            false,
        ),
    ]);
}

#[test]
fn past_the_tracking_limit_the_lease_stays_pinned() {
    let mut pins = Pins::default();
    let find = Request::of(&rawdoc! {"find": "b"});
    for id in 1..=MAX_TRACKED as i64 {
        pins.observe(&find, &cursor(id));
    }
    assert!(pins.hold());
    // The same cursor again is no new entry.
    pins.observe(&find, &cursor(1));
    for id in 1..=MAX_TRACKED as i64 {
        let kill = Request::of(&rawdoc! {"killCursors": "b", "cursors": [id]});
        pins.observe(&kill, &ok());
    }
    assert!(!pins.hold(), "exactly the limit is still tracked");
    for id in 1..=(MAX_TRACKED as i64 + 1) {
        pins.observe(&find, &cursor(id));
    }
    for id in 1..=(MAX_TRACKED as i64 + 1) {
        let kill = Request::of(&rawdoc! {"killCursors": "b", "cursors": [id]});
        pins.observe(&kill, &ok());
    }
    assert!(
        pins.hold(),
        "one past the limit: pinned until the lease ends"
    );
}
