//! Faults: the upstream killed mid-request or mid-stream, a reply stalled halfway.

use super::*;

/// The code of an error reply, or None when the proxy closed the connection instead.
async fn error_or_close(c: &mut RawClient) -> Option<i32> {
    let frame = timeout(BOUND, c.read_frame())
        .await
        .expect("an answer or a close, not a hang")?;
    let (_, _, _, body) = decode(frame);
    let (code, msg) = failure(&body).unwrap_or_else(|| panic!("an error, not {body:?}"));
    assert!(!msg.is_empty(), "the error says what happened");
    Some(code)
}

async fn find_works(proxy: &Proxy, coll: &str) -> Vec<i32> {
    let mut fresh = login(proxy).await;
    let body = rawdoc! {"find": coll, "filter": {}, "$db": "shop"};
    let reply = command(&mut fresh, &body).await;
    assert!(
        failure(&reply).is_none(),
        "a new connection works: {reply:?}"
    );
    ns_of(&reply, "firstBatch")
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_killed_mid_request_errors_and_a_new_client_works() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    seed(&mut c, "orders", 3).await;
    up.delay("find", Some(Duration::from_secs(60)));
    let id = c.next_id();
    c.send(&encode_op_msg(
        id,
        0,
        0,
        &rawdoc! {"find": "orders", "$db": "shop"},
    ))
    .await;
    assert!(
        up.until(BOUND, |u| u.seen("find") == 1).await,
        "the find reached the upstream"
    );
    let before = up.accepted();
    up.kill_all();
    let code = error_or_close(&mut c).await;
    // In connection mode the proxy answers HostUnreachable (6) and drops its upstream.
    assert_eq!(code, Some(6), "HostUnreachable for the request in flight");
    up.delay("find", None);
    assert_eq!(find_works(&proxy, "orders").await, vec![0, 1, 2]);
    assert!(
        up.accepted() > before,
        "the proxy opened a new upstream connection"
    );
    let again = command(&mut c, &rawdoc! {"find": "orders", "$db": "shop"}).await;
    assert!(
        failure(&again).is_none(),
        "the first client reconnects too: {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_retries_a_read_once_when_the_upstream_is_killed() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let c = driver(&proxy).await;
    let coll = c.database("shop").collection::<Document>("orders");
    timeout(BOUND, coll.insert_one(doc! {"n": 1}))
        .await
        .expect("in time")
        .expect("insert");
    up.delay("find", Some(Duration::from_secs(60)));
    let reader = coll.clone();
    let pending = tokio::spawn(async move { timeout(BOUND, reader.find_one(doc! {})).await });
    assert!(
        up.until(BOUND, |u| u.seen("find") == 1).await,
        "the find reached the upstream"
    );
    up.delay("find", None);
    up.kill_all();
    let outcome = pending
        .await
        .expect("task")
        .expect("an outcome, not a hang");
    // The proxy answers HostUnreachable (6), a retryable code: the driver retries the
    // read once and the retry meets the live upstream through a new upstream connection.
    let found = outcome.expect("the retried read succeeds");
    assert_eq!(found.and_then(|d| d.get_i32("n").ok()), Some(1));
    assert_eq!(
        up.seen("find"),
        2,
        "one find and one retry reached the upstream"
    );
    let fresh = driver(&proxy).await;
    let found = timeout(
        BOUND,
        fresh
            .database("shop")
            .collection::<Document>("orders")
            .find_one(doc! {}),
    )
    .await
    .expect("in time")
    .expect("a new client works");
    assert_eq!(found.and_then(|d| d.get_i32("n").ok()), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_stalled_halfway_errors_within_the_reply_timeout() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    seed(&mut c, "orders", 2).await;
    up.stall("find", Some(0));
    let id = c.next_id();
    c.send(&encode_op_msg(
        id,
        0,
        0,
        &rawdoc! {"find": "orders", "$db": "shop"},
    ))
    .await;
    let code = error_or_close(&mut c).await;
    // Half a frame is no reply: the proxy's reply timeout ends the wait (MaxTimeMSExpired).
    assert_eq!(code, Some(50), "MaxTimeMSExpired after reply_timeout_secs");
    up.stall("find", None);
    assert_eq!(find_works(&proxy, "orders").await, vec![0, 1]);
}

/// Reads an exhaust stream (each reply answering the one before it), inserting one document
/// after the first empty batch, until a batch holds documents: (that batch, the last
/// reply's requestID, the empty replies before it).
async fn stream_until_insert(
    c: &mut RawClient,
    writer: &mut RawClient,
    request: i32,
) -> (Vec<i32>, i32, usize) {
    let (mut last, mut empty_replies) = (request, 0);
    loop {
        let frame = timeout(BOUND, c.read_frame()).await.expect("in time");
        let (rid, response_to, flags, body) = decode(frame.expect("a reply"));
        assert_eq!(response_to, last, "each reply answers the one before it");
        last = rid;
        assert_eq!(flags & FLAG_MORE_TO_COME, FLAG_MORE_TO_COME, "{body:?}");
        let batch = ns_of(&body, "nextBatch");
        if !batch.is_empty() {
            return (batch, last, empty_replies);
        }
        if empty_replies == 0 {
            seed(writer, "oplog", 1).await;
        }
        empty_replies += 1;
    }
}

/// An exhaust getMore on a tailable awaitData cursor streams forever (as mongod does for
/// oplog tailing): an empty `moreToCome` reply after each await, a document soon after it is
/// inserted. Then the upstream is killed mid-stream.
#[tokio::test(flavor = "multi_thread")]
async fn exhaust_tailable_stream_delivers_inserts_until_the_upstream_dies() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    let find = rawdoc! {"find": "oplog", "tailable": true, "awaitData": true, "$db": "shop"};
    let first = command(&mut c, &find).await;
    let id = cursor_id(&first);
    assert_ne!(id, 0, "a tailable cursor stays open on an empty collection");
    let request = c.next_id();
    let more = rawdoc! {"getMore": id, "collection": "oplog", "maxTimeMS": 100, "$db": "shop"};
    c.send(&encode_op_msg(request, 0, FLAG_EXHAUST_ALLOWED, &more))
        .await;
    let mut writer = login(&proxy).await;
    let (got, last, empty_replies) = stream_until_insert(&mut c, &mut writer, request).await;
    assert_eq!(got, vec![0], "the inserted document arrived on the stream");
    assert!(empty_replies >= 1);
    assert_eq!(
        up.seen("getMore"),
        1,
        "one getMore asked for the whole stream"
    );
    up.kill_all();
    // Mid-stream the client waits for the next streamed reply; an error reply could not
    // continue the OP_MSG chain (its responseTo would be the getMore's, not the last
    // reply's), so the proxy closes the client connection, as for a timeout mid-stream.
    let frame = timeout(BOUND, c.read_frame())
        .await
        .expect("a close, not a hang");
    assert!(
        frame.is_none(),
        "closed mid-stream after reply {last}, no reply outside the chain: {frame:?}"
    );
    let mut again = login(&proxy).await;
    let ping = command(&mut again, &rawdoc! {"ping": 1, "$db": "admin"}).await;
    assert!(failure(&ping).is_none(), "a new connection works: {ping:?}");
}

/// A reply stalled in the middle of an exhaust stream: the proxy's reply timeout ends the
/// wait, and as the client asked nothing it could answer, the proxy closes its connection.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_stalled_halfway_closes_the_client_after_the_reply_timeout() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    seed(&mut c, "stream", 10).await;
    let first = command(
        &mut c,
        &rawdoc! {"find": "stream", "batchSize": 2, "$db": "shop"},
    )
    .await;
    let id = cursor_id(&first);
    up.stall("getMore", Some(1));
    let request = c.next_id();
    let more = rawdoc! {"getMore": id, "collection": "stream", "batchSize": 2, "$db": "shop"};
    c.send(&encode_op_msg(request, 0, FLAG_EXHAUST_ALLOWED, &more))
        .await;
    let frame = timeout(BOUND, c.read_frame()).await.expect("in time");
    let (_, _, flags, body) = decode(frame.expect("the first streamed reply"));
    assert_eq!(ns_of(&body, "nextBatch"), vec![2, 3]);
    assert_eq!(flags & FLAG_MORE_TO_COME, FLAG_MORE_TO_COME);
    let next = timeout(BOUND, c.read_frame())
        .await
        .expect("a close, not a hang");
    assert!(
        next.is_none(),
        "closed mid-stream, no half reply passed on: {next:?}"
    );
    up.stall("getMore", None);
    assert_eq!(find_works(&proxy, "stream").await.len(), 10);
}
