//! Request ids on pooled upstream connections: one upstream connection carries many
//! clients' requests, so the proxy numbers them itself on the way up and makes each reply
//! answer the client's own request on the way down. Only the header changes (and the
//! OP_MSG checksum, which covers it); the checked body is forwarded byte for byte. Pure.

use bytes::{Bytes, BytesMut};

use crate::wire;

/// A copy of a request numbered `id` for the upstream (checksum recomputed if present).
pub fn renumbered(message: &[u8], id: i32, response_to: i32) -> Vec<u8> {
    let mut out = message.to_vec();
    wire::set_ids(&mut out, id, response_to);
    wire::reseal_checksum(&mut out);
    out
}

/// An upstream reply to the proxy's request `upstream_id`, made the answer to the client's
/// `client_id`. Later replies of an exhaust stream answer the reply before them (the
/// upstream's own ids, which the client saw), so only a reply to `upstream_id` changes.
pub fn answer_to(frame: Bytes, upstream_id: i32, client_id: i32) -> Bytes {
    match wire::Header::parse(&frame) {
        Ok(h) if h.response_to == upstream_id => {
            let mut out = BytesMut::from(&frame[..]);
            wire::set_ids(&mut out, h.request_id, client_id);
            wire::reseal_checksum(&mut out);
            out.freeze()
        }
        _ => frame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;
    use wire::{encode_op_msg, Limits, FLAG_CHECKSUM_PRESENT};

    fn ids(frame: &[u8]) -> (i32, i32) {
        let h = wire::Header::parse(frame).unwrap();
        (h.request_id, h.response_to)
    }

    #[test]
    fn a_request_gets_the_proxys_id_and_keeps_its_body_and_checksum() {
        let body = rawdoc! {"find": "c", "$db": "d"};
        for flags in [0, FLAG_CHECKSUM_PRESENT] {
            let original = encode_op_msg(7, 0, flags, &body);
            let out = renumbered(&original, 1 << 24, 0);
            assert_eq!(ids(&out), (1 << 24, 0));
            assert_eq!(out[16..out.len() - 4], original[16..original.len() - 4]);
            // decode_request verifies a checksum when the flag says there is one.
            let decoded = wire::decode_request(Bytes::from(out), &Limits::default());
            assert!(decoded.is_ok(), "flags {flags}: {decoded:?}");
        }
    }

    #[test]
    fn only_the_reply_to_the_proxys_request_is_mapped_back() {
        let body = rawdoc! {"ok": 1.0};
        let table = [
            // (reply's responseTo, expected responseTo after mapping)
            (500, 7),   // answers the proxy's request 500: the client's 7
            (901, 901), // a later exhaust reply answering the reply 901: unchanged
            (7, 7),     // anything else: unchanged
        ];
        for flags in [0, FLAG_CHECKSUM_PRESENT] {
            for (response_to, want) in table {
                let reply = encode_op_msg(42, response_to, flags, &body);
                let out = answer_to(reply.clone(), 500, 7);
                assert_eq!(ids(&out), (42, want));
                assert_eq!(out[16..out.len() - 4], reply[16..reply.len() - 4]);
                let decoded = wire::decode_reply(out, &Limits::default());
                assert!(decoded.is_ok(), "checksum still valid: {decoded:?}");
            }
        }
    }

    #[test]
    fn a_short_frame_is_left_alone() {
        let short = Bytes::from_static(&[1, 2, 3]);
        assert_eq!(answer_to(short.clone(), 0, 1), short);
        assert_eq!(renumbered(&[1, 2, 3], 5, 6), vec![1, 2, 3]);
    }
}
