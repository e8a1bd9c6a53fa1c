//! Issue 15 §2/§3: `mode = "request"`, where client connections share a pool of upstream
//! connections. Real mongoward (TLS, SCRAM), real clients (the Rust driver, pymongo, a raw
//! wire client) and the in-repo scripted upstream (`common/scripted_upstream`), whose
//! connection counters show what the pool really opened.

#[path = "upstream_pooled/clients.rs"]
mod clients;
mod common;
#[path = "upstream_pooled/faults.rs"]
mod faults;
#[path = "upstream_pooled/mongos.rs"]
mod mongos;
#[path = "common/scripted_upstream/mod.rs"]
mod scripted_upstream;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use bson::{doc, rawdoc, Document, RawDocumentBuf};
use common::auth::{failure, raw_auth};
use common::raw::RawClient;
use common::{certs, config_text, eventually, run_client, tool, Proxy, APP_PASSWORD, APP_USER};
use mongodb::Client;
use mongoward::gates::credentials::Mechanism;
use mongoward::wire::{
    encode_op_msg, FLAG_CHECKSUM_PRESENT, FLAG_EXHAUST_ALLOWED, FLAG_MORE_TO_COME,
};
use scripted_upstream::replies::{cursor_id, decode, ns_of};
use scripted_upstream::ScriptedUpstream;
use tokio::time::timeout;

/// The proxy's reply timeout in these tests (`reply_timeout_secs`).
const REPLY_TIMEOUT_SECS: u64 = 2;
/// The bound on every wait: far above the timeouts configured, far below a hang.
const BOUND: Duration = Duration::from_secs(30);

/// A proxy whose one cluster runs in request mode with this `pool` table, once its startup
/// probe came and went.
async fn pooled(up: &ScriptedUpstream, pool: &str) -> Proxy {
    let proxy = start_pooled(up, pool).await;
    // The startup probe opens one connection of its own and closes it; counts below are
    // of the connections opened after it (`opened`).
    assert!(
        up.until(BOUND, |u| u.accepted() == 1 && u.open() == 0)
            .await,
        "the startup probe came and went"
    );
    proxy
}

/// The same, returned as soon as it listens.
async fn start_pooled(up: &ScriptedUpstream, pool: &str) -> Proxy {
    let certs = certs();
    let text = config_text(&certs, &up.uri(), "").replace(
        "name = \"default\"\n",
        &format!(
            "name = \"default\"\nconnect_timeout_secs = 5\nreply_timeout_secs = {REPLY_TIMEOUT_SECS}\npool = {{ mode = \"request\", {pool} }}\n"
        ),
    );
    Proxy::start_with(certs, &text).await
}

/// The proxy's view of its pool (as the metrics read it), after a first pooled request.
fn pool_stats(proxy: &Proxy) -> mongoward::proxy::upstream::pool::Stats {
    let view = proxy
        .running
        .stats()
        .cluster("default")
        .pool
        .load_full()
        .expect("the pool is registered by its first lease");
    (view.0)().expect("the pool is alive")
}

/// Upstream connections opened since the startup probe.
fn opened(up: &ScriptedUpstream) -> usize {
    up.accepted() - 1
}

async fn login(proxy: &Proxy) -> RawClient {
    common::auth::app_login(proxy).await
}

/// One command on a raw client, bounded.
async fn command(c: &mut RawClient, body: &bson::RawDocument) -> RawDocumentBuf {
    common::auth::command_within(c, body, BOUND).await
}

/// Sends `body` with `flags` under a fresh requestID; returns that id.
async fn send(c: &mut RawClient, flags: u32, body: &bson::RawDocument) -> i32 {
    let id = c.next_id();
    c.send(&encode_op_msg(id, 0, flags, body)).await;
    id
}

/// The next reply: (requestID, responseTo, flags, body), bounded.
async fn reply(c: &mut RawClient) -> (i32, i32, u32, RawDocumentBuf) {
    let frame = timeout(BOUND, c.read_frame()).await.expect("in time");
    decode(frame.expect("a reply, not a close"))
}

