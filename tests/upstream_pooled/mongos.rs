//! Request mode in front of a mongos behind an L4 balancer: the scripted upstream plays
//! one mongos per connection, and refuses a getMore, killCursors or transaction statement
//! that arrives on a connection other than the one that opened it. The Rust driver's
//! cursors and transactions must still work through a pool of 2 that a busy client shares,
//! so the proxy must pin the lease while they live, and give it back after.

use super::*;

use futures_util::TryStreamExt;

/// A busy raw client: finds on another collection, between the driver's commands.
async fn busy(proxy: &Proxy, rounds: usize) -> tokio::task::JoinHandle<usize> {
    let mut c = login(proxy).await;
    tokio::spawn(async move {
        let mut ok = 0;
        for _ in 0..rounds {
            let r = command(&mut c, &rawdoc! {"find": "other", "$db": "shop"}).await;
            if failure(&r).is_none() {
                ok += 1;
            }
            tokio::task::yield_now().await;
        }
        ok
    })
}

async fn pooled_mongos() -> (ScriptedUpstream, Proxy, Client) {
    let up = ScriptedUpstream::start_mongos().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let client = Client::with_uri_str(proxy.uri("&maxPoolSize=1"))
        .await
        .expect("client");
    (up, proxy, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn mongos_cursors_keep_their_connection_until_exhausted_or_killed() {
    let (up, proxy, client) = pooled_mongos().await;
    let coll = client.database("shop").collection::<Document>("tall");
    let docs: Vec<Document> = (0..40).map(|i| doc! {"n": i}).collect();
    timeout(BOUND, coll.insert_many(docs))
        .await
        .expect("in time")
        .expect("insert_many");
    let other = busy(&proxy, 60).await;
    for _ in 0..3 {
        let all: Vec<Document> = timeout(BOUND, async {
            let cursor = coll.find(doc! {}).batch_size(3).await.expect("find");
            cursor.try_collect().await.expect("every getMore")
        })
        .await
        .expect("in time");
        let ns: Vec<i32> = all.iter().map(|d| d.get_i32("n").unwrap()).collect();
        assert_eq!(ns, (0..40).collect::<Vec<_>>(), "every document, in order");
    }
    // Dropped half-read: the driver's killCursors must reach the mongos that has it.
    read_then_drop(&coll, 3, 7).await;
    assert!(
        up.until(BOUND, |u| u.seen("killCursors") == 1).await,
        "the driver killed its cursor"
    );
    assert!(
        up.until(BOUND, |u| u.open_cursors() == 0).await,
        "the killCursors reached the connection that has the cursor"
    );
    assert_eq!(
        timeout(BOUND, other).await.expect("in time").expect("task"),
        60
    );
    assert_eq!(up.misrouted(), 0, "nothing reached the wrong mongos");
    assert!(up.peak() <= 2, "peak {}", up.peak());
    // Nothing is pinned any more: both connections are back in the pool.
    let stats = pool_stats(&proxy);
    assert_eq!((stats.in_use, stats.size), (0, stats.idle), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mongos_transactions_keep_their_connection_until_commit_or_abort() {
    let (up, proxy, client) = pooled_mongos().await;
    let coll = client.database("shop").collection::<Document>("orders");
    let other = busy(&proxy, 60).await;
    for round in 0..4_i32 {
        let mut session = client.start_session().await.expect("session");
        timeout(BOUND, session.start_transaction())
            .await
            .expect("in time")
            .expect("start");
        for i in 0..3 {
            timeout(
                BOUND,
                coll.insert_one(doc! {"round": round, "i": i})
                    .session(&mut session),
            )
            .await
            .expect("in time")
            .expect("insert in the transaction");
        }
        let seen = timeout(
            BOUND,
            coll.find_one(doc! {"round": round}).session(&mut session),
        )
        .await
        .expect("in time")
        .expect("find in the transaction");
        assert!(seen.is_some());
        let end = match round % 2 {
            0 => timeout(BOUND, session.commit_transaction()).await,
            _ => timeout(BOUND, session.abort_transaction()).await,
        };
        end.expect("in time").expect("commit or abort");
    }
    assert_eq!(
        timeout(BOUND, other).await.expect("in time").expect("task"),
        60
    );
    assert_eq!(
        up.misrouted(),
        0,
        "every statement reached its transaction's mongos"
    );
    assert_eq!(up.open_transactions(), 0, "every transaction ended");
    assert_eq!(up.seen("commitTransaction"), 2);
    assert_eq!(up.seen("abortTransaction"), 2);
    assert!(up.peak() <= 2, "peak {}", up.peak());
    let stats = pool_stats(&proxy);
    assert_eq!(
        stats.in_use, 0,
        "unpinned after commit and abort: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_gone_while_pinned_closes_its_connection() {
    let up = ScriptedUpstream::start_mongos().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let mut c = login(&proxy).await;
    seed(&mut c, "left", 10).await;
    let r = command(
        &mut c,
        &rawdoc! {"find": "left", "batchSize": 2, "$db": "shop"},
    )
    .await;
    assert_ne!(cursor_id(&r), 0, "a cursor stays open");
    assert_eq!(pool_stats(&proxy).in_use, 1, "pinned to its cursor");
    drop(c);
    let pinned = mongoward::proxy::upstream::pool::DiscardReason::ClientGoneWhilePinned;
    let gone = eventually(BOUND, || async {
        pool_stats(&proxy).discards_for(pinned) == 1
    })
    .await;
    assert!(
        gone.is_some(),
        "the pinned connection was closed, not returned"
    );
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "closed upstream too"
    );
    assert_eq!(pool_stats(&proxy).in_use, 0);
}

/// A plain (not mongos) upstream keeps the cursor's getMores on any connection: nothing is
/// pinned between them.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_set_or_standalone_cursor_pins_nothing() {
    let up = ScriptedUpstream::start().await;
    let proxy = pooled(&up, "max_size = 2").await;
    let mut c = login(&proxy).await;
    seed(&mut c, "free", 10).await;
    let r = command(
        &mut c,
        &rawdoc! {"find": "free", "batchSize": 2, "$db": "shop"},
    )
    .await;
    assert_ne!(cursor_id(&r), 0, "a cursor stays open");
    assert_eq!(pool_stats(&proxy).in_use, 0, "the lease went back");
}
