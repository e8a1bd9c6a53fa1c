//! Encoders for the messages the proxy writes itself (error replies, handshake answers) and
//! header rewriting for re-framing forwarded messages.

use super::header::Header;
use super::msg::FLAG_CHECKSUM_PRESENT;
use super::{HEADER_LEN, OP_MSG, OP_REPLY};
use bson::RawDocument;
use bytes::Bytes;

/// OP_REPLY responseFlags bit 3: AwaitCapable, which mongod always sets.
const AWAIT_CAPABLE: i32 = 8;

/// OP_REPLY responseFlags bit 1: QueryFailure, set with a `$err` document.
pub const REPLY_QUERY_FAILURE: i32 = 2;

/// Encodes an OP_MSG with a single body section. If `flags` has checksumPresent, the CRC-32C is
/// appended.
pub fn encode_op_msg(request_id: i32, response_to: i32, flags: u32, body: &RawDocument) -> Bytes {
    encode_op_msg_with_sequences(request_id, response_to, flags, body, &[])
}

/// Encodes an OP_MSG with a body and kind-1 document sequences (identifier, documents).
pub fn encode_op_msg_with_sequences(
    request_id: i32,
    response_to: i32,
    flags: u32,
    body: &RawDocument,
    sequences: &[(&str, &[&RawDocument])],
) -> Bytes {
    let mut out = Vec::with_capacity(HEADER_LEN + 5 + body.as_bytes().len());
    placeholder_header(&mut out, request_id, response_to, OP_MSG);
    out.extend_from_slice(&flags.to_le_bytes());
    out.push(0);
    out.extend_from_slice(body.as_bytes());
    for (identifier, docs) in sequences {
        out.push(1);
        let size_at = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(identifier.as_bytes());
        out.push(0);
        for d in docs.iter() {
            out.extend_from_slice(d.as_bytes());
        }
        let size = out.len() - size_at;
        patch_i32(&mut out, size_at, size);
    }
    if flags & FLAG_CHECKSUM_PRESENT != 0 {
        // The checksum covers the final length, so fix the length first.
        let len = out.len() + 4;
        patch_i32(&mut out, 0, len);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    let len = out.len();
    patch_i32(&mut out, 0, len);
    Bytes::from(out)
}

/// Encodes an OP_REPLY carrying one document, cursorID 0, startingFrom 0, flags AwaitCapable:
/// the shape of mongod's answer to an OP_QUERY command.
pub fn encode_op_reply(request_id: i32, response_to: i32, doc: &RawDocument) -> Bytes {
    encode_op_reply_flags(request_id, response_to, AWAIT_CAPABLE, doc)
}

/// `encode_op_reply` with chosen responseFlags (e.g. QueryFailure for a `$err` document).
pub fn encode_op_reply_flags(
    request_id: i32,
    response_to: i32,
    flags: i32,
    doc: &RawDocument,
) -> Bytes {
    let mut out = Vec::with_capacity(HEADER_LEN + 20 + doc.as_bytes().len());
    placeholder_header(&mut out, request_id, response_to, OP_REPLY);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0i64.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(doc.as_bytes());
    let len = out.len();
    patch_i32(&mut out, 0, len);
    Bytes::from(out)
}

/// Sets requestID and responseTo of an encoded message in place (header fields only). A slice
/// shorter than a header is left alone. Note: an OP_MSG checksum covers the header, so a
/// checksummed message needs its checksum recomputed after this (see `reseal_checksum`).
pub fn set_ids(message: &mut [u8], request_id: i32, response_to: i32) {
    if let Some(slot) = message.get_mut(4..8) {
        slot.copy_from_slice(&request_id.to_le_bytes());
    }
    if let Some(slot) = message.get_mut(8..12) {
        slot.copy_from_slice(&response_to.to_le_bytes());
    }
}

/// Recomputes the trailing CRC-32C of an OP_MSG that has checksumPresent set (after `set_ids`).
/// Returns false (and changes nothing) if the message is not such an OP_MSG.
pub fn reseal_checksum(message: &mut [u8]) -> bool {
    let Ok(header) = Header::parse(message) else {
        return false;
    };
    let flags = message
        .get(HEADER_LEN..HEADER_LEN + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    let Some(end) = message.len().checked_sub(4) else {
        return false;
    };
    if header.op_code != OP_MSG
        || flags.is_none_or(|f| f & FLAG_CHECKSUM_PRESENT == 0)
        || end < HEADER_LEN + 4
    {
        return false;
    }
    let crc = crc32c::crc32c(message.get(..end).unwrap_or_default());
    match message.get_mut(end..) {
        Some(slot) if slot.len() == 4 => {
            slot.copy_from_slice(&crc.to_le_bytes());
            true
        }
        _ => false,
    }
}

fn placeholder_header(out: &mut Vec<u8>, request_id: i32, response_to: i32, op_code: i32) {
    Header {
        length: 0,
        request_id,
        response_to,
        op_code,
    }
    .write_to(out);
}

/// Writes `value` as int32 at `at`; lengths beyond i32 cannot occur for messages built from
/// documents of at most 16 MiB, and saturate rather than panic if they ever did.
fn patch_i32(out: &mut [u8], at: usize, value: usize) {
    let v = i32::try_from(value).unwrap_or(i32::MAX);
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&v.to_le_bytes());
    }
}
