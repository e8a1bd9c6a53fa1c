//! Issue 2: the official Rust driver through mongoward over TLS, against a real
//! wire-protocol upstream. Each test asserts an outcome that fails if the proxy
//! drops, mangles or misroutes traffic.

mod common;

use bson::{doc, Document};
use common::{Proxy, Upstream};
use futures_util::TryStreamExt;
use mongodb::options::IndexOptions;
use mongodb::{Client, IndexModel};

async fn client(proxy: &Proxy, extra: &str) -> Client {
    Client::with_uri_str(proxy.uri(extra))
        .await
        .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn crud_cursors_and_indexes_through_the_proxy() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let c = client(&proxy, "").await;
    let db = c.database("core_crud");
    let coll = db.collection::<Document>("items");
    let _ = coll.drop().await;

    // insert: the driver sends the documents as an OP_MSG kind-1 sequence.
    let docs: Vec<Document> = (0..250)
        .map(|i| doc! {"_id": i, "n": i, "tag": if i % 2 == 0 {"even"} else {"odd"}})
        .collect();
    let res = coll.insert_many(docs).await.expect("insert_many");
    assert_eq!(res.inserted_ids.len(), 250);

    // find with sort, projection and limit.
    let top: Vec<Document> = coll
        .find(doc! {"tag": "even"})
        .sort(doc! {"n": -1})
        .projection(doc! {"n": 1, "_id": 0})
        .limit(3)
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("collect");
    assert_eq!(top, vec![doc! {"n": 248}, doc! {"n": 246}, doc! {"n": 244}]);

    // A find that needs several getMores (batch 20 over 250 documents).
    let all: Vec<Document> = coll
        .find(doc! {})
        .batch_size(20)
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("getMore");
    assert_eq!(all.len(), 250);

    // aggregate.
    let agg: Vec<Document> = coll
        .aggregate(vec![
            doc! {"$match": {"tag": "odd"}},
            doc! {"$count": "odds"},
        ])
        .await
        .expect("aggregate")
        .try_collect()
        .await
        .expect("collect");
    assert_eq!(agg, vec![doc! {"odds": 125}]);

    // update / delete.
    let up = coll
        .update_many(doc! {"tag": "odd"}, doc! {"$set": {"seen": true}})
        .await
        .expect("update");
    assert_eq!(up.modified_count, 125);
    let del = coll
        .delete_many(doc! {"n": {"$gte": 200}})
        .await
        .expect("delete");
    assert_eq!(del.deleted_count, 50);
    assert_eq!(coll.count_documents(doc! {}).await.expect("count"), 200);

    // createIndexes / listIndexes / listCollections / drop.
    let model = IndexModel::builder()
        .keys(doc! {"n": 1})
        .options(IndexOptions::builder().name("n_1".to_string()).build())
        .build();
    coll.create_index(model).await.expect("createIndexes");
    // nx-27017 names indexes its own way; the index on `n` must be listed.
    let indexes: Vec<IndexModel> = coll
        .list_indexes()
        .await
        .expect("listIndexes")
        .try_collect()
        .await
        .expect("collect");
    assert!(
        indexes.iter().any(|i| i.keys == doc! {"n": 1}),
        "{indexes:?}"
    );
    let colls = db.list_collection_names().await.expect("listCollections");
    assert!(colls.contains(&"items".to_string()), "{colls:?}");
    coll.drop().await.expect("drop");
    let colls = db.list_collection_names().await.expect("listCollections");
    assert!(!colls.contains(&"items".to_string()), "{colls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_cursors_and_hello_through_run_command() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let c = client(&proxy, "").await;
    let db = c.database("core_kill");
    let coll = db.collection::<Document>("k");
    coll.insert_many((0..10).map(|i| doc! {"i": i}))
        .await
        .expect("insert");

    let reply = db
        .run_command(doc! {"find": "k", "batchSize": 2})
        .await
        .expect("find");
    let id = reply
        .get_document("cursor")
        .unwrap()
        .get_i64("id")
        .expect("int64 cursor id");
    assert_ne!(id, 0);
    let killed = db
        .run_command(doc! {"killCursors": "k", "cursors": [id]})
        .await
        .expect("killCursors");
    let ids = killed.get_array("cursorsKilled").expect("cursorsKilled");
    assert_eq!(ids.first().and_then(|b| b.as_i64()), Some(id));

    // The proxy answers hello itself: a mongos-like endpoint with no topology leaks.
    let hello = c
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .expect("hello");
    assert_eq!(hello.get_str("msg").unwrap(), "isdbgrid");
    assert!(hello.get("hosts").is_none() && hello.get("setName").is_none());
    assert!(hello.get_i32("maxWireVersion").unwrap() >= 17);
    let ping = c
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("ping");
    assert_eq!(ping.get_f64("ok").unwrap(), 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_traffic_with_each_compressor() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    for (id, comp) in [(3, "zstd"), (1, "snappy"), (2, "zlib")] {
        let before = mongoward::proxy::stats::Stats::get(&proxy.running.stats().compressed_in[id]);
        let c = client(&proxy, &format!("&compressors={comp}")).await;
        let coll = c.database("core_comp").collection::<Document>(comp);
        let big = "x".repeat(50_000);
        coll.insert_many((0..20).map(|i| doc! {"i": i, "pad": &big}))
            .await
            .expect("insert compressed");
        let back: Vec<Document> = coll
            .find(doc! {})
            .batch_size(5)
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("getMore");
        assert_eq!(back.len(), 20, "{comp}");
        assert_eq!(back[7].get_str("pad").unwrap().len(), 50_000, "{comp}");
        let after = mongoward::proxy::stats::Stats::get(&proxy.running.stats().compressed_in[id]);
        assert!(
            after >= before + 3,
            "{comp}: the driver's messages arrived compressed ({before} -> {after})"
        );
    }
}

/// Drivers send a getMore on whichever pooled connection is free; cursor ownership must
/// follow the user, not the connection (as mongod and mongos do).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_cursors_over_a_connection_pool() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let c = client(&proxy, "&maxPoolSize=4").await;
    let coll = c.database("core_pool").collection::<Document>("p");
    coll.insert_many((0..60).map(|i| doc! {"i": i}))
        .await
        .expect("insert");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let coll = coll.clone();
        tasks.push(tokio::spawn(async move {
            let cursor = coll.find(doc! {}).batch_size(3).await.expect("find");
            let docs: Vec<Document> = cursor
                .try_collect()
                .await
                .expect("getMores on any pooled connection");
            docs.len()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 60);
    }
    assert_eq!(
        proxy.running.open_cursors(),
        0,
        "exhausted cursors are forgotten"
    );
}

/// `loadBalanced=true` (how drivers reach mongos behind a load balancer): the proxy answers
/// hello with a `serviceId` and the driver pins cursors to a connection.
#[tokio::test(flavor = "multi_thread")]
async fn load_balanced_mode_works() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let c = client(&proxy, "&loadBalanced=true").await;
    let coll = c.database("core_lb").collection::<Document>("lb");
    coll.insert_many((0..30).map(|i| doc! {"i": i}))
        .await
        .expect("insert in load-balanced mode");
    let docs: Vec<Document> = coll
        .find(doc! {})
        .batch_size(4)
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("getMores");
    assert_eq!(docs.len(), 30);
}
