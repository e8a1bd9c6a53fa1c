//! Request mode under faults: pool exhaustion, a stepped-down primary, a client gone
//! mid-request, the upstream killed.

use super::*;
use mongoward::proxy::upstream::pool::DiscardReason;

/// An lsid document (a UUID, as drivers send).
fn lsid(n: u8) -> bson::Document {
    let id = bson::Binary {
        subtype: bson::spec::BinarySubtype::Uuid,
        bytes: vec![n; 16],
    };
    doc! {"id": id}
}

fn labels(body: &RawDocumentBuf) -> Vec<String> {
    body.get_array("errorLabels")
        .map(|a| {
            a.into_iter()
                .filter_map(|l| l.ok().and_then(|l| l.as_str().map(str::to_string)))
                .collect()
        })
        .unwrap_or_default()
}

/// A find the upstream holds for a minute; `maxTimeMS` keeps the proxy waiting for it
/// beyond its own reply timeout, so the find keeps its pooled connection.
async fn hold_the_pool(up: &ScriptedUpstream, c: &mut RawClient) {
    up.delay("find", Some(Duration::from_secs(60)));
    let find = rawdoc! {"find": "held", "maxTimeMS": 60_000, "$db": "shop"};
    send(c, 0, &find).await;
    assert!(
        up.until(BOUND, |u| u.seen("find") == 1).await,
        "the find reached the upstream"
    );
}

