//! A cheap look at an upstream reply on the hot path: the OP_MSG flags and the body as a
//! raw document, without validating every element. The proxy only reads `cursor.id` and
//! `cursor.ns` from replies it relays unchanged (the driver validates the rest), so full
//! validation of, say, a 16 MiB find batch would be work done for nothing.

use bson::RawDocument;

use super::{FLAG_MORE_TO_COME, HEADER_LEN, OP_MSG};

/// What the relay path needs from a reply.
#[derive(Debug)]
pub struct ReplyPeek<'a> {
    pub more_to_come: bool,
    /// The kind-0 section; only its outer length is checked (fields are read lazily and
    /// fail softly).
    pub body: &'a RawDocument,
}

fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(i32::from_le_bytes(s))
}

/// Peeks at an uncompressed OP_MSG reply whose first section is the body (as servers
/// send it). Anything else (OP_REPLY, OP_COMPRESSED, a sequence first) returns None and
/// the caller falls back to the full decoder.
pub fn peek_reply(frame: &[u8]) -> Option<ReplyPeek<'_>> {
    if le_i32(frame, 12)? != OP_MSG || le_i32(frame, 0)? as usize != frame.len() {
        return None;
    }
    let flags = u32::from_le_bytes(frame.get(HEADER_LEN..HEADER_LEN + 4)?.try_into().ok()?);
    let kind_at = HEADER_LEN + 4;
    if *frame.get(kind_at)? != 0 {
        return None;
    }
    let start = kind_at + 1;
    let len = usize::try_from(le_i32(frame, start)?).ok()?;
    let body = RawDocument::from_bytes(frame.get(start..start.checked_add(len)?)?).ok()?;
    Some(ReplyPeek {
        more_to_come: flags & FLAG_MORE_TO_COME != 0,
        body,
    })
}

#[cfg(test)]
mod tests;
