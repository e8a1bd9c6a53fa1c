//! Issue 6, replica sets: the proxy finds the primary among the URI's hosts, and after a
//! step-down (NotWritablePrimary from the old primary) a retrying driver finishes its
//! writes on the new primary through the same proxy endpoint.

mod common;
#[path = "common/scram_upstream.rs"]
mod scram_upstream;

use std::sync::Arc;

use bson::doc;
use common::{certs, config_text, Proxy};
use mongodb::Client;
use scram_upstream::{Rs, ScramUpstream};

#[tokio::test(flavor = "multi_thread")]
async fn retrying_driver_finishes_its_writes_across_a_step_down() {
    let rs = Arc::new(Rs::default());
    let (a, b) = (
        ScramUpstream::member(rs.clone()).await,
        ScramUpstream::member(rs.clone()).await,
    );
    // The second host is primary first: the proxy must look past the first one.
    rs.set_primary(b.addr);
    let uri = format!("mongodb://{},{}/?replicaSet=rs0", a.addr, b.addr);
    let certs = certs();
    let text = config_text(&certs, &uri, "");
    let proxy = Proxy::start_with(certs, &text).await;

    let client = Client::with_uri_str(proxy.uri("&serverSelectionTimeoutMS=5000"))
        .await
        .expect("client");
    let coll = client
        .database("app")
        .collection::<bson::Document>("orders");
    for i in 0..10 {
        if i == 5 {
            rs.set_primary(a.addr);
        }
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            coll.insert_one(doc! {"i": i}),
        )
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("insert {i} failed: {e}"));
    }
    client.shutdown().await;
    assert_eq!(rs.writes_on(b.addr), 5, "first five on the first primary");
    assert_eq!(rs.writes_on(a.addr), 5, "the rest on the new primary");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_primary_fails_fast_with_host_unreachable() {
    let rs = Arc::new(Rs::default());
    let a = ScramUpstream::member(rs.clone()).await;
    let uri = format!("mongodb://{}/?replicaSet=rs0", a.addr);
    let certs = certs();
    let text = config_text(&certs, &uri, "");
    let proxy = Proxy::start_with(certs, &text).await;
    let client =
        Client::with_uri_str(proxy.uri("&serverSelectionTimeoutMS=3000&retryWrites=false"))
            .await
            .expect("client");
    let coll = client
        .database("app")
        .collection::<bson::Document>("orders");
    let started = std::time::Instant::now();
    let err = coll
        .insert_one(doc! {"i": 1})
        .await
        .expect_err("no primary");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains("HostUnreachable") || err.to_string().contains("cannot connect"),
        "{err}"
    );
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retrying_driver_survives_a_lost_primary_connection() {
    writes_survive_a_lost_primary(|certs, uri| config_text(certs, uri, "")).await;
}

/// Six writes by a retrying driver; the primary dies in the middle of the fourth and the
/// other member takes over: three land on each, none twice.
async fn writes_survive_a_lost_primary(config: impl Fn(&common::Certs, &str) -> String) {
    let rs = Arc::new(Rs::default());
    let (a, b) = (
        ScramUpstream::member(rs.clone()).await,
        ScramUpstream::member(rs.clone()).await,
    );
    rs.set_primary(a.addr);
    let uri = format!("mongodb://{},{}/?replicaSet=rs0", a.addr, b.addr);
    let certs = certs();
    let text = config(&certs, &uri);
    let proxy = Proxy::start_with(certs, &text).await;
    let client = Client::with_uri_str(proxy.uri("&serverSelectionTimeoutMS=5000"))
        .await
        .expect("client");
    let coll = client
        .database("app")
        .collection::<bson::Document>("orders");
    for i in 0..6 {
        if i == 3 {
            rs.crash_next_write
                .store(true, std::sync::atomic::Ordering::SeqCst);
            rs.set_primary(b.addr);
        }
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            coll.insert_one(doc! {"i": i}),
        )
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("insert {i} failed: {e}"));
    }
    client.shutdown().await;
    assert_eq!(rs.writes_on(a.addr), 3);
    assert_eq!(rs.writes_on(b.addr), 3);
}

/// The same failovers with `pool = { mode = "request" }`: a step-down or a lost primary
/// clears the pool (a new generation), so no write is sent twice to the old primary.
fn pooled_config(certs: &common::Certs, uri: &str, pool: &str) -> String {
    config_text(certs, uri, "").replace(
        "name = \"default\"\n",
        &format!("name = \"default\"\npool = {{ mode = \"request\", {pool} }}\n"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn request_mode_step_down_under_load_every_write_lands_once() {
    let rs = Arc::new(Rs::default());
    let (a, b) = (
        ScramUpstream::member(rs.clone()).await,
        ScramUpstream::member(rs.clone()).await,
    );
    rs.set_primary(b.addr);
    let uri = format!("mongodb://{},{}/?replicaSet=rs0", a.addr, b.addr);
    let certs = certs();
    let text = pooled_config(
        &certs,
        &uri,
        "max_size = 3, wait_timeout_ms = 10000, max_waiters = 64",
    );
    let proxy = Proxy::start_with(certs, &text).await;
    let client = Client::with_uri_str(proxy.uri("&serverSelectionTimeoutMS=5000&maxPoolSize=16"))
        .await
        .expect("client");
    let coll = client
        .database("app")
        .collection::<bson::Document>("orders");
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let coll = coll.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(20),
                        coll.insert_one(doc! {"t": t, "i": i}),
                    )
                    .await
                    .expect("no hang")
                    .unwrap_or_else(|e| panic!("insert {t}/{i} failed: {e}"));
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while rs.writes_on(b.addr) < 40 {
        assert!(std::time::Instant::now() < deadline, "writes started");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    rs.set_primary(a.addr);
    for t in tasks {
        t.await.expect("task");
    }
    client.shutdown().await;
    assert_eq!(
        rs.writes_on(a.addr) + rs.writes_on(b.addr),
        160,
        "every write landed exactly once"
    );
    assert!(rs.writes_on(a.addr) > 0, "the new primary took the rest");
    let stats = proxy
        .running
        .stats()
        .cluster("default")
        .pool
        .load_full()
        .and_then(|v| (v.0)())
        .expect("pool stats");
    assert!(
        stats.generation >= 1,
        "the step-down cleared the pool: {stats:?}"
    );
    assert!(stats.opened_total <= 3 + 3 * stats.generation, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_mode_retrying_driver_survives_a_lost_primary_connection() {
    writes_survive_a_lost_primary(|certs, uri| pooled_config(certs, uri, "max_size = 2")).await;
}