/// Two clients whose finds overlap, so that a pool of two opens both its connections
/// (idle again when this returns).
async fn two_busy_clients(up: &ScriptedUpstream, proxy: &Proxy) -> (RawClient, RawClient) {
    let mut a = login(proxy).await;
    let mut b = login(proxy).await;
    up.delay("find", Some(Duration::from_millis(300)));
    let find = rawdoc! {"find": "x", "$db": "shop"};
    send(&mut a, 0, &find).await;
    send(&mut b, 0, &find).await;
    assert!(failure(&reply(&mut a).await.3).is_none());
    assert!(failure(&reply(&mut b).await.3).is_none());
    up.delay("find", None);
    (a, b)
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_exhaustion_answers_network_timeout_after_the_wait_never_a_hang() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 1, wait_timeout_ms = 300").await;
    let mut holder = login(&proxy).await;
    hold_the_pool(&up, &mut holder).await;
    let mut c = login(&proxy).await;
    let insert = RawDocumentBuf::from_document(&doc! {
        "insert": "orders", "documents": [{"n": 1}], "lsid": lsid(1), "txnNumber": 1_i64,
        "$db": "shop",
    })
    .expect("insert");
    let r = command(&mut c, &insert).await;
    let (code, msg) = failure(&r).expect("an error");
    assert_eq!(code, 89, "NetworkTimeout: {r:?}");
    assert_eq!(r.get_str("codeName"), Ok("NetworkTimeout"));
    assert!(msg.contains("waiting for an upstream connection"), "{msg}");
    assert_eq!(
        labels(&r),
        vec!["RetryableWriteError"],
        "a retryable write: {r:?}"
    );
    let find = command(&mut c, &rawdoc! {"find": "orders", "$db": "shop"}).await;
    assert_eq!(failure(&find).map(|f| f.0), Some(89), "{find:?}");
    assert!(
        labels(&find).is_empty(),
        "a read carries no write label: {find:?}"
    );
    assert_eq!(up.seen("insert"), 0, "nothing was sent upstream");
    assert_eq!(up.peak(), 1, "the pool never opened a second connection");
    assert_eq!(pool_stats(&proxy).wait_timeouts_total, 2);
    // The upstream dies: the held find fails, its connection is discarded, the pool
    // opens a new one for the next request.
    up.delay("find", None);
    up.kill_all();
    let (_, _, _, held) = reply(&mut holder).await;
    assert_eq!(
        failure(&held).map(|f| f.0),
        Some(6),
        "HostUnreachable: {held:?}"
    );
    let again = command(&mut c, &rawdoc! {"find": "orders", "$db": "shop"}).await;
    assert!(failure(&again).is_none(), "the pool recovered: {again:?}");
    assert_eq!(opened(&up), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_writable_primary_discards_the_connection_and_closes_the_idle_ones() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let (mut a, mut b) = two_busy_clients(&up, &proxy).await;
    assert!(
        up.until(BOUND, |u| u.open() == 2).await,
        "open: {}",
        up.open()
    );
    up.fail("insert", Some((10107, "NotWritablePrimary")));
    let insert = rawdoc! {"insert": "x", "documents": [{"n": 1}], "$db": "shop"};
    let r = command(&mut a, &insert).await;
    assert_eq!(
        failure(&r).map(|f| f.0),
        Some(10107),
        "relayed as it came: {r:?}"
    );
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "the demoted connection and the idle one to the old primary closed: {} open",
        up.open()
    );
    let stats = pool_stats(&proxy);
    assert_eq!(
        stats.discards_for(DiscardReason::NotWritablePrimary),
        1,
        "{stats:?}"
    );
    assert_eq!(
        stats.discards_for(DiscardReason::StaleGeneration),
        1,
        "{stats:?}"
    );
    assert_eq!(stats.generation, 1, "{stats:?}");
    let text = mongoward::ops::metrics::render(proxy.running.stats());
    assert!(
        text.contains(
            "mongoward_pool_discards_total{cluster=\"default\",reason=\"not_writable_primary\"} 1"
        ),
        "{text}"
    );
    up.fail("insert", None);
    let r = command(&mut b, &insert).await;
    assert!(
        failure(&r).is_none(),
        "a fresh connection serves the next write: {r:?}"
    );
    assert_eq!(opened(&up), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_gone_mid_request_discards_its_connection() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 1").await;
    let mut gone = login(&proxy).await;
    hold_the_pool(&up, &mut gone).await;
    assert_eq!(up.open(), 1);
    drop(gone);
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "the connection with a reply still due was closed, not pooled: {} open",
        up.open()
    );
    up.delay("find", None);
    let mut c = login(&proxy).await;
    let r = command(&mut c, &rawdoc! {"find": "held", "$db": "shop"}).await;
    assert!(failure(&r).is_none(), "{r:?}");
    assert_eq!(opened(&up), 2, "a new connection, not the poisoned one");
    let stats = pool_stats(&proxy);
    assert_eq!(
        stats.discards_for(DiscardReason::ClientGoneMidReply),
        1,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_killed_while_idle_costs_at_most_one_retry() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let (mut a, mut b) = two_busy_clients(&up, &proxy).await;
    let find = rawdoc! {"find": "x", "$db": "shop"};
    assert!(
        up.until(BOUND, |u| u.open() == 2).await,
        "two idle connections"
    );
    up.kill_all();
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "the upstream closed them"
    );
    // The first request may take a dead idle connection: HostUnreachable, retryable.
    let first = command(&mut a, &find).await;
    if let Some((code, _)) = failure(&first) {
        assert_eq!(code, 6, "HostUnreachable: {first:?}");
    }
    // The pool was cleared with it: the next request never meets the other dead one.
    let second = command(&mut b, &find).await;
    assert!(failure(&second).is_none(), "{second:?}");
    // A driver's retry hides the one failure altogether.
    let client = Client::with_uri_str(proxy.uri("")).await.expect("client");
    up.kill_all();
    assert!(up.until(BOUND, |u| u.open() == 0).await);
    let found = timeout(
        BOUND,
        client
            .database("shop")
            .collection::<Document>("x")
            .find_one(doc! {}),
    )
    .await
    .expect("in time");
    assert!(found.is_ok(), "the retry succeeded: {found:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_the_request_in_flight_then_closes_the_pool() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let mut idle_client = login(&proxy).await;
    let warm = command(&mut idle_client, &rawdoc! {"find": "x", "$db": "shop"}).await;
    assert!(failure(&warm).is_none(), "{warm:?}");
    let mut busy = login(&proxy).await;
    up.delay("find", Some(Duration::from_millis(300)));
    send(&mut busy, 0, &rawdoc! {"find": "x", "$db": "shop"}).await;
    assert!(up.until(BOUND, |u| u.seen("find") == 2).await);
    let (_, (_, _, _, body)) = tokio::join!(
        timeout(BOUND, proxy.running.shutdown(Duration::from_secs(10))),
        reply(&mut busy)
    );
    assert!(
        failure(&body).is_none(),
        "the request in flight finished: {body:?}"
    );
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "the pool closed its connections: {} open",
        up.open()
    );
    assert_eq!(pool_stats(&proxy).size, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_killed_under_load_costs_each_read_at_most_its_retry() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(
        &up,
        "max_size = 4, wait_timeout_ms = 20000, max_waiters = 200",
    )
    .await;
    let client = Client::with_uri_str(proxy.uri("&maxPoolSize=32"))
        .await
        .expect("client");
    let coll = client.database("shop").collection::<Document>("load");
    timeout(BOUND, coll.insert_one(doc! {"_id": 1, "n": 1}))
        .await
        .expect("in time")
        .expect("seed");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let coll = coll.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    let got = coll.find_one(doc! {"_id": 1}).await;
                    let doc = got.expect("a read, retried once at most").expect("found");
                    assert_eq!(doc.get_i32("n"), Ok(1));
                }
            })
        })
        .collect();
    assert!(
        up.until(BOUND, |u| u.seen("find") >= 200).await,
        "the load is running"
    );
    let before = up.peak();
    up.kill_all();
    let all = timeout(Duration::from_secs(120), async {
        for t in tasks {
            t.await.expect("every read succeeded");
        }
    });
    all.await.expect("in time");
    assert!(before <= 4, "peak before the kill: {before}");
    // Right after the kill the double may still count a dying connection while the pool
    // already replaced it, so the bound is checked once the load is over.
    assert!(
        up.until(BOUND, |u| u.open() <= 4).await,
        "open after the load: {}",
        up.open()
    );
    let stats = pool_stats(&proxy);
    assert!(
        stats.generation >= 1,
        "the lost connections cleared the pool: {stats:?}"
    );
}

