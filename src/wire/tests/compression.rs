//! OP_COMPRESSED: round trips and the bounds on decompression.

use super::*;
use std::io::Write;

const ALL: [Compressor; 4] = [
    Compressor::Noop,
    Compressor::Snappy,
    Compressor::Zlib,
    Compressor::Zstd,
];

/// Hand-builds an OP_COMPRESSED frame.
fn compressed_frame(original: i32, size: i32, id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        length: i32::try_from(HEADER_LEN + 9 + payload.len()).unwrap_or(0),
        request_id: 11,
        response_to: 12,
        op_code: OP_COMPRESSED,
    }
    .write_to(&mut out);
    out.extend_from_slice(&original.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.push(id);
    out.extend_from_slice(payload);
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

#[test]
fn request_round_trip_each_compressor() {
    let plain = encode_op_msg(21, 0, 0, &find_body());
    for c in ALL {
        let packed = compress(&plain, c).expect("compress");
        let h = Header::parse(&packed).expect("header");
        assert_eq!((h.op_code, h.request_id), (OP_COMPRESSED, 21));
        assert_eq!(usize::try_from(h.length).ok(), Some(packed.len()));
        let Ok(Request::Msg(m)) = decode_request(packed, &limits()) else {
            panic!("{c:?} did not decode");
        };
        assert_eq!(m.compressor(), Some(c));
        assert_eq!(m.as_bytes(), &plain[..], "{c:?}: rebuilt message differs");
        assert_eq!(m.command_name(), "find");
    }
}

#[test]
fn reply_round_trip_each_compressor() {
    let d = raw(doc! { "ok": 1.0 });
    let plain = encode_op_reply(5, 4, &d);
    for c in ALL {
        let packed = compress(&plain, c).expect("compress");
        let Ok(Reply::Reply(r)) = decode_reply(packed, &limits()) else {
            panic!("{c:?} did not decode");
        };
        assert_eq!(r.compressor(), Some(c));
        assert_eq!(r.as_bytes(), &plain[..]);
    }
}

#[test]
fn opcode_rules() {
    let reply = encode_op_reply(1, 1, &raw(doc! { "ok": 1 }));
    let packed = compress(&reply, Compressor::Noop).expect("compress");
    // OP_REPLY inside a request is refused.
    assert_eq!(
        decode_request(packed, &limits()).err(),
        Some(WireError::InvalidCompressedOpCode(OP_REPLY))
    );
    // Nested OP_COMPRESSED is refused, both when compressing and decoding.
    let inner = compress(&encode_op_msg(1, 0, 0, &find_body()), Compressor::Noop).expect("c");
    assert_eq!(
        compress(&inner, Compressor::Noop).err(),
        Some(WireError::InvalidCompressedOpCode(OP_COMPRESSED))
    );
    let nested = compressed_frame(OP_COMPRESSED, 30, 0, &inner[16..]);
    assert_eq!(
        decode_request(Bytes::from(nested), &limits()).err(),
        Some(WireError::InvalidCompressedOpCode(OP_COMPRESSED))
    );
}

#[test]
fn header_field_errors() {
    let plain = encode_op_msg(1, 0, 0, &find_body());
    let body = &plain[16..];
    let size = i32::try_from(body.len()).unwrap_or(0);
    let ok = compressed_frame(OP_MSG, size, 0, body);
    assert!(decode_request(Bytes::from(ok), &limits()).is_ok());
    let unknown = compressed_frame(OP_MSG, size, 9, body);
    assert_eq!(
        decode_request(Bytes::from(unknown), &limits()).err(),
        Some(WireError::UnknownCompressor(9))
    );
    let negative = compressed_frame(OP_MSG, -5, 0, body);
    assert_eq!(
        decode_request(Bytes::from(negative), &limits()).err(),
        Some(WireError::InvalidUncompressedSize(-5))
    );
    // Declared size too small for any OP_MSG.
    let tiny = compressed_frame(OP_MSG, 3, 0, &body[..3]);
    assert_eq!(
        decode_request(Bytes::from(tiny), &limits()).err(),
        Some(WireError::InvalidUncompressedSize(3))
    );
}

#[test]
fn declared_size_checked_before_decompressing() {
    // 2 GiB declared: refused from the header alone.
    let frame = compressed_frame(OP_MSG, i32::MAX, 2, &[0x78, 0x9c]);
    assert!(matches!(
        decode_request(Bytes::from(frame), &limits()),
        Err(WireError::MessageTooLarge { .. })
    ));
}

#[test]
fn size_mismatches_each_compressor() {
    let plain = encode_op_msg(1, 0, 0, &find_body());
    let body = &plain[16..];
    let real = i32::try_from(body.len()).unwrap_or(0);
    for c in ALL {
        let packed = compress(&plain, c).expect("compress");
        for declared in [real - 1, real + 1] {
            let frame = compressed_frame(OP_MSG, declared, c.id(), &packed[25..]);
            let r = decode_request(Bytes::from(frame), &limits());
            assert!(r.is_err(), "{c:?} declared {declared} accepted");
        }
    }
}

#[test]
fn decompression_bomb_is_bounded() {
    // 8 MiB of zeros compresses to a few KiB; declaring 100 bytes must fail without inflating.
    let zeros = vec![0u8; 8 << 20];
    for (c, payload) in [
        (Compressor::Zlib, zlib(&zeros)),
        (
            Compressor::Zstd,
            zstd::bulk::compress(&zeros, 1).expect("zstd"),
        ),
        (
            Compressor::Snappy,
            snap::raw::Encoder::new()
                .compress_vec(&zeros)
                .expect("snappy"),
        ),
    ] {
        let frame = compressed_frame(OP_MSG, 100, c.id(), &payload);
        let r = decode_request(Bytes::from(frame), &limits());
        assert!(r.is_err(), "{c:?} bomb accepted");
    }
}

#[test]
fn corrupt_and_trailing_payloads() {
    let plain = encode_op_msg(1, 0, 0, &find_body());
    let size = i32::try_from(plain.len() - 16).unwrap_or(0);
    let mut z = zlib(&plain[16..]);
    z.push(0);
    let frame = compressed_frame(OP_MSG, size, 2, &z);
    assert!(matches!(
        decode_request(Bytes::from(frame), &limits()),
        Err(WireError::Decompress { .. })
    ));
    let z = zlib(&plain[16..]);
    let frame = compressed_frame(OP_MSG, size, 2, &z[..z.len() - 3]);
    assert!(decode_request(Bytes::from(frame), &limits()).is_err());
    let frame = compressed_frame(OP_MSG, size, 3, &[1, 2, 3, 4, 5]);
    assert!(matches!(
        decode_request(Bytes::from(frame), &limits()),
        Err(WireError::Decompress { .. })
    ));
    let frame = compressed_frame(OP_MSG, size, 1, &[0xFF, 0xFF, 0xFF]);
    assert!(decode_request(Bytes::from(frame), &limits()).is_err());
}

#[test]
fn decompressed_message_is_fully_validated() {
    // A body without $db passes framing but not the command rules, compressed or not.
    let plain = encode_op_msg(1, 0, 0, &raw(doc! { "find": "c" }));
    let packed = compress(&plain, Compressor::Snappy).expect("compress");
    assert_eq!(
        decode_request(packed, &limits()).err(),
        Some(WireError::MissingDb)
    );
}

#[test]
fn impossible_sizes_refused_before_allocating() {
    // 40 MB declared behind a few bytes of payload: each compressor's cheap check refuses it.
    let big = 40_000_000;
    let tiny_zlib = zlib(b"abc");
    let tiny_zstd = zstd::bulk::compress(b"abc", 1).expect("zstd");
    let tiny_snappy = snap::raw::Encoder::new()
        .compress_vec(b"abc")
        .expect("snappy");
    for (c, payload) in [
        (Compressor::Noop, b"abc".to_vec()),
        (Compressor::Snappy, tiny_snappy),
        (Compressor::Zlib, tiny_zlib),
        (Compressor::Zstd, tiny_zstd),
    ] {
        let size = usize::try_from(big).unwrap_or(0);
        assert!(
            crate::wire::compression::precheck(c, &payload, size).is_err(),
            "{c:?}"
        );
        assert!(
            crate::wire::compression::precheck(c, &payload, 3).is_ok(),
            "{c:?}"
        );
        let frame = compressed_frame(OP_MSG, big, c.id(), &payload);
        let err = decompress(&frame, DEFAULT_MAX_MESSAGE_SIZE, &[OP_MSG]).err();
        assert!(
            matches!(
                err,
                Some(WireError::UncompressedSizeMismatch { .. } | WireError::Decompress { .. })
            ),
            "{c:?}: {err:?}"
        );
    }
}
