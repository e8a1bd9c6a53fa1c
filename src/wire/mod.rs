//! The MongoDB wire-protocol codec: framing, strict decoding of client requests (OP_MSG,
//! OP_QUERY, OP_COMPRESSED) and upstream replies (OP_MSG, OP_REPLY, OP_COMPRESSED), and the few
//! encoders the proxy needs. Pure: no I/O. All integers are little-endian.
//!
//! The decoder reads a command the way mongod does, so that what the proxy authorizes is what
//! mongod executes; anything ambiguous or malformed is an error, never a panic.

mod bsoncheck;
mod compression;
pub mod elements;
mod encode;
mod error;
mod header;
mod msg;
mod peek;
mod query;
mod reply;
#[cfg(test)]
mod tests;

pub use compression::{compress, decompress, Compressor};
pub use encode::{
    encode_op_msg, encode_op_msg_with_sequences, encode_op_reply, encode_op_reply_flags,
    reseal_checksum, set_ids, REPLY_QUERY_FAILURE,
};
pub use error::WireError;
pub use header::{frame_length, min_message_len, Header};
pub use msg::{
    DocSequence, Documents, OpMsg, FLAG_CHECKSUM_PRESENT, FLAG_EXHAUST_ALLOWED, FLAG_MORE_TO_COME,
    MAX_SEQUENCES,
};
pub use peek::{peek_reply, ReplyPeek};
pub use query::OpQuery;
pub use reply::OpReply;

use bson::{RawDocument, RawDocumentBuf};
use bytes::Bytes;
use msg::Direction;
use std::ops::Range;
use std::sync::LazyLock;

pub const HEADER_LEN: usize = 16;
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 48_000_000;
pub const DEFAULT_MAX_BSON_OBJECT_SIZE: usize = 16 * 1024 * 1024;
pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_COMPRESSED: i32 = 2012;
pub const OP_MSG: i32 = 2013;

/// mongod lets its own reply documents exceed the user object limit by this much
/// (BSONObjMaxInternalSize = 16 MiB + 16 KiB), so replies get the slack.
const REPLY_SLACK: usize = 16 * 1024;

/// Limits the decoder enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_bson_object_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_bson_object_size: DEFAULT_MAX_BSON_OBJECT_SIZE,
        }
    }
}

/// A client request.
#[derive(Clone, Debug)]
pub enum Request {
    Msg(OpMsg),
    Query(OpQuery),
}

/// An upstream reply.
#[derive(Clone, Debug)]
pub enum Reply {
    Msg(OpMsg),
    Reply(OpReply),
}

/// Decodes a client request (the whole frame, header included). OP_COMPRESSED is decompressed
/// first (its declared size checked before allocating) and remembered in `compressor()`.
pub fn decode_request(frame: Bytes, limits: &Limits) -> Result<Request, WireError> {
    let header = header::check_frame(&frame, limits.max_message_size)?;
    let (bytes, compressor) = match header.op_code {
        OP_COMPRESSED => {
            let (b, c) = decompress(&frame, limits.max_message_size, &[OP_MSG, OP_QUERY])?;
            (b, Some(c))
        }
        _ => (frame, None),
    };
    let header = header::check_frame(&bytes, limits.max_message_size)?;
    let max_bson = limits.max_bson_object_size;
    match header.op_code {
        OP_MSG => {
            OpMsg::parse(bytes, header, compressor, Direction::Request, max_bson).map(Request::Msg)
        }
        OP_QUERY => OpQuery::parse(bytes, header, compressor, max_bson).map(Request::Query),
        OP_REPLY => Err(WireError::UnexpectedOpCode {
            op_code: OP_REPLY,
            context: "client request",
        }),
        other => Err(WireError::UnsupportedOpCode(other)),
    }
}

/// Decodes an upstream reply: OP_MSG or OP_REPLY, possibly compressed. `$db` is not required and
/// duplicate fields are not checked (mongod is trusted to build its replies); framing is as strict
/// as for requests.
pub fn decode_reply(frame: Bytes, limits: &Limits) -> Result<Reply, WireError> {
    let header = header::check_frame(&frame, limits.max_message_size)?;
    let (bytes, compressor) = match header.op_code {
        OP_COMPRESSED => {
            let (b, c) = decompress(&frame, limits.max_message_size, &[OP_MSG, OP_REPLY])?;
            (b, Some(c))
        }
        _ => (frame, None),
    };
    let header = header::check_frame(&bytes, limits.max_message_size)?;
    let max_bson = limits.max_bson_object_size.saturating_add(REPLY_SLACK);
    match header.op_code {
        OP_MSG => {
            OpMsg::parse(bytes, header, compressor, Direction::Reply, max_bson).map(Reply::Msg)
        }
        OP_REPLY => OpReply::parse(bytes, header, compressor, max_bson).map(Reply::Reply),
        OP_QUERY => Err(WireError::UnexpectedOpCode {
            op_code: OP_QUERY,
            context: "server reply",
        }),
        other => Err(WireError::UnsupportedOpCode(other)),
    }
}

/// An empty document, returned only if a stored range were ever invalid (it cannot be: every
/// range is validated at decode time over immutable bytes); this keeps accessors panic-free.
static EMPTY_DOC: LazyLock<RawDocumentBuf> = LazyLock::new(RawDocumentBuf::new);

/// The document at a range validated at decode time.
pub(crate) fn raw_doc<'a>(bytes: &'a [u8], r: &Range<usize>) -> &'a RawDocument {
    bytes
        .get(r.clone())
        .and_then(|b| RawDocument::from_bytes(b).ok())
        .unwrap_or_else(|| &EMPTY_DOC)
}

/// The UTF-8 string at a range validated at decode time ("" if it ever were not).
pub(crate) fn str_at<'a>(bytes: &'a [u8], r: &Range<usize>) -> &'a str {
    bytes
        .get(r.clone())
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default()
}

/// Fuzzing entry (`fuzz/fuzz_targets/wire_frames.rs`): the codec on arbitrary bytes in both
/// directions (OP_MSG, OP_QUERY, OP_COMPRESSED), and every accessor of what decodes.
/// Must never panic.
pub fn fuzz_logic(data: &[u8]) {
    let limits = Limits::default();
    let frame = Bytes::copy_from_slice(data);
    match decode_request(frame.clone(), &limits) {
        Ok(Request::Msg(m)) => {
            let _ = (m.command_name(), m.db(), m.more_to_come(), m.compressor());
            for s in m.sequences() {
                let _ = s.identifier();
                for d in s.documents() {
                    let _ = d.as_bytes().len();
                }
            }
        }
        Ok(Request::Query(q)) => {
            let _ = (q.command_name(), q.full_collection_name(), q.query());
            let _ = q.return_fields_selector();
        }
        Err(_) => {}
    }
    let _ = peek_reply(data);
    if let Ok(Reply::Msg(m)) = decode_reply(frame, &limits) {
        let _ = (m.body().as_bytes().len(), m.more_to_come());
    }
}
