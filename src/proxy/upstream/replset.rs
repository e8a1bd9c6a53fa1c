//! Replica sets: which upstream host is the primary (`inspect` reads the replies that say
//! it no longer is).
//!
//! The proxy keeps one upstream connection per client connection; after a failover that
//! connection is dropped and the next request finds the new primary (`Cluster::connect`).
//! The client sees the server's own error (drivers retry NotWritablePrimary and friends)
//! or, when the connection was lost, a HostUnreachable with RetryableWriteError.

use bson::RawDocument;

/// `isWritablePrimary` (or the legacy `ismaster`) in a hello reply.
pub fn is_writable_primary(hello: &RawDocument) -> bool {
    hello
        .get_bool("isWritablePrimary")
        .or_else(|_| hello.get_bool("ismaster"))
        .unwrap_or(false)
}

/// Whether a hello answer comes from a mongos (what drivers read to call a server
/// `Mongos`, server-discovery-and-monitoring spec).
pub fn is_mongos(hello: &RawDocument) -> bool {
    hello.get_str("msg") == Ok("isdbgrid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn primary_from_hello() {
        assert!(is_writable_primary(&rawdoc! {"isWritablePrimary": true}));
        assert!(is_writable_primary(&rawdoc! {"ismaster": true}));
        assert!(!is_writable_primary(
            &rawdoc! {"isWritablePrimary": false, "secondary": true}
        ));
    }

    #[test]
    fn mongos_from_hello() {
        assert!(is_mongos(
            &rawdoc! {"isWritablePrimary": true, "msg": "isdbgrid"}
        ));
        assert!(!is_mongos(
            &rawdoc! {"isWritablePrimary": true, "setName": "rs0"}
        ));
        assert!(!is_mongos(&rawdoc! {"msg": 1}));
    }
}
