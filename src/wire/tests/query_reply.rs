//! OP_QUERY requests and OP_REPLY replies.

use super::msg::{elem_str, raw_doc_bytes};
use super::*;

/// Builds an OP_QUERY frame from its parts (`tail` is appended after the documents).
fn query_frame(ns: &[u8], query: &[u8], fields: Option<&[u8]>, tail: &[u8]) -> Vec<u8> {
    let mut body = 4u32.to_le_bytes().to_vec(); // SlaveOk
    body.extend_from_slice(ns);
    body.push(0);
    body.extend_from_slice(&0i32.to_le_bytes());
    body.extend_from_slice(&(-1i32).to_le_bytes());
    body.extend_from_slice(query);
    if let Some(f) = fields {
        body.extend_from_slice(f);
    }
    body.extend_from_slice(tail);
    let mut out = Vec::new();
    Header {
        length: i32::try_from(HEADER_LEN + body.len()).unwrap_or(0),
        request_id: 3,
        response_to: 0,
        op_code: OP_QUERY,
    }
    .write_to(&mut out);
    out.extend(body);
    out
}

fn decode_query(frame: Vec<u8>) -> Result<OpQuery, WireError> {
    match decode_request(Bytes::from(frame), &limits())? {
        Request::Query(q) => Ok(q),
        Request::Msg(_) => Err(WireError::UnsupportedOpCode(OP_MSG)),
    }
}

fn decode_op_reply(frame: Bytes) -> Result<OpReply, WireError> {
    match decode_reply(frame, &limits())? {
        Reply::Reply(r) => Ok(r),
        Reply::Msg(_) => Err(WireError::UnsupportedOpCode(OP_MSG)),
    }
}

#[test]
fn plain_hello_query() {
    let q = raw(doc! { "hello": 1, "client": { "driver": "x" } });
    let frame = query_frame(b"admin.$cmd", q.as_bytes(), None, &[]);
    let op = decode_query(frame.clone()).expect("valid");
    assert_eq!(op.full_collection_name(), "admin.$cmd");
    assert_eq!(op.command_name(), "hello");
    assert_eq!(op.flags(), 4);
    assert_eq!((op.number_to_skip(), op.number_to_return()), (0, -1));
    assert_eq!(op.query().as_bytes(), q.as_bytes());
    assert_eq!(op.command().as_bytes(), q.as_bytes());
    assert!(op.return_fields_selector().is_none());
    assert_eq!(op.header().request_id, 3);
    assert_eq!(op.as_bytes(), &frame[..]);
    assert_eq!(op.compressor(), None);
}

#[test]
fn wrapped_query_and_fields_selector() {
    let inner = doc! { "isMaster": 1 };
    let q =
        raw(doc! { "$query": inner.clone(), "$readPreference": { "mode": "secondaryPreferred" } });
    let f = raw(doc! { "a": 1 });
    let op = decode_query(query_frame(
        b"admin.$cmd",
        q.as_bytes(),
        Some(f.as_bytes()),
        &[],
    ))
    .expect("valid");
    assert_eq!(op.command_name(), "isMaster");
    assert_eq!(op.command().as_bytes(), raw(inner).as_bytes());
    assert_eq!(op.query().as_bytes(), q.as_bytes());
    assert_eq!(
        op.return_fields_selector().map(|d| d.as_bytes().to_vec()),
        Some(f.as_bytes().to_vec())
    );
}

