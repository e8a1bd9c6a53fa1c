//! What tests read out of the replies mongoward relays from the double.

use bson::RawDocumentBuf;
use mongoward::wire;

/// A decoded OP_MSG reply: (requestID, responseTo, flags, body).
pub fn decode(frame: Vec<u8>) -> (i32, i32, u32, RawDocumentBuf) {
    match wire::decode_reply(frame.into(), &Default::default()).expect("a valid reply") {
        wire::Reply::Msg(m) => (
            m.header().request_id,
            m.header().response_to,
            m.flags(),
            m.body().to_raw_document_buf(),
        ),
        wire::Reply::Reply(_) => panic!("an OP_MSG request must get an OP_MSG reply"),
    }
}

/// The `n` values of a cursor batch.
pub fn ns_of(body: &RawDocumentBuf, key: &str) -> Vec<i32> {
    let cursor = body.get_document("cursor").expect("a cursor");
    cursor
        .get_array(key)
        .expect("a batch")
        .into_iter()
        .map(|d| d.unwrap().as_document().unwrap().get_i32("n").unwrap())
        .collect()
}

pub fn cursor_id(body: &RawDocumentBuf) -> i64 {
    body.get_document("cursor").unwrap().get_i64("id").unwrap()
}
