//! Property tests: round trips, truncation, and fuzz-style "never panics" over every decoder.

use super::*;
use bson::Bson;
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Bson> {
    prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        any::<bool>().prop_map(Bson::Boolean),
        "\\PC{0,12}".prop_map(Bson::String),
        Just(Bson::Null),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| Bson::Document(m.into_iter().collect())),
        ]
    })
}

/// A request body: command name first, random fields, then `$db`.
fn body() -> impl Strategy<Value = RawDocumentBuf> {
    (
        "[a-z]{1,12}",
        value(),
        prop::collection::btree_map("[a-z_]{1,8}", value(), 0..5),
        "[a-z]{1,8}",
    )
        .prop_map(|(name, v, extra, db)| {
            let mut d = Document::new();
            d.insert(name.clone(), v);
            for (k, v) in extra {
                if k != name {
                    d.insert(k, v);
                }
            }
            d.insert("$db", db);
            raw(d)
        })
}

fn small_doc() -> impl Strategy<Value = RawDocumentBuf> {
    prop::collection::btree_map("[a-z]{1,4}", leaf(), 0..4)
        .prop_map(|m| raw(m.into_iter().collect()))
}

/// 0..3 sequences with distinct identifiers that cannot clash with lowercase body keys.
fn sequences() -> impl Strategy<Value = Vec<(String, Vec<RawDocumentBuf>)>> {
    prop::collection::vec(prop::collection::vec(small_doc(), 0..4), 0..3).prop_map(|seqs| {
        seqs.into_iter()
            .enumerate()
            .map(|(i, docs)| (format!("S{i}"), docs))
            .collect()
    })
}

fn build(body: &RawDocumentBuf, seqs: &[(String, Vec<RawDocumentBuf>)], checksum: bool) -> Bytes {
    let doc_refs: Vec<Vec<&RawDocument>> = seqs
        .iter()
        .map(|(_, docs)| docs.iter().map(|d| d.as_ref()).collect())
        .collect();
    let sections: Vec<(&str, &[&RawDocument])> = seqs
        .iter()
        .zip(doc_refs.iter())
        .map(|((id, _), docs)| (id.as_str(), docs.as_slice()))
        .collect();
    let flags = if checksum { FLAG_CHECKSUM_PRESENT } else { 0 };
    encode_op_msg_with_sequences(17, 0, flags, body, &sections)
}

