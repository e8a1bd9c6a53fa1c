//! Replica sets: which upstream host is the primary, and which replies mean it no longer is.
//!
//! The proxy keeps one upstream connection per client connection; after a failover that
//! connection is dropped and the next request finds the new primary (`Cluster::connect`).
//! The client sees the server's own error (drivers retry NotWritablePrimary and friends)
//! or, when the connection was lost, a HostUnreachable with RetryableWriteError.

use bson::RawDocument;
use bytes::Bytes;

use crate::wire;

/// Error codes after which this upstream connection no longer reaches the primary:
/// NotWritablePrimary, InterruptedDueToReplStateChange, PrimarySteppedDown,
/// NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary, ShutdownInProgress,
/// InterruptedAtShutdown.
const NOT_PRIMARY: &[i32] = &[10107, 11602, 189, 13435, 13436, 91, 11600];

/// `isWritablePrimary` (or the legacy `ismaster`) in a hello reply.
pub fn is_writable_primary(hello: &RawDocument) -> bool {
    hello
        .get_bool("isWritablePrimary")
        .or_else(|_| hello.get_bool("ismaster"))
        .unwrap_or(false)
}

/// Whether an upstream reply says the server stopped being (or never was) the primary.
pub fn lost_primary(frame: &Bytes) -> bool {
    let Some(p) = wire::peek_reply(frame) else {
        return false;
    };
    let code = |d: &RawDocument| d.get_i32("code").ok();
    let wce = p.body.get_document("writeConcernError").ok().and_then(code);
    [code(p.body), wce]
        .into_iter()
        .flatten()
        .any(|c| NOT_PRIMARY.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    fn frame(body: &RawDocument) -> Bytes {
        wire::encode_op_msg(1, 2, 0, body)
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
    fn primary_from_hello() {
        assert!(is_writable_primary(&rawdoc! {"isWritablePrimary": true}));
        assert!(is_writable_primary(&rawdoc! {"ismaster": true}));
        assert!(!is_writable_primary(
            &rawdoc! {"isWritablePrimary": false, "secondary": true}
        ));
    }
}
