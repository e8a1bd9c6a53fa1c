//! Tests of the wire codec: helpers shared by the submodules, plus header/framing tests.

mod bson_rules;
mod compression;
mod msg;
mod props;
mod query_reply;

use super::*;
use bson::{doc, Document};

pub(super) fn raw(d: Document) -> RawDocumentBuf {
    RawDocumentBuf::from_document(&d).unwrap_or_default()
}

pub(super) fn find_body() -> RawDocumentBuf {
    raw(doc! { "find": "coll", "filter": { "a": 1 }, "$db": "test" })
}

pub(super) fn limits() -> Limits {
    Limits::default()
}

/// Builds an OP_MSG frame around raw flag + section bytes, with a correct header length.
pub(super) fn raw_msg(flags: u32, sections: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let len = i32::try_from(HEADER_LEN + 4 + sections.len()).unwrap_or(i32::MAX);
    Header {
        length: len,
        request_id: 7,
        response_to: 0,
        op_code: OP_MSG,
    }
    .write_to(&mut out);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(sections);
    out
}

pub(super) fn section0(doc: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8];
    s.extend_from_slice(doc);
    s
}

pub(super) fn section1(id: &str, docs: &[&[u8]]) -> Vec<u8> {
    let mut payload = id.as_bytes().to_vec();
    payload.push(0);
    for d in docs {
        payload.extend_from_slice(d);
    }
    let mut s = vec![1u8];
    s.extend_from_slice(&(i32::try_from(payload.len() + 4).unwrap_or(0)).to_le_bytes());
    s.extend_from_slice(&payload);
    s
}

pub(super) fn decode_msg(frame: Vec<u8>) -> Result<OpMsg, WireError> {
    match decode_request(Bytes::from(frame), &limits())? {
        Request::Msg(m) => Ok(m),
        Request::Query(_) => Err(WireError::UnsupportedOpCode(OP_QUERY)),
    }
}

pub(super) fn decode_msg_reply(frame: Vec<u8>) -> Result<OpMsg, WireError> {
    match decode_reply(Bytes::from(frame), &limits())? {
        Reply::Msg(m) => Ok(m),
        Reply::Reply(_) => Err(WireError::UnsupportedOpCode(OP_REPLY)),
    }
}

#[test]
fn header_round_trip_and_short_input() {
    let h = Header {
        length: 100,
        request_id: -3,
        response_to: 9,
        op_code: OP_MSG,
    };
    let mut out = Vec::new();
    h.write_to(&mut out);
    assert_eq!(out.len(), HEADER_LEN);
    assert_eq!(Header::parse(&out), Ok(h));
    assert_eq!(
        Header::parse(&out[..15]),
        Err(WireError::Truncated {
            what: "message header",
            need: 16,
            have: 15
        })
    );
}

fn header_bytes(length: i32, op_code: i32) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        length,
        request_id: 1,
        response_to: 0,
        op_code,
    }
    .write_to(&mut out);
    out
}

#[test]
fn frame_length_rules() {
    assert_eq!(frame_length(&[0u8; 15], 1000), Ok(None));
    assert_eq!(frame_length(&header_bytes(26, OP_MSG), 1000), Ok(Some(26)));
    assert_eq!(
        frame_length(&header_bytes(25, OP_COMPRESSED), 1000),
        Ok(Some(25))
    );
    assert_eq!(
        frame_length(&header_bytes(34, OP_QUERY), 1000),
        Ok(Some(34))
    );
    assert_eq!(
        frame_length(&header_bytes(36, OP_REPLY), 1000),
        Ok(Some(36))
    );
    // Below each opcode's minimum.
    for (len, op) in [
        (25, OP_MSG),
        (24, OP_COMPRESSED),
        (33, OP_QUERY),
        (35, OP_REPLY),
    ] {
        assert!(matches!(
            frame_length(&header_bytes(len, op), 1000),
            Err(WireError::InvalidMessageLength { .. })
        ));
    }
    assert!(matches!(
        frame_length(&header_bytes(-1, OP_MSG), 1000),
        Err(WireError::InvalidMessageLength { .. })
    ));
    assert_eq!(
        frame_length(&header_bytes(1001, OP_MSG), 1000),
        Err(WireError::MessageTooLarge {
            size: 1001,
            max: 1000
        })
    );
    assert_eq!(
        frame_length(&header_bytes(100, 2002), 1000),
        Err(WireError::UnsupportedOpCode(2002))
    );
}

