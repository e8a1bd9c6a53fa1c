//! OP_MSG decoding rules.

use super::*;

fn body_bytes() -> Vec<u8> {
    find_body().as_bytes().to_vec()
}

fn insert_body() -> Vec<u8> {
    raw(doc! { "insert": "c", "$db": "test", "ordered": true })
        .as_bytes()
        .to_vec()
}

#[test]
fn decodes_simple_find() {
    let frame = encode_op_msg(42, 0, 0, &find_body());
    let m = decode_msg(frame.to_vec()).expect("valid");
    assert_eq!(m.command_name(), "find");
    assert_eq!(m.db(), Some("test"));
    assert_eq!(m.header().request_id, 42);
    assert_eq!(m.header().op_code, OP_MSG);
    assert_eq!(m.as_bytes(), &frame[..]);
    assert_eq!(m.bytes(), frame);
    assert_eq!(m.body().get_str("find").ok(), Some("coll"));
    assert_eq!(m.sequences().count(), 0);
    assert_eq!(m.compressor(), None);
    assert!(!m.checksum_present() && !m.more_to_come() && !m.exhaust_allowed());
}

#[test]
fn decodes_sequences_in_order() {
    let d1 = raw(doc! { "_id": 1 });
    let d2 = raw(doc! { "_id": 2, "x": "y" });
    let u = raw(doc! { "q": {}, "u": { "$set": { "a": 1 } } });
    let mut secs = section0(&insert_body());
    secs.extend(section1("documents", &[d1.as_bytes(), d2.as_bytes()]));
    secs.extend(section1("other", &[u.as_bytes()]));
    let m = decode_msg(raw_msg(0, &secs)).expect("valid");
    let ids: Vec<_> = m.sequences().map(|s| (s.identifier(), s.len())).collect();
    assert_eq!(ids, vec![("documents", 2), ("other", 1)]);
    let docs: Vec<_> = m
        .sequence("documents")
        .expect("present")
        .documents()
        .map(|d| d.as_bytes().to_vec())
        .collect();
    assert_eq!(docs, vec![d1.as_bytes().to_vec(), d2.as_bytes().to_vec()]);
    assert!(m.sequence("missing").is_none());
}

#[test]
fn body_may_follow_sequences_and_empty_sequence_is_allowed() {
    let mut secs = section1("documents", &[]);
    secs.extend(section0(&insert_body()));
    let m = decode_msg(raw_msg(0, &secs)).expect("valid");
    let s = m.sequence("documents").expect("present");
    assert!(s.is_empty());
    assert_eq!(s.documents().count(), 0);
    assert_eq!(m.command_name(), "insert");
}

#[test]
fn flags() {
    let ok = decode_msg(raw_msg(
        FLAG_MORE_TO_COME | FLAG_EXHAUST_ALLOWED,
        &section0(&body_bytes()),
    ))
    .expect("known flags");
    assert!(ok.more_to_come() && ok.exhaust_allowed());
    // Unknown optional (high) bits are ignored.
    assert!(decode_msg(raw_msg(1 << 20, &section0(&body_bytes()))).is_ok());
    // Unknown required (low) bits are refused.
    assert_eq!(
        decode_msg(raw_msg(1 << 2, &section0(&body_bytes()))).err(),
        Some(WireError::UnknownRequiredFlags(4))
    );
    assert_eq!(
        decode_msg(raw_msg(1 << 15 | 1 << 17, &section0(&body_bytes()))).err(),
        Some(WireError::UnknownRequiredFlags(1 << 15))
    );
}

#[test]
fn checksum_verified() {
    let frame = encode_op_msg(1, 0, FLAG_CHECKSUM_PRESENT, &find_body()).to_vec();
    let m = decode_msg(frame.clone()).expect("valid checksum");
    assert!(m.checksum_present());
    assert_eq!(m.command_name(), "find");
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    assert!(matches!(
        decode_msg(bad),
        Err(WireError::ChecksumMismatch { .. })
    ));
    // A flipped byte in the body is caught by the checksum before parsing.
    let mut bad = frame;
    bad[30] ^= 0x01;
    assert!(matches!(
        decode_msg(bad),
        Err(WireError::ChecksumMismatch { .. })
    ));
}

#[test]
fn checksum_flag_on_too_short_message() {
    // The "checksum" would leave no room for any section.
    let frame = raw_msg(FLAG_CHECKSUM_PRESENT, &[0, 5, 0, 0, 0, 0]);
    assert!(decode_msg(frame).is_err());
}

#[test]
fn trailing_bytes_after_sections_rejected() {
    let mut secs = section0(&body_bytes());
    secs.push(0);
    // A lone 0 is read as another kind-0 section start whose document is truncated.
    assert!(decode_msg(raw_msg(0, &secs)).is_err());
    let mut secs = section0(&body_bytes());
    secs.extend([1, 2, 3]);
    assert!(decode_msg(raw_msg(0, &secs)).is_err());
}

