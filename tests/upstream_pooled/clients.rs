//! Cursors across pooled connections with pymongo, the Node driver and mongosh; a Rust
//! driver in `loadBalanced=true` mode; compression. Each client interleaves its getMores
//! with another client's commands on a pool of 2, so consecutive batches of one cursor are
//! not tied to one upstream connection.

use super::*;

use futures_util::TryStreamExt;

/// A second client that keeps the pool busy meanwhile (finds on another collection).
async fn background(proxy: &Proxy) -> tokio::task::JoinHandle<usize> {
    let mut c = login(proxy).await;
    tokio::spawn(async move {
        let mut ok = 0;
        for _ in 0..40 {
            let r = command(&mut c, &rawdoc! {"find": "other", "$db": "shop"}).await;
            if failure(&r).is_none() {
                ok += 1;
            }
        }
        ok
    })
}

/// Runs an external client (made for the proxy) beside [`background`] on a pool of 2,
/// and returns the upstream, the proxy (still running), the JSON line the client printed
/// and its whole output.
/// The busy client must have finished every command, and the pool stayed within 2.
async fn beside_a_busy_client(
    client: impl FnOnce(&Proxy) -> Command,
) -> (ScriptedUpstream, Proxy, serde_json::Value, String) {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let busy = background(&proxy).await;
    let out = run(client(&proxy)).await;
    let line = out.lines().find(|l| l.starts_with('{')).expect("JSON");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    busy_done(&up, busy).await;
    (up, proxy, v, out)
}

async fn busy_done(up: &ScriptedUpstream, busy: tokio::task::JoinHandle<usize>) {
    assert_eq!(
        timeout(BOUND, busy).await.expect("in time").expect("task"),
        40
    );
    assert!(up.peak() <= 2, "peak {}", up.peak());
}

async fn run(cmd: Command) -> String {
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(cmd, Duration::from_secs(90)))
        .await
        .expect("client task");
    assert!(ok, "the client ran to the end: {out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_cursor_over_pooled_connections_then_killcursors() {
    pymongo_cursor("").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_load_balanced_cursor_over_pooled_connections() {
    pymongo_cursor("&loadBalanced=true").await;
}

async fn pymongo_cursor(uri_extra: &str) {
    let (up, _proxy, v, out) = beside_a_busy_client(|proxy| {
        let mut py = Command::new(tool(".venv/bin/python"));
        py.args(["-c", common::pymongo::PYMONGO_CURSOR, &proxy.uri(uri_extra)]);
        py
    })
    .await;
    assert_eq!(v["got"], serde_json::json!([0, 1, 2, 3, 4]), "{out}");
    assert_eq!(v["alive_before"], true, "{out}");
    assert!(up.seen("getMore") >= 1);
    assert_eq!(up.seen("killCursors"), 1, "close() reached the upstream");
    assert_eq!(up.open_cursors(), 0);
}

const NODE_CURSOR: &str = r#"
const { MongoClient } = require('mongodb');
(async () => {
  const client = new MongoClient(process.argv[1]);
  const coll = client.db('shop').collection('nodes');
  await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ n: i })));
  const all = (await coll.find({}).batchSize(3).toArray()).map(d => d.n);
  const cursor = coll.find({}).batchSize(3);
  const two = [(await cursor.next()).n, (await cursor.next()).n];
  await cursor.close();
  console.log(JSON.stringify({ all, two }));
  await client.close();
})().catch(e => { console.error(e); process.exit(1); });
"#;