fn check_round_trip(m: &OpMsg, body: &RawDocumentBuf, seqs: &[(String, Vec<RawDocumentBuf>)]) {
    assert_eq!(m.body().as_bytes(), body.as_bytes());
    let first = body
        .iter()
        .next()
        .and_then(|r| r.ok())
        .map(|(k, _)| k.to_string());
    assert_eq!(Some(m.command_name().to_string()), first);
    assert_eq!(m.db(), body.get_str("$db").ok());
    let got: Vec<(String, Vec<Vec<u8>>)> = m
        .sequences()
        .map(|s| {
            assert_eq!(s.len(), s.documents().count());
            (
                s.identifier().to_string(),
                s.documents().map(|d| d.as_bytes().to_vec()).collect(),
            )
        })
        .collect();
    let want: Vec<(String, Vec<Vec<u8>>)> = seqs
        .iter()
        .map(|(id, docs)| {
            (
                id.clone(),
                docs.iter().map(|d| d.as_bytes().to_vec()).collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// Calls every accessor of a successfully decoded message, to make sure none can panic.
fn touch_request(r: &Request) {
    match r {
        Request::Msg(m) => touch_msg(m),
        Request::Query(q) => {
            let _ = (
                q.full_collection_name(),
                q.command_name(),
                q.command().iter().count(),
            );
            let _ = (q.query().iter().count(), q.return_fields_selector());
        }
    }
}

fn touch_msg(m: &OpMsg) {
    let _ = (m.command_name(), m.db(), m.flags(), m.body().iter().count());
    for s in m.sequences() {
        assert_eq!(s.documents().count(), s.len());
    }
}

fn set_length(frame: &mut [u8]) {
    let len = i32::try_from(frame.len()).unwrap_or(0).to_le_bytes();
    frame[..4].copy_from_slice(&len);
}

const ALL: [Compressor; 4] = [
    Compressor::Noop,
    Compressor::Snappy,
    Compressor::Zlib,
    Compressor::Zstd,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn op_msg_round_trip(b in body(), seqs in sequences(), checksum in any::<bool>()) {
        let frame = build(&b, &seqs, checksum);
        let Ok(Request::Msg(m)) = decode_request(frame.clone(), &limits()) else {
            panic!("valid message refused: {:?}", decode_request(frame, &limits()).err());
        };
        prop_assert_eq!(m.as_bytes(), &frame[..]);
        prop_assert_eq!(m.checksum_present(), checksum);
        check_round_trip(&m, &b, &seqs);
        // The same frame is a valid reply too.
        prop_assert!(decode_reply(frame, &limits()).is_ok());
    }

    #[test]
    fn compressed_round_trip(b in body(), seqs in sequences(), idx in 0usize..4) {
        let c = ALL[idx];
        let frame = build(&b, &seqs, false);
        let packed = compress(&frame, c).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Ok(Request::Msg(m)) = decode_request(packed, &limits()) else {
            panic!("compressed message refused");
        };
        prop_assert_eq!(m.as_bytes(), &frame[..]);
        prop_assert_eq!(m.compressor(), Some(c));
        check_round_trip(&m, &b, &seqs);
    }

    #[test]
    fn op_reply_round_trip(d in small_doc(), req in any::<i32>(), to in any::<i32>(), idx in 0usize..5) {
        let mut frame = encode_op_reply(req, to, &d);
        if let Some(&c) = ALL.get(idx) {
            frame = compress(&frame, c).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let Ok(Reply::Reply(r)) = decode_reply(frame, &limits()) else {
            panic!("reply refused");
        };
        prop_assert_eq!((r.header().request_id, r.header().response_to), (req, to));
        prop_assert_eq!(r.first_document().map(|x| x.as_bytes().to_vec()), Some(d.as_bytes().to_vec()));
    }

    #[test]
    fn every_truncation_rejected(b in body(), seqs in sequences(), checksum in any::<bool>(), idx in 0usize..5) {
        let mut frame = build(&b, &seqs, checksum);
        if let Some(&c) = ALL.get(idx) {
            frame = compress(&frame, c).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let full = frame.len();
        for k in 0..full {
            let prefix = frame.slice(..k);
            prop_assert!(decode_request(prefix.clone(), &limits()).is_err(), "prefix {} accepted", k);
            match frame_length(&prefix, DEFAULT_MAX_MESSAGE_SIZE) {
                Ok(None) => prop_assert!(k < HEADER_LEN),
                Ok(Some(n)) => prop_assert!(k >= HEADER_LEN && n == full),
                Err(e) => panic!("frame_length failed on a valid prefix: {e}"),
            }
            if k < HEADER_LEN {
                continue;
            }
            // The same prefix with its header length patched to match: must be refused by
            // structure alone while it cuts into the body (or anywhere into a compressed payload).
            let mut patched = prefix.to_vec();
            set_length(&mut patched);
            let patched = Bytes::from(patched);
            let body_end = HEADER_LEN + 4 + 1 + b.as_bytes().len();
            if let Ok(r) = decode_request(patched.clone(), &limits()) {
                prop_assert!(idx == 4 && k >= body_end, "cut prefix {} accepted", k);
                if let Request::Msg(m) = r {
                    prop_assert_eq!(m.as_bytes(), &patched[..]);
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let bytes = Bytes::from(data);
        let _ = frame_length(&bytes, DEFAULT_MAX_MESSAGE_SIZE);
        let _ = Header::parse(&bytes);
        if let Ok(r) = decode_request(bytes.clone(), &limits()) { touch_request(&r); }
        let _ = decode_reply(bytes.clone(), &limits());
        let _ = decompress(&bytes, DEFAULT_MAX_MESSAGE_SIZE, &[OP_MSG, OP_QUERY, OP_REPLY]);
        let _ = compress(&bytes, Compressor::Snappy);
        let mut copy = bytes.to_vec();
        set_ids(&mut copy, 1, 2);
        let _ = reseal_checksum(&mut copy);
    }

    /// Random bytes behind a consistent header, so decoding gets past framing.
    #[test]
    fn random_bodies_never_panic(op in prop::sample::select(vec![OP_MSG, OP_QUERY, OP_REPLY, OP_COMPRESSED]),
                                 data in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut frame = Vec::new();
        Header { length: i32::try_from(HEADER_LEN + data.len()).unwrap_or(0), request_id: 1, response_to: 0, op_code: op }
            .write_to(&mut frame);
        frame.extend(data);
        let bytes = Bytes::from(frame);
        if let Ok(r) = decode_request(bytes.clone(), &limits()) { touch_request(&r); }
        if let Ok(Reply::Msg(m)) = decode_reply(bytes, &limits()) { touch_msg(&m); }
    }

    /// Valid messages with a few bytes changed: must decode or fail cleanly.
    #[test]
    fn mutated_messages_never_panic(b in body(), seqs in sequences(), checksum in any::<bool>(),
                                    edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut frame = build(&b, &seqs, checksum).to_vec();
        for (i, v) in edits {
            let at = i.index(frame.len());
            frame[at] = v;
        }
        let bytes = Bytes::from(frame);
        if let Ok(r) = decode_request(bytes.clone(), &limits()) {
            touch_request(&r);
            if let Request::Msg(m) = &r { prop_assert_eq!(m.as_bytes(), &bytes[..]); }
        }
        if let Ok(Reply::Msg(m)) = decode_reply(bytes, &limits()) { touch_msg(&m); }
    }
}
