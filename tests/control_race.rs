//! A project deleted while records are being added to it, over the real admin API on real
//! SQLite and real PostgreSQL: whichever write commits second loses (404 or 409), and no
//! user, role, access-list entry or cluster is ever left without its project.

mod common;
mod control;

use mongoward::control::model::{parse_key, KeyRef};
use mongoward::control::Store;
use serde_json::{json, Value};

use control::ControlPlane;

const ROUNDS: usize = 12;

/// One round: a fresh project, then its delete and four creates sent at once.
async fn round(cp: &ControlPlane, token: &str, i: usize) -> Vec<(String, u16)> {
    let g = cp.project(token, &format!("race-{i}")).await;
    let creates: Vec<(&str, String, Value)> = vec![
        (
            "user",
            format!("/groups/{g}/databaseUsers"),
            json!({"username": format!("u{i}"), "databaseName": "admin",
                   "password": "race-Passw0rd", "roles": [{"roleName": "read", "databaseName": "shop"}]}),
        ),
        (
            "role",
            format!("/groups/{g}/customDBRoles/roles"),
            json!({"roleName": format!("r{i}"),
                   "actions": [{"action": "FIND", "resources": [{"db": "shop", "collection": "orders"}]}]}),
        ),
        (
            "entry",
            format!("/groups/{g}/accessList"),
            json!([{"cidrBlock": format!("10.{i}.0.0/16")}]),
        ),
        (
            "cluster",
            format!("/groups/{g}/clusters"),
            json!({"name": format!("race-c{i}"), "upstream": {"uri": "mongodb://127.0.0.1:1/"}}),
        ),
    ];
    let delete_path = format!("/groups/{g}");
    let delete = async {
        // Every other round, let the creates start first.
        if i % 2 == 1 {
            tokio::task::yield_now().await;
        }
        let (s, b) = cp.call(token, "DELETE", &delete_path, None).await;
        ("delete".to_string(), s, b)
    };
    let adds =
        futures_util::future::join_all(creates.into_iter().map(|(what, path, body)| async move {
            let (s, b) = cp.call(token, "POST", &path, Some(body)).await;
            (what.to_string(), s, b)
        }));
    let (d, mut all) = tokio::join!(delete, adds);
    all.push(d);
    all.into_iter()
        .map(|(what, s, b)| {
            let fine = match what.as_str() {
                "delete" => [204, 409].contains(&s),
                _ => [200, 201, 404, 409].contains(&s),
            };
            assert!(fine, "round {i}: {what} answered {s}: {b}");
            (what, s)
        })
        .collect()
}

/// Every key under a project has that project's record beside it.
async fn no_orphans(store: &Store) {
    let items = store.list("groups/").await.unwrap();
    let projects: std::collections::BTreeSet<&str> = items
        .iter()
        .filter_map(|i| match parse_key(&i.key) {
            KeyRef::Project(g) => Some(g),
            _ => None,
        })
        .collect();
    for i in &items {
        let key = parse_key(&i.key);
        if let (Some(g), false) = (key.project(), matches!(key, KeyRef::Project(_))) {
            assert!(projects.contains(g), "orphan record {}", i.key);
        }
    }
}

async fn race(cp: &ControlPlane, url: &str) {
    let token = cp.owner_token().await;
    let mut outcomes = std::collections::BTreeMap::new();
    for i in 0..ROUNDS {
        for (what, s) in round(cp, &token, i).await {
            *outcomes.entry((what, s)).or_insert(0) += 1;
        }
    }
    println!("outcomes over {ROUNDS} rounds: {outcomes:?}");
    let store = Store::open(url, None).await.unwrap();
    no_orphans(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_project_delete_racing_creates_leaves_no_orphan() {
    let cp = control::start().await;
    race(&cp, &cp.store_url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_project_delete_racing_creates_leaves_no_orphan() {
    let Some(cp) = control::start_on(control::Backend::Postgres).await else {
        return;
    };
    race(&cp, &cp.store_url.clone()).await;
}
