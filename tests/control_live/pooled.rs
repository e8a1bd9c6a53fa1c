//! `[control_plane] cluster_pool`: clusters from the store run in request mode, and a
//! cluster the store added or changed while the proxy runs has its pool drained at
//! shutdown like one started with the process. Against the scripted upstream, whose
//! connection counters show what the pools really hold.

use super::*;

use scripted_upstream::ScriptedUpstream;

const BOUND: Duration = Duration::from_secs(30);

/// The pool behind cluster `name`, as the metrics read it.
fn pool_stats(running: &Running, name: &str) -> Option<mongoward::proxy::upstream::pool::Stats> {
    let view = running.stats().cluster(name).pool.load_full()?;
    (view.0)()
}

async fn find(c: &mut RawClient) -> bool {
    let reply = tokio::time::timeout(BOUND, c.command(&rawdoc! {"find": "x", "$db": "shop"}))
        .await
        .expect("a reply in time");
    reply.get_f64("ok").ok() == Some(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_clusters_run_pooled_and_their_pools_drain_at_shutdown() {
    let up = ScriptedUpstream::start().await;
    let certs = certs();
    let url = format!("sqlite://{}", certs.dir.path().join("state.db").display());
    let store = Store::open(&url, None).await.unwrap();
    let gid = project(&store, &model::new_id()).await;
    let first_uri = format!("mongodb://127.0.0.1:{}", up.addr.port());
    store
        .apply(vec![
            cluster(&gid, "default", &first_uri, None, &[]),
            entry(&gid, "127.0.0.1/32", None),
            user(&gid, "alice"),
        ])
        .await
        .unwrap();
    let pool = "cluster_pool = { mode = \"request\", max_size = 2 }\n";
    let proxy = start_with(&certs, &url, 0, pool).await;

    // A store cluster in request mode: its client's commands lease pooled connections.
    let mut a = login(proxy.addr, &certs.ca, "alice").await.expect("login");
    assert!(find(&mut a).await);
    let first = pool_stats(&proxy.running, "default").expect("a pool, registered by its lease");
    assert_eq!(
        (first.size, first.idle, first.in_use),
        (1, 1, 0),
        "{first:?}"
    );

    // The record changes: a new cluster (and pool) serves new connections; `a` keeps its own.
    let changed_uri = format!("mongodb://localhost:{}", up.addr.port());
    store
        .apply(vec![cluster(&gid, "default", &changed_uri, None, &[])])
        .await
        .unwrap();
    // Connections so far: the first cluster's probe and its pooled one; the changed
    // cluster's probe and then its own pooled one.
    assert!(
        up.until(BOUND, |u| u.accepted() == 3 && u.open() == 1)
            .await,
        "probed"
    );
    let mut b = login(proxy.addr, &certs.ca, "alice").await.expect("login");
    assert!(find(&mut b).await);
    assert!(
        find(&mut a).await,
        "the old cluster still serves its connection"
    );
    assert!(
        up.until(BOUND, |u| u.accepted() == 4 && u.open() == 2)
            .await,
        "one idle pooled connection in each pool ({} accepted, {} open)",
        up.accepted(),
        up.open()
    );

    // Shutdown drains both: nothing stays open upstream while the process lives on.
    proxy.running.shutdown(Duration::from_secs(5)).await;
    let new = pool_stats(&proxy.running, "default").expect("the changed cluster's pool");
    let drained = mongoward::proxy::upstream::pool::DiscardReason::Drain;
    assert!(new.discards_for(drained) >= 1, "{new:?}");
    assert!(
        up.until(BOUND, |u| u.open() == 0).await,
        "every pooled upstream connection closed ({} open)",
        up.open()
    );
}