#[test]
fn frame_length_must_match_frame() {
    let mut m = encode_op_msg(1, 0, 0, &find_body()).to_vec();
    m.push(0);
    assert!(matches!(
        decode_msg(m.clone()),
        Err(WireError::LengthMismatch { .. })
    ));
    m.truncate(m.len() - 2);
    assert!(matches!(
        decode_msg(m),
        Err(WireError::LengthMismatch { .. })
    ));
}

#[test]
fn frame_over_limit_is_refused() {
    let m = encode_op_msg(1, 0, 0, &find_body());
    let small = Limits {
        max_message_size: m.len() - 1,
        ..Limits::default()
    };
    assert!(matches!(
        decode_request(m, &small),
        Err(WireError::MessageTooLarge { .. })
    ));
}

#[test]
fn compressor_ids_and_names() {
    for (c, id, name) in [
        (Compressor::Noop, 0, "noop"),
        (Compressor::Snappy, 1, "snappy"),
        (Compressor::Zlib, 2, "zlib"),
        (Compressor::Zstd, 3, "zstd"),
    ] {
        assert_eq!(c.id(), id);
        assert_eq!(c.name(), name);
        assert_eq!(Compressor::from_id(id), Some(c));
        assert_eq!(Compressor::from_name(name), Some(c));
    }
    assert_eq!(Compressor::from_id(4), None);
    assert_eq!(Compressor::from_name("lz4"), None);
}

#[test]
fn error_codes() {
    let e = WireError::InvalidBson {
        offset: 0,
        reason: "x",
    };
    assert_eq!((e.code(), e.code_name()), (22, "InvalidBSON"));
    let e = WireError::ObjectTooLarge { size: 1, max: 0 };
    assert_eq!((e.code(), e.code_name()), (10334, "BSONObjectTooLarge"));
    assert_eq!(WireError::MissingDb.code(), 9);
    assert_eq!(WireError::MissingDb.code_name(), "FailedToParse");
    assert_eq!(WireError::UnknownCompressor(9).code(), 2);
    assert_eq!(WireError::MissingBody.code_name(), "ProtocolError");
    assert_eq!(WireError::NestingTooDeep { max: 1 }.code(), 15);
    assert!(WireError::MissingDb.to_string().contains("$db"));
}

#[test]
fn set_ids_rewrites_header_only() {
    let mut m = encode_op_msg(1, 2, 0, &find_body()).to_vec();
    let before = m.clone();
    set_ids(&mut m, 77, 88);
    let h = Header::parse(&m).unwrap_or(Header {
        length: 0,
        request_id: 0,
        response_to: 0,
        op_code: 0,
    });
    assert_eq!((h.request_id, h.response_to), (77, 88));
    assert_eq!(m[12..], before[12..]);
    assert_eq!(m[..4], before[..4]);
    let mut short = [0u8; 6];
    set_ids(&mut short, 1, 1); // must not panic, nor write half a field
    assert_eq!(short, [0u8; 6]);
}

#[test]
fn set_ids_then_reseal_keeps_checksum_valid() {
    let mut m = encode_op_msg(1, 2, FLAG_CHECKSUM_PRESENT, &find_body()).to_vec();
    set_ids(&mut m, 5, 6);
    assert!(matches!(
        decode_msg(m.clone()),
        Err(WireError::ChecksumMismatch { .. })
    ));
    assert!(reseal_checksum(&mut m));
    let msg = decode_msg(m);
    assert!(msg.is_ok(), "{msg:?}");
    let mut plain = encode_op_msg(1, 2, 0, &find_body()).to_vec();
    assert!(!reseal_checksum(&mut plain));
}
