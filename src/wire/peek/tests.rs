use super::*;
use bson::rawdoc;

#[test]
fn peeks_flags_and_body_and_refuses_the_rest() {
    let body = rawdoc! {"cursor": {"id": 5_i64, "ns": "a.b"}, "ok": 1.0};
    let msg = crate::wire::encode_op_msg(1, 2, FLAG_MORE_TO_COME, &body);
    let p = peek_reply(&msg).unwrap();
    assert!(p.more_to_come);
    assert_eq!(
        p.body
            .get_document("cursor")
            .unwrap()
            .get_i64("id")
            .unwrap(),
        5
    );
    let plain = crate::wire::encode_op_msg(1, 2, 0, &body);
    assert!(!peek_reply(&plain).unwrap().more_to_come);
    for cut in 0..plain.len() {
        assert!(peek_reply(&plain[..cut]).is_none(), "prefix {cut}");
    }
    let reply = crate::wire::encode_op_reply(1, 2, &body);
    assert!(peek_reply(&reply).is_none());
}
