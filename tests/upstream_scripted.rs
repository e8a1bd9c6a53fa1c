//! Issue 15 §3 groundwork: exhaust and tailable cursors, fire-and-forget writes and
//! upstream faults, through a real mongoward (TLS, SCRAM) and real clients, against the
//! in-repo scripted upstream (`common/scripted_upstream`), because the harness's upstream
//! (nx-27017) has neither exhaust nor tailable cursors nor faults on demand. These run in
//! today's connection mode; the same tests are to be re-run in pool mode.

mod common;
#[path = "upstream_scripted/faults.rs"]
mod faults;
#[path = "common/scripted_upstream/mod.rs"]
mod scripted_upstream;

use std::process::Command;
use std::time::Duration;

use bson::{doc, rawdoc, Document, RawDocumentBuf};
use common::auth::failure;
use common::raw::RawClient;
use common::{certs, config_text, run_client, tool, Proxy};
use futures_util::TryStreamExt;
use mongodb::Client;
use mongoward::wire::{
    encode_op_msg, FLAG_CHECKSUM_PRESENT, FLAG_EXHAUST_ALLOWED, FLAG_MORE_TO_COME,
};
use scripted_upstream::replies::{cursor_id, decode, ns_of};
use scripted_upstream::ScriptedUpstream;
use tokio::time::timeout;

/// The proxy's reply timeout in these tests (`reply_timeout_secs`).
const REPLY_TIMEOUT_SECS: u64 = 2;
/// The bound on every wait: far above the reply timeout, far below a hang.
const BOUND: Duration = Duration::from_secs(20);

async fn proxy(up: &ScriptedUpstream) -> Proxy {
    let certs = certs();
    let text = config_text(&certs, &up.uri(), "").replace(
        "name = \"default\"\n",
        &format!(
            "name = \"default\"\nconnect_timeout_secs = 5\nreply_timeout_secs = {REPLY_TIMEOUT_SECS}\n"
        ),
    );
    Proxy::start_with(certs, &text).await
}

async fn login(proxy: &Proxy) -> RawClient {
    common::auth::app_login(proxy).await
}

async fn driver(proxy: &Proxy) -> Client {
    Client::with_uri_str(proxy.uri("")).await.expect("client")
}

/// One command on a raw client, bounded.
async fn command(c: &mut RawClient, body: &bson::RawDocument) -> RawDocumentBuf {
    common::auth::command_within(c, body, BOUND).await
}