#[test]
fn query_wrapper_rules() {
    let not_doc = raw(doc! { "$query": 1 });
    assert!(matches!(
        decode_query(query_frame(b"a.$cmd", not_doc.as_bytes(), None, &[])),
        Err(WireError::InvalidQueryWrapper(_))
    ));
    // $query not first: mongod would not unwrap it; refuse rather than guess.
    let late = raw(doc! { "hello": 1, "$query": { "dropDatabase": 1 } });
    assert!(matches!(
        decode_query(query_frame(b"a.$cmd", late.as_bytes(), None, &[])),
        Err(WireError::InvalidQueryWrapper(_))
    ));
    let empty_inner = raw(doc! { "$query": {} });
    assert_eq!(
        decode_query(query_frame(b"a.$cmd", empty_inner.as_bytes(), None, &[])).err(),
        Some(WireError::EmptyCommand)
    );
    let dup = raw_doc_bytes(&[elem_str("hello", "1"), elem_str("hello", "2")]);
    assert_eq!(
        decode_query(query_frame(b"a.$cmd", &dup, None, &[])).err(),
        Some(WireError::DuplicateField("hello".into()))
    );
    let empty = raw(doc! {});
    assert_eq!(
        decode_query(query_frame(b"a.$cmd", empty.as_bytes(), None, &[])).err(),
        Some(WireError::EmptyCommand)
    );
}

#[test]
fn query_framing_errors() {
    let q = raw(doc! { "hello": 1 });
    let f = raw(doc! { "a": 1 });
    // Bytes after the optional selector.
    assert!(matches!(
        decode_query(query_frame(
            b"a.$cmd",
            q.as_bytes(),
            Some(f.as_bytes()),
            &[0]
        )),
        Err(WireError::TrailingBytes { .. })
    ));
    // Junk after the query that is not a document.
    assert!(decode_query(query_frame(b"a.$cmd", q.as_bytes(), None, &[1, 2, 3])).is_err());
    // Namespace not UTF-8.
    assert!(matches!(
        decode_query(query_frame(&[0xFF, b'a'], q.as_bytes(), None, &[])),
        Err(WireError::InvalidCString { .. })
    ));
    // Query with invalid BSON inside.
    let mut bad = q.as_bytes().to_vec();
    bad[4] = 0x77;
    assert!(matches!(
        decode_query(query_frame(b"a.$cmd", &bad, None, &[])),
        Err(WireError::InvalidBson { .. })
    ));
    // An OP_QUERY is not a valid reply, an OP_REPLY not a valid request.
    let frame = Bytes::from(query_frame(b"a.$cmd", q.as_bytes(), None, &[]));
    assert!(matches!(
        decode_reply(frame, &limits()),
        Err(WireError::UnexpectedOpCode { .. })
    ));
    let reply = encode_op_reply(1, 2, &q);
    assert!(matches!(
        decode_request(reply, &limits()),
        Err(WireError::UnexpectedOpCode { .. })
    ));
}

#[test]
fn op_reply_round_trip() {
    let d = raw(doc! { "ismaster": true, "ok": 1.0 });
    let frame = encode_op_reply(9, 3, &d);
    let r = decode_op_reply(frame.clone()).expect("valid");
    assert_eq!(r.header().op_code, OP_REPLY);
    assert_eq!((r.header().request_id, r.header().response_to), (9, 3));
    assert_eq!(r.response_flags(), 8);
    assert_eq!(
        (r.cursor_id(), r.starting_from(), r.number_returned()),
        (0, 0, 1)
    );
    assert_eq!(
        r.first_document().map(|x| x.as_bytes().to_vec()),
        Some(d.as_bytes().to_vec())
    );
    assert_eq!(r.documents().count(), 1);
    assert_eq!(r.as_bytes(), &frame[..]);
}

#[test]
fn op_reply_count_and_trailing() {
    let d = raw(doc! { "ok": 1.0 });
    let mut frame = encode_op_reply(1, 1, &d).to_vec();
    // numberReturned says 2 but one document follows.
    frame[32] = 2;
    assert_eq!(
        decode_op_reply(Bytes::from(frame.clone())).err(),
        Some(WireError::NumberReturnedMismatch {
            declared: 2,
            actual: 1
        })
    );
    // Trailing byte after the document.
    frame[32] = 1;
    frame.push(0);
    frame[0] += 1;
    assert!(decode_op_reply(Bytes::from(frame)).is_err());
    // Invalid BSON inside the reply document.
    let mut bad = encode_op_reply(1, 1, &d).to_vec();
    bad[40] = 0x77;
    assert!(matches!(
        decode_op_reply(Bytes::from(bad)),
        Err(WireError::InvalidBson { .. })
    ));
}