async fn seed(c: &mut RawClient, coll: &str, n: i32) {
    common::auth::seed_shop(c, coll, n, BOUND).await
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_500_concurrent_tasks_share_a_pool_of_4() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(
        &up,
        "max_size = 4, wait_timeout_ms = 60000, max_waiters = 1000",
    )
    .await;
    // 50 driver connections to the proxy, 4 from the proxy to the upstream.
    let client = Client::with_uri_str(proxy.uri("&maxPoolSize=50"))
        .await
        .expect("client");
    let coll = client.database("shop").collection::<Document>("many");
    let tasks: Vec<_> = (0..500)
        .map(|i: i32| {
            let coll = coll.clone();
            tokio::spawn(async move {
                coll.insert_one(doc! {"_id": i, "n": i * 7})
                    .await
                    .expect("insert");
                let got = coll
                    .find_one(doc! {"_id": i})
                    .await
                    .expect("find")
                    .expect("the document just inserted");
                got.get_i32("n").expect("n")
            })
        })
        .collect();
    let all = timeout(Duration::from_secs(300), async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    })
    .await
    .expect("every task in time");
    let want: Vec<i32> = (0..500).map(|i| i * 7).collect();
    assert_eq!(all, want, "every task read its own document");
    assert!(
        up.peak() <= 4,
        "never more upstream connections than the pool's max_size: peak {}",
        up.peak()
    );
    assert_eq!(up.seen("insert"), 500);
    let stats = pool_stats(&proxy);
    assert!(stats.opened_total <= 4, "{stats:?}");
    assert_eq!(stats.in_use, 0, "every lease came back: {stats:?}");
    assert_eq!(stats.wait_timeouts_total, 0, "{stats:?}");
    assert!(up.seen("find") >= 500, "find: {}", up.seen("find"));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_the_proxys_upstream_and_the_clients_in_replies() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let mut a = login(&proxy).await;
    let mut b = login(&proxy).await;
    seed(&mut a, "ids", 2).await;
    let mut client_ids = HashSet::new();
    for round in 0..4 {
        let c = if round % 2 == 0 { &mut a } else { &mut b };
        let find = rawdoc! {"find": "ids", "filter": {}, "$db": "shop"};
        let id = send(c, 0, &find).await;
        client_ids.insert(id);
        let (_, response_to, _, body) = reply(c).await;
        assert_eq!(
            response_to, id,
            "the reply answers the client's own request"
        );
        assert_eq!(ns_of(&body, "firstBatch"), vec![0, 1]);
    }
    let upstream = up.request_ids();
    let unique: HashSet<i32> = upstream.iter().copied().collect();
    assert_eq!(
        unique.len(),
        upstream.len(),
        "unique upstream ids: {upstream:?}"
    );
    assert!(
        upstream.iter().all(|id| !client_ids.contains(id)),
        "no client id reached the upstream: {upstream:?} vs {client_ids:?}"
    );
    assert_eq!(opened(&up), 1, "sequential requests reuse one connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checksummed_request_is_renumbered_and_resealed_both_ways() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let mut c = login(&proxy).await;
    seed(&mut c, "sums", 2).await;
    let find = rawdoc! {"find": "sums", "filter": {}, "$db": "shop"};
    let id = send(&mut c, FLAG_CHECKSUM_PRESENT, &find).await;
    // decode verifies the reply's CRC-32C: it was recomputed after the header changed.
    let (_, response_to, flags, body) = reply(&mut c).await;
    assert_eq!(response_to, id);
    assert_eq!(flags & FLAG_CHECKSUM_PRESENT, FLAG_CHECKSUM_PRESENT);
    assert_eq!(ns_of(&body, "firstBatch"), vec![0, 1], "{body:?}");
    // The double closes a connection whose checksum does not verify.
    assert_eq!(
        up.checksummed(),
        1,
        "the renumbered request kept a valid checksum"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exhaust_stream_is_pinned_to_one_connection_then_returned_clean() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 1").await;
    let mut c = login(&proxy).await;
    seed(&mut c, "stream", 10).await;
    let first = command(
        &mut c,
        &rawdoc! {"find": "stream", "batchSize": 2, "$db": "shop"},
    )
    .await;
    let id = cursor_id(&first);
    assert_ne!(id, 0);
    let more = rawdoc! {"getMore": id, "collection": "stream", "batchSize": 3, "$db": "shop"};
    let mut answers = send(&mut c, FLAG_EXHAUST_ALLOWED, &more).await;
    let mut got = Vec::new();
    let mut flags_seen = Vec::new();
    loop {
        let (rid, response_to, flags, body) = reply(&mut c).await;
        assert_eq!(response_to, answers, "each reply answers the one before it");
        got.extend(ns_of(&body, "nextBatch"));
        flags_seen.push(flags & FLAG_MORE_TO_COME != 0);
        answers = rid;
        if flags & FLAG_MORE_TO_COME == 0 {
            assert_eq!(cursor_id(&body), 0, "the last reply closes the cursor");
            break;
        }
    }
    assert_eq!(got, (2..10).collect::<Vec<_>>(), "every batch, in order");
    assert_eq!(flags_seen, vec![true, true, false]);
    assert_eq!(
        up.seen("getMore"),
        1,
        "one getMore asked for the whole stream"
    );
    // Another client gets the same connection back: the stream ended cleanly.
    let mut other = login(&proxy).await;
    let after = command(&mut other, &rawdoc! {"find": "stream", "$db": "shop"}).await;
    assert!(failure(&after).is_none(), "{after:?}");
    assert_eq!(
        opened(&up),
        1,
        "the pinned connection went back to the pool"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fire_and_forget_insert_is_seen_by_the_next_find() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 4").await;
    let mut c = login(&proxy).await;
    let insert = rawdoc! {"insert": "quiet", "documents": [{"n": 7}], "$db": "shop"};
    send(&mut c, FLAG_MORE_TO_COME, &insert).await;
    let find = rawdoc! {"find": "quiet", "filter": {}, "$db": "shop"};
    let find_id = send(&mut c, 0, &find).await;
    let (_, response_to, _, body) = reply(&mut c).await;
    assert_eq!(
        response_to, find_id,
        "the first reply is the find's: the insert got none"
    );
    assert_eq!(ns_of(&body, "firstBatch"), vec![7]);
    assert_eq!(up.seen("insert"), 1);
    assert_eq!(
        opened(&up),
        1,
        "the connection went back to the pool right after the unanswered write"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_exhaust_cursor_reads_every_batch_through_a_pool_of_1() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 1").await;
    let mut py = Command::new(tool(".venv/bin/python"));
    py.args(["-c", common::pymongo::PYMONGO_EXHAUST, &proxy.uri("")]);
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(py, Duration::from_secs(60)))
        .await
        .expect("pymongo task");
    assert!(ok, "pymongo ran to the end: {out}");
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(
        v["got"],
        serde_json::json!((0..10).collect::<Vec<_>>()),
        "{out}"
    );
    assert_eq!(up.seen("getMore"), 1, "the rest came as one exhaust stream");
    assert_eq!(up.open_cursors(), 0);
    assert_eq!(up.peak(), 1, "one upstream connection served it all");
}

/// Opens a cursor in batches of `batch`, reads `n` documents and drops it half-read (the
/// driver then sends killCursors).
async fn read_then_drop(coll: &mongodb::Collection<Document>, batch: u32, n: usize) {
    use futures_util::TryStreamExt;
    let mut half = timeout(BOUND, coll.find(doc! {}).batch_size(batch))
        .await
        .expect("in time")
        .expect("find");
    for _ in 0..n {
        timeout(BOUND, half.try_next())
            .await
            .expect("in time")
            .expect("next")
            .expect("a document");
    }
    drop(half);
}