/// The pooled proxy's configuration with these access-list entries (CIDRs).
fn with_access(up: &ScriptedUpstream, certs: &common::Certs, cidrs: &[&str]) -> String {
    let access: String = cidrs
        .iter()
        .map(|c| format!("[[access_list]]\ncidr = {c:?}\n"))
        .collect();
    config_text(certs, &up.uri(), &access).replace(
        "name = \"default\"\n",
        "name = \"default\"\npool = { mode = \"request\", max_size = 1 }\n",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_revoked_mid_request_is_cut_and_the_pool_stays_clean() {
    let up = ScriptedUpstream::start().await;
    let certs = certs();
    let text = with_access(&up, &certs, &["127.0.0.1/32", "127.0.0.5/32"]);
    let proxy = Proxy::start_with(certs, &text).await;
    assert!(
        up.until(BOUND, |u| u.accepted() == 1 && u.open() == 0)
            .await
    );
    let source = "127.0.0.5".parse().expect("ip");
    let mut revoked = RawClient::connect_from(source, proxy.addr, proxy.ca()).await;
    raw_auth(&mut revoked, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("login");
    hold_the_pool(&up, &mut revoked).await;
    let text = with_access(&up, &proxy.certs, &["127.0.0.1/32"]);
    std::fs::write(&proxy.config_path, text).expect("rewrite config");
    proxy.running.reload().expect("reload");
    let cut = timeout(BOUND, revoked.read_frame()).await.expect("in time");
    assert!(cut.is_none(), "the revoked client is closed, not answered");
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "its upstream connection, with a reply still due, was closed: {} open",
        up.open()
    );
    up.delay("find", None);
    let mut c = login(&proxy).await;
    seed(&mut c, "after", 2).await;
    let r = command(&mut c, &rawdoc! {"find": "after", "$db": "shop"}).await;
    assert_eq!(ns_of(&r, "firstBatch"), vec![0, 1], "a clean answer: {r:?}");
    assert_eq!(opened(&up), 2, "a new connection, not the cut one");
    let stats = pool_stats(&proxy);
    assert_eq!(
        stats.discards_for(DiscardReason::ClientGoneMidReply),
        1,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_timeout_discards_the_connection_and_the_next_request_gets_a_fresh_one() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 1").await;
    let mut c = login(&proxy).await;
    seed(&mut c, "slow", 2).await;
    // Held far beyond reply_timeout_secs, and no maxTimeMS to extend the wait.
    up.delay("find", Some(Duration::from_secs(60)));
    let r = command(&mut c, &rawdoc! {"find": "slow", "$db": "shop"}).await;
    assert_eq!(
        failure(&r).map(|f| f.0),
        Some(50),
        "MaxTimeMSExpired: {r:?}"
    );
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "the connection whose reply is late was closed, not pooled: {} open",
        up.open()
    );
    up.delay("find", None);
    let r = command(&mut c, &rawdoc! {"find": "slow", "$db": "shop"}).await;
    assert_eq!(ns_of(&r, "firstBatch"), vec![0, 1], "its own answer: {r:?}");
    assert_eq!(opened(&up), 2);
    let stats = pool_stats(&proxy);
    assert_eq!(stats.discards_for(DiscardReason::Timeout), 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn min_idle_spares_open_at_startup_and_idle_ones_beyond_it_close() {
    let up = ScriptedUpstream::start().await;
    let proxy = start_pooled(&up, "max_size = 4, min_idle = 2, idle_timeout_secs = 1").await;
    assert!(
        up.until(BOUND, |u| u.accepted() == 3 && u.open() == 2)
            .await,
        "the probe came and went, two spares stay before any request: {} open",
        up.open()
    );
    // Four finds at once use all four connections...
    up.delay("find", Some(Duration::from_millis(300)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut c = login(&proxy).await;
        send(&mut c, 0, &rawdoc! {"find": "x", "$db": "shop"}).await;
        clients.push(c);
    }
    for c in &mut clients {
        assert!(failure(&reply(c).await.3).is_none());
    }
    assert_eq!(up.peak(), 4);
    // ...then the two beyond min_idle close once idle for idle_timeout_secs.
    assert!(
        up.until(BOUND, |u| u.open() == 2).await,
        "back to min_idle: {} open",
        up.open()
    );
    let stats = pool_stats(&proxy);
    assert_eq!(stats.discards_for(DiscardReason::Idle), 2, "{stats:?}");
}
