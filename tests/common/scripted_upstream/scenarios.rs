//! Scenarios run the same way through a proxy in connection mode and in request mode.

use std::time::Duration;

use bson::{doc, Document};
use futures_util::TryStreamExt;
use mongodb::options::CursorType;
use mongodb::Client;
use tokio::time::timeout;

use super::ScriptedUpstream;
use crate::common::Proxy;

/// A tailable awaitData cursor on a capped collection: its getMore waits upstream until a
/// second client inserts, then returns the new document.
pub async fn tailable_await_receives_a_later_insert(
    up: &ScriptedUpstream,
    proxy: &Proxy,
    bound: Duration,
) {
    let c = Client::with_uri_str(proxy.uri("")).await.expect("client");
    let db = c.database("shop");
    timeout(
        bound,
        db.create_collection("log").capped(true).size(1 << 20),
    )
    .await
    .expect("in time")
    .expect("create a capped collection");
    let coll = db.collection::<Document>("log");
    timeout(bound, coll.insert_one(doc! {"n": 1}))
        .await
        .expect("in time")
        .expect("insert");
    let mut cursor = timeout(
        bound,
        coll.find(doc! {})
            .cursor_type(CursorType::TailableAwait)
            .max_await_time(Duration::from_secs(5)),
    )
    .await
    .expect("in time")
    .expect("find");
    let first = timeout(bound, cursor.try_next()).await.expect("in time");
    assert_eq!(
        first.expect("next").expect("a document").get_i32("n"),
        Ok(1)
    );
    let next = tokio::spawn(async move { timeout(bound, cursor.try_next()).await });
    assert!(
        up.until(bound, |u| u.awaiting() >= 1).await,
        "a getMore waits upstream for new documents"
    );
    let writer = Client::with_uri_str(proxy.uri("")).await.expect("client");
    timeout(
        bound,
        writer
            .database("shop")
            .collection::<Document>("log")
            .insert_one(doc! {"n": 2}),
    )
    .await
    .expect("in time")
    .expect("insert while the cursor waits");
    let got = next
        .await
        .expect("task")
        .expect("the cursor returned in time");
    assert_eq!(got.expect("next").expect("a document").get_i32("n"), Ok(2));
    assert!(
        up.woken_by_insert() >= 1,
        "the insert woke the waiting getMore"
    );
}