#[tokio::test(flavor = "multi_thread")]
async fn node_driver_cursors_over_pooled_connections() {
    node_cursors("").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_driver_load_balanced_cursors_over_pooled_connections() {
    node_cursors("&loadBalanced=true").await;
}

async fn node_cursors(uri_extra: &str) {
    let (up, _proxy, v, out) = beside_a_busy_client(|proxy| {
        let mut node = Command::new("node");
        node.args(["-e", NODE_CURSOR, &proxy.uri(uri_extra)]);
        node.current_dir(tool("tests/clients"));
        node
    })
    .await;
    assert_eq!(
        v["all"],
        serde_json::json!((0..10).collect::<Vec<_>>()),
        "{out}"
    );
    assert_eq!(v["two"], serde_json::json!([0, 1]), "{out}");
    assert!(up.seen("getMore") >= 3, "10 documents in batches of 3");
    assert_eq!(up.seen("killCursors"), 1, "close() reached the upstream");
    assert_eq!(up.open_cursors(), 0);
}

const MONGOSH_CURSOR: &str = r#"
const db = connect(URI).getSiblingDB('shop');
db.shells.insertMany(Array.from({ length: 10 }, (_, i) => ({ n: i })));
const all = db.shells.find({}).batchSize(3).toArray().map(d => d.n);
print(JSON.stringify({ all }));
"#;

#[tokio::test(flavor = "multi_thread")]
async fn mongosh_cursor_over_pooled_connections() {
    mongosh_cursor("").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mongosh_load_balanced_cursor_over_pooled_connections() {
    mongosh_cursor("&loadBalanced=true").await;
}

async fn mongosh_cursor(uri_extra: &str) {
    let (up, _proxy, v, out) = beside_a_busy_client(|proxy| {
        let script = format!("const URI = {:?};\n{MONGOSH_CURSOR}", proxy.uri(uri_extra));
        let mut sh = Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
        sh.args(["--quiet", "--nodb", "--eval", &script]);
        sh
    })
    .await;
    assert_eq!(
        v["all"],
        serde_json::json!((0..10).collect::<Vec<_>>()),
        "{out}"
    );
    assert!(up.seen("getMore") >= 3, "10 documents in batches of 3");
    assert_eq!(up.open_cursors(), 0);
}

/// `uri_extra` for the Rust driver: load-balanced mode, or compression.
async fn rust_driver_cursor(uri_extra: &str) -> (ScriptedUpstream, Proxy) {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let busy = background(&proxy).await;
    let c = Client::with_uri_str(proxy.uri(uri_extra))
        .await
        .expect("client");
    let coll = c.database("shop").collection::<Document>("rusty");
    let docs: Vec<Document> = (0..25).map(|i| doc! {"n": i}).collect();
    timeout(BOUND, coll.insert_many(docs))
        .await
        .expect("in time")
        .expect("insert_many");
    let find = async {
        coll.find(doc! {})
            .batch_size(4)
            .await
            .expect("find")
            .try_collect::<Vec<Document>>()
            .await
            .expect("getMore")
    };
    let all = timeout(BOUND, find).await.expect("in time");
    let ns: Vec<i32> = all.iter().map(|d| d.get_i32("n").unwrap()).collect();
    assert_eq!(ns, (0..25).collect::<Vec<_>>(), "every document, in order");
    // Dropping a cursor half-read kills it upstream (the driver sends killCursors).
    read_then_drop(&coll, 4, 6).await;
    assert!(
        up.until(BOUND, |u| u.seen("killCursors") == 1).await,
        "the half-read cursor was killed"
    );
    assert!(up.until(BOUND, |u| u.open_cursors() == 0).await);
    busy_done(&up, busy).await;
    (up, proxy)
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_load_balanced_mode_cursors_over_a_pool() {
    rust_driver_cursor("&loadBalanced=true").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_compressed_traffic_over_a_pool() {
    let (up, proxy) = rust_driver_cursor("&compressors=zstd").await;
    assert!(
        proxy
            .running
            .stats()
            .compressed(mongoward::wire::Compressor::Zstd)
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the client compressed its requests"
    );
    assert_eq!(up.compressed(), 0, "the upstream side stays uncompressed");
}

/// A tailable awaitData getMore holds its pooled connection while it waits; the writer's
/// insert that wakes it takes the pool's other one.
#[tokio::test(flavor = "multi_thread")]
async fn tailable_await_cursor_over_a_pool_of_2() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    scripted_upstream::scenarios::tailable_await_receives_a_later_insert(&up, &proxy, BOUND).await;
    assert!(up.peak() <= 2, "peak {}", up.peak());
}