#[test]
fn section_kinds_and_body_count() {
    let mut secs = section0(&body_bytes());
    secs.extend([2, 0, 0, 0, 0]);
    assert!(matches!(
        decode_msg(raw_msg(0, &secs)),
        Err(WireError::UnknownSectionKind { kind: 2, .. })
    ));
    let mut two = section0(&body_bytes());
    two.extend(section0(&body_bytes()));
    assert_eq!(
        decode_msg(raw_msg(0, &two)).err(),
        Some(WireError::DuplicateBody)
    );
    let d = raw(doc! { "_id": 1 });
    let only_seq = section1("documents", &[d.as_bytes()]);
    assert_eq!(
        decode_msg(raw_msg(0, &only_seq)).err(),
        Some(WireError::MissingBody)
    );
}

#[test]
fn sequence_framing() {
    let d = raw(doc! { "_id": 1 });
    let good = section1("documents", &[d.as_bytes()]);
    let with = |seq: Vec<u8>| {
        let mut secs = section0(&insert_body());
        secs.extend(seq);
        decode_msg(raw_msg(0, &secs))
    };
    assert!(with(good.clone()).is_ok());
    // Size one byte too large: overruns the message.
    let mut over = good.clone();
    over[1] += 1;
    assert!(matches!(with(over), Err(WireError::InvalidSequence { .. })));
    // Size one byte too small: the last document no longer fits its section.
    let mut under = good.clone();
    under[1] -= 1;
    assert!(with(under).is_err());
    // Size smaller than its own header.
    assert!(matches!(
        with(vec![1, 4, 0, 0, 0]),
        Err(WireError::InvalidSequence { .. })
    ));
    assert!(matches!(
        with(vec![1, 0xFF, 0xFF, 0xFF, 0xFF]),
        Err(WireError::InvalidSequence { .. })
    ));
    // Identifier without its NUL inside the section.
    assert!(matches!(
        with(vec![1, 6, 0, 0, 0, b'a', b'b']),
        Err(WireError::InvalidCString { .. })
    ));
    assert!(matches!(
        with(section1("", &[])),
        Err(WireError::InvalidSequence { .. })
    ));
    // Identifier not UTF-8.
    let mut bad_id = section1("documents", &[]);
    bad_id[5] = 0xFF;
    assert!(matches!(
        with(bad_id),
        Err(WireError::InvalidCString { .. })
    ));
    // A document whose trailing byte is not 0x00.
    let mut bad_doc = good;
    let last = bad_doc.len() - 1;
    bad_doc[last] = 1;
    assert!(matches!(with(bad_doc), Err(WireError::InvalidBson { .. })));
}

#[test]
fn sequence_documents_contents_not_inspected_but_size_is() {
    // A document with a bogus element type still passes framing (the upstream validates it).
    let junk = [7u8, 0, 0, 0, 0x42, 0, 0];
    let mut secs = section0(&insert_body());
    secs.extend(section1("documents", &[&junk]));
    assert!(decode_msg(raw_msg(0, &secs)).is_ok());
    let big = raw(doc! { "s": "x".repeat(200) });
    let mut secs = section0(&insert_body());
    secs.extend(section1("documents", &[big.as_bytes()]));
    let frame = Bytes::from(raw_msg(0, &secs));
    let small = Limits {
        max_bson_object_size: 100,
        ..Limits::default()
    };
    assert!(matches!(
        decode_request(frame, &small),
        Err(WireError::ObjectTooLarge { .. })
    ));
}

#[test]
fn sequence_identifier_conflicts() {
    let d = raw(doc! { "_id": 1 });
    let mut secs = section0(&insert_body());
    secs.extend(section1("documents", &[d.as_bytes()]));
    secs.extend(section1("documents", &[d.as_bytes()]));
    assert_eq!(
        decode_msg(raw_msg(0, &secs)).err(),
        Some(WireError::DuplicateSequence("documents".into()))
    );
    let mut secs = section0(&insert_body());
    secs.extend(section1("ordered", &[d.as_bytes()]));
    assert_eq!(
        decode_msg(raw_msg(0, &secs.clone())).err(),
        Some(WireError::SequenceShadowsField("ordered".into()))
    );
    // Replies do not get the duplicate rules.
    assert!(decode_msg_reply(raw_msg(0, &secs)).is_ok());
}

#[test]
fn too_many_sequences() {
    let mut secs = section0(&insert_body());
    for i in 0..=MAX_SEQUENCES {
        secs.extend(section1(&format!("s{i}"), &[]));
    }
    assert!(matches!(
        decode_msg(raw_msg(0, &secs)),
        Err(WireError::InvalidSequence { .. })
    ));
}

