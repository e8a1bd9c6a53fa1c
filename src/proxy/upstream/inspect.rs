//! What the proxy reads from an upstream reply it relays unchanged: the cursor id (for
//! cursor ownership), whether more replies follow (exhaust), and whether the server says
//! it is no longer the primary. One pass over the reply's top-level fields, decoding only
//! those three; the driver validates the rest.

use bson::RawDocument;

use crate::error_code::ErrorCode;
use crate::wire::elements::{self, Element};
use crate::wire::peek_reply;

/// Error codes after which this upstream connection no longer reaches the primary.
const NOT_PRIMARY: [i32; 7] = [
    ErrorCode::NotWritablePrimary.code(),
    ErrorCode::InterruptedDueToReplStateChange.code(),
    ErrorCode::PrimarySteppedDown.code(),
    ErrorCode::NotPrimaryNoSecondaryOk.code(),
    ErrorCode::NotPrimaryOrSecondary.code(),
    ErrorCode::ShutdownInProgress.code(),
    ErrorCode::InterruptedAtShutdown.code(),
];

/// The facts of one reply.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplyFacts<'a> {
    /// `cursor.id` and `cursor.ns`, when the reply carries a cursor.
    pub cursor: Option<(i64, &'a str)>,
    /// moreToCome: the server streams another reply (exhaust).
    pub more_to_come: bool,
    /// The reply's `code` or `writeConcernError.code` says the primary stepped down.
    pub not_primary: bool,
}

/// Facts of an uncompressed OP_MSG reply (what servers send); None for anything else,
/// which the caller reads with the full decoder.
pub fn peek(frame: &[u8]) -> Option<ReplyFacts<'_>> {
    let p = peek_reply(frame)?;
    Some(ReplyFacts {
        more_to_come: p.more_to_come,
        ..facts(p.body)
    })
}

/// Facts of a reply body.
pub fn facts(body: &RawDocument) -> ReplyFacts<'_> {
    let mut f = ReplyFacts::default();
    for e in elements::elements(body.as_bytes()).map_while(Result::ok) {
        match e.key {
            b"cursor" => f.cursor = e.as_document().and_then(cursor_fields),
            b"code" => f.not_primary |= is_not_primary(&e),
            b"writeConcernError" => {
                let code = e
                    .as_document()
                    .and_then(|d| elements::get(d.as_bytes(), "code"));
                f.not_primary |= code.is_some_and(|c| is_not_primary(&c));
            }
            _ => {}
        }
    }
    f
}

fn cursor_fields(cursor: &RawDocument) -> Option<(i64, &str)> {
    let mut id = None;
    let mut ns = "";
    for e in elements::elements(cursor.as_bytes()).map_while(Result::ok) {
        match e.key {
            b"id" => id = e.as_i64().or_else(|| e.as_i32().map(i64::from)),
            b"ns" => ns = e.as_str().unwrap_or(""),
            _ => {}
        }
    }
    Some((id?, ns))
}

fn is_not_primary(code: &Element<'_>) -> bool {
    code.as_i32().is_some_and(|c| NOT_PRIMARY.contains(&c))
}

/// Whether an upstream reply frame says the server stopped being (or never was) the primary.
pub fn lost_primary(frame: &[u8]) -> bool {
    peek(frame).is_some_and(|f| f.not_primary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;
    use bson::rawdoc;

    fn frame(body: &RawDocument) -> bytes::Bytes {
        wire::encode_op_msg(1, 2, 0, body)
    }

    #[test]
    fn reads_int64_and_int32_ids() {
        let d =
            rawdoc! {"cursor": {"firstBatch": [{"_id": 1}], "id": 42_i64, "ns": "a.b"}, "ok": 1.0};
        assert_eq!(facts(&d).cursor, Some((42, "a.b")));
        let d = rawdoc! {"cursor": {"id": 7_i32, "ns": "a.b"}, "ok": 1.0};
        assert_eq!(facts(&d).cursor, Some((7, "a.b")));
        assert_eq!(facts(&rawdoc! {"ok": 1.0}).cursor, None);
        assert_eq!(facts(&rawdoc! {"cursor": {"id": "x"}}).cursor, None);
    }

    #[test]
    fn step_down_codes_are_recognised() {
        let stepped = rawdoc! {"ok": 0.0, "code": 10107, "codeName": "NotWritablePrimary"};
        assert!(lost_primary(&frame(&stepped)));
        let wce = rawdoc! {"ok": 1.0, "n": 1, "writeConcernError": {"code": 189}};
        assert!(lost_primary(&frame(&wce)));
        let dup = rawdoc! {"ok": 0.0, "code": 11000};
        assert!(!lost_primary(&frame(&dup)));
        assert!(!lost_primary(&frame(&rawdoc! {"ok": 1.0})));
    }

    #[test]
    fn flags_come_from_the_frame() {
        let body = rawdoc! {"cursor": {"id": 3_i64, "ns": "a.b", "nextBatch": []}, "ok": 1.0};
        let exhaust = wire::encode_op_msg(1, 2, wire::FLAG_MORE_TO_COME, &body);
        let Some(f) = peek(&exhaust) else {
            panic!("an OP_MSG")
        };
        assert!(f.more_to_come);
        assert_eq!(f.cursor, Some((3, "a.b")));
        assert!(peek(b"not a frame").is_none());
    }
}