async fn seed(c: &mut RawClient, coll: &str, n: i32) {
    common::auth::seed_shop(c, coll, n, BOUND).await
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_find_over_several_batches_returns_every_document() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let c = driver(&proxy).await;
    let coll = c.database("shop").collection::<Document>("items");
    let all = insert_then_find(&coll, (0..25).map(|i| doc! {"_id": i, "n": i}).collect(), 4).await;
    let ns: Vec<i32> = all.iter().map(|d| d.get_i32("n").unwrap()).collect();
    assert_eq!(ns, (0..25).collect::<Vec<_>>(), "every document, in order");
    assert!(
        up.seen("getMore") >= 6,
        "25 documents in batches of 4 need 6 getMores"
    );
    assert_eq!(up.open_cursors(), 0, "the cursor ran to its end");
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_tailable_await_cursor_receives_a_later_insert() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    scripted_upstream::scenarios::tailable_await_receives_a_later_insert(&up, &proxy, BOUND).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exhaust_get_more_streams_every_batch_through_the_proxy() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    seed(&mut c, "stream", 10).await;
    let first = command(
        &mut c,
        &rawdoc! {"find": "stream", "batchSize": 2, "$db": "shop"},
    )
    .await;
    assert_eq!(ns_of(&first, "firstBatch"), vec![0, 1]);
    let id = cursor_id(&first);
    assert_ne!(id, 0);
    let request = c.next_id();
    let more = rawdoc! {"getMore": id, "collection": "stream", "batchSize": 3, "$db": "shop"};
    c.send(&encode_op_msg(request, 0, FLAG_EXHAUST_ALLOWED, &more))
        .await;
    let mut answers = request;
    let mut got = Vec::new();
    let mut flags_seen = Vec::new();
    loop {
        let frame = timeout(BOUND, c.read_frame()).await.expect("in time");
        let (rid, response_to, flags, body) = decode(frame.expect("a reply, not a close"));
        assert_eq!(response_to, answers, "each reply answers the one before it");
        got.extend(ns_of(&body, "nextBatch"));
        flags_seen.push(flags & FLAG_MORE_TO_COME != 0);
        answers = rid;
        if flags & FLAG_MORE_TO_COME == 0 {
            assert_eq!(cursor_id(&body), 0, "the last reply closes the cursor");
            break;
        }
        assert_ne!(
            cursor_id(&body),
            0,
            "a moreToCome reply keeps the cursor open"
        );
    }
    assert_eq!(got, (2..10).collect::<Vec<_>>(), "every batch, in order");
    assert_eq!(flags_seen, vec![true, true, false], "3 + 3 + 2 documents");
    assert_eq!(
        up.seen("getMore"),
        1,
        "one getMore asked for the whole stream"
    );
    let ping = command(&mut c, &rawdoc! {"ping": 1, "$db": "admin"}).await;
    assert!(
        failure(&ping).is_none(),
        "the connection works after the stream: {ping:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fire_and_forget_insert_is_seen_by_the_next_find() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    let id = c.next_id();
    let insert = rawdoc! {"insert": "quiet", "documents": [{"n": 7}], "$db": "shop"};
    c.send(&encode_op_msg(id, 0, FLAG_MORE_TO_COME, &insert))
        .await;
    let find_id = c.next_id();
    let find = rawdoc! {"find": "quiet", "filter": {}, "$db": "shop"};
    c.send(&encode_op_msg(find_id, 0, 0, &find)).await;
    let frame = timeout(BOUND, c.read_frame()).await.expect("in time");
    let (_, response_to, _, body) = decode(frame.expect("a reply"));
    assert_eq!(
        response_to, find_id,
        "the first reply is the find's: the insert got none"
    );
    assert_eq!(ns_of(&body, "firstBatch"), vec![7]);
    assert_eq!(up.seen("insert"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_cursor_over_batches_then_an_explicit_close_kills_it_upstream() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let (v, out) = pymongo_json(common::pymongo::PYMONGO_CURSOR, &proxy).await;
    assert_eq!(v["got"], serde_json::json!([0, 1, 2, 3, 4]), "{out}");
    assert_eq!(v["alive_before"], true, "{out}");
    assert!(up.seen("getMore") >= 1, "the second batch came by getMore");
    assert_eq!(
        up.seen("killCursors"),
        1,
        "close() sent killCursors upstream"
    );
    assert_eq!(up.open_cursors(), 0, "the upstream cursor is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checksummed_request_and_its_checksummed_reply_pass_through() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut c = login(&proxy).await;
    seed(&mut c, "sums", 2).await;
    let id = c.next_id();
    let find = rawdoc! {"find": "sums", "filter": {}, "$db": "shop"};
    c.send(&encode_op_msg(id, 0, FLAG_CHECKSUM_PRESENT, &find))
        .await;
    let frame = timeout(BOUND, c.read_frame()).await.expect("in time");
    // decode_reply verifies the CRC-32C of a checksummed reply.
    let (_, response_to, flags, body) = decode(frame.expect("a reply"));
    assert_eq!(response_to, id);
    assert_eq!(ns_of(&body, "firstBatch"), vec![0, 1], "{body:?}");
    assert_eq!(
        up.checksummed(),
        1,
        "the checksummed find reached the upstream intact"
    );
    assert_eq!(
        flags & FLAG_CHECKSUM_PRESENT,
        FLAG_CHECKSUM_PRESENT,
        "the reply kept its checksum"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_client_traffic_reaches_the_upstream_uncompressed() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let c = Client::with_uri_str(proxy.uri("&compressors=zstd"))
        .await
        .expect("client");
    let coll = c.database("shop").collection::<Document>("packed");
    let all = insert_then_find(&coll, (0..12).map(|i| doc! {"n": i}).collect(), 5).await;
    assert_eq!(all.len(), 12);
    assert!(
        proxy
            .running
            .stats()
            .compressed(mongoward::wire::Compressor::Zstd)
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the client compressed its requests"
    );
    assert_eq!(
        up.compressed(),
        0,
        "the proxy forwards the decompressed bytes it checked"
    );
}

/// Connection mode (today): every client connection holds its own upstream connection,
/// opened on its first forwarded command and closed with it. Pool mode changes this count
/// on purpose; the test then asserts the pool's bound instead.
#[tokio::test(flavor = "multi_thread")]
async fn connection_mode_holds_one_upstream_connection_per_client() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = login(&proxy).await;
        let reply = command(&mut c, &rawdoc! {"find": "held", "$db": "shop"}).await;
        assert!(failure(&reply).is_none(), "{reply:?}");
        clients.push(c);
    }
    assert!(
        up.until(BOUND, |u| u.open() >= 3).await,
        "open: {}",
        up.open()
    );
    assert!(up.peak() >= 3, "peak: {}", up.peak());
    drop(clients);
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "the upstream connections closed with their clients: {} open",
        up.open()
    );
    assert_eq!(up.seen("find"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_exhaust_cursor_reads_every_batch_from_one_get_more() {
    let up = ScriptedUpstream::start().await;
    let proxy = proxy(&up).await;
    let (v, out) = pymongo_json(common::pymongo::PYMONGO_EXHAUST, &proxy).await;
    assert_eq!(
        v["got"],
        serde_json::json!((0..10).collect::<Vec<_>>()),
        "{out}"
    );
    assert_eq!(up.seen("getMore"), 1, "the rest came as one exhaust stream");
    assert_eq!(up.open_cursors(), 0);
}

/// Runs a pymongo script against the proxy and returns the JSON line it printed (with the
/// whole output, for failure messages).
async fn pymongo_json(script: &'static str, proxy: &Proxy) -> (serde_json::Value, String) {
    let mut py = Command::new(tool(".venv/bin/python"));
    py.args(["-c", script, &proxy.uri("")]);
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(py, Duration::from_secs(60)))
        .await
        .expect("pymongo task");
    assert!(ok, "pymongo ran to the end: {out}");
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line");
    let v = serde_json::from_str(line).expect("JSON");
    (v, out)
}

/// Inserts `docs`, then reads the whole collection back in batches of `batch` (so the
/// driver sends getMores), every step bounded by `BOUND`.
async fn insert_then_find(
    coll: &mongodb::Collection<Document>,
    docs: Vec<Document>,
    batch: u32,
) -> Vec<Document> {
    timeout(BOUND, coll.insert_many(docs))
        .await
        .expect("in time")
        .expect("insert_many");
    let find = async {
        coll.find(doc! {})
            .batch_size(batch)
            .await
            .expect("find")
            .try_collect::<Vec<Document>>()
            .await
            .expect("getMore")
    };
    timeout(BOUND, find).await.expect("in time")
}