#[test]
fn body_command_rules() {
    let cases: Vec<(Document, WireError)> = vec![
        (doc! {}, WireError::EmptyCommand),
        (doc! { "find": "c" }, WireError::MissingDb),
        (doc! { "find": "c", "$db": 1 }, WireError::DbNotString),
    ];
    for (d, want) in cases {
        let frame = encode_op_msg(1, 0, 0, &raw(d));
        assert_eq!(decode_msg(frame.to_vec()).err(), Some(want));
    }
}

#[test]
fn duplicate_top_level_keys_rejected() {
    // bson::Document cannot hold duplicates, so splice two identical elements by hand.
    let body = raw_doc_bytes(&[
        elem_str("find", "a"),
        elem_str("$db", "t"),
        elem_str("find", "b"),
    ]);
    assert_eq!(
        decode_msg(raw_msg(0, &section0(&body))).err(),
        Some(WireError::DuplicateField("find".into()))
    );
    let two_db = raw_doc_bytes(&[
        elem_str("find", "a"),
        elem_str("$db", "t"),
        elem_str("$db", "u"),
    ]);
    assert_eq!(
        decode_msg(raw_msg(0, &section0(&two_db))).err(),
        Some(WireError::DuplicateField("$db".into()))
    );
    // Nested duplicates are not a top-level concern.
    let nested = raw_doc_bytes(&[
        elem_str("find", "a"),
        elem_doc(
            "filter",
            &raw_doc_bytes(&[elem_str("x", "1"), elem_str("x", "2")]),
        ),
        elem_str("$db", "t"),
    ]);
    assert!(decode_msg(raw_msg(0, &section0(&nested))).is_ok());
    // Replies: duplicates allowed, $db optional, a non-string $db is just not reported.
    let reply = decode_msg_reply(raw_msg(0, &section0(&two_db))).expect("reply");
    assert_eq!(reply.db(), Some("t"));
    let no_db = raw(doc! { "ok": 1.0, "$db": 3 });
    let reply = decode_msg_reply(encode_op_msg(1, 0, 0, &no_db).to_vec()).expect("reply");
    assert_eq!((reply.command_name(), reply.db()), ("ok", None));
}

#[test]
fn body_size_limit() {
    let body = raw(doc! { "find": "c", "$db": "t", "pad": "x".repeat(300) });
    let frame = encode_op_msg(1, 0, 0, &body);
    let small = Limits {
        max_bson_object_size: 200,
        ..Limits::default()
    };
    assert!(matches!(
        decode_request(frame.clone(), &small),
        Err(WireError::ObjectTooLarge { .. })
    ));
    // Replies get mongod's 16 KiB internal slack.
    assert!(decode_reply(frame, &small).is_ok());
}

/// `type name\0 value` for a string value.
pub(super) fn elem_str(key: &str, v: &str) -> Vec<u8> {
    let mut e = vec![0x02];
    e.extend_from_slice(key.as_bytes());
    e.push(0);
    e.extend_from_slice(&i32::try_from(v.len() + 1).unwrap_or(0).to_le_bytes());
    e.extend_from_slice(v.as_bytes());
    e.push(0);
    e
}

pub(super) fn elem_doc(key: &str, d: &[u8]) -> Vec<u8> {
    let mut e = vec![0x03];
    e.extend_from_slice(key.as_bytes());
    e.push(0);
    e.extend_from_slice(d);
    e
}

/// Frames elements into a document with a correct length.
pub(super) fn raw_doc_bytes(elems: &[Vec<u8>]) -> Vec<u8> {
    let inner: Vec<u8> = elems.concat();
    let mut d = i32::try_from(inner.len() + 5)
        .unwrap_or(0)
        .to_le_bytes()
        .to_vec();
    d.extend(inner);
    d.push(0);
    d
}

#[test]
fn duplicates_and_shadowing_are_found_among_many_keys() {
    // Past 16 keys the duplicate check switches from pairwise to sorted; both must agree.
    for n in [3usize, 15, 16, 17, 40] {
        let mut fields = vec![elem_str("insert", "c"), elem_str("$db", "t")];
        fields.extend((0..n).map(|i| elem_str(&format!("k{i}"), "v")));
        let ok = raw_doc_bytes(&fields);
        assert!(decode_msg(raw_msg(0, &section0(&ok))).is_ok(), "{n} keys");
        let mut dup = fields.clone();
        dup.push(elem_str(&format!("k{}", n / 2), "again"));
        assert_eq!(
            decode_msg(raw_msg(0, &section0(&raw_doc_bytes(&dup)))).err(),
            Some(WireError::DuplicateField(format!("k{}", n / 2))),
            "{n} keys"
        );
        let d = raw(doc! { "_id": 1 });
        let mut secs = section0(&ok);
        secs.extend(section1(&format!("k{}", n - 1), &[d.as_bytes()]));
        assert_eq!(
            decode_msg(raw_msg(0, &secs)).err(),
            Some(WireError::SequenceShadowsField(format!("k{}", n - 1))),
            "{n} keys"
        );
    }
}
