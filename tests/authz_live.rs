//! Issue 5 through the live proxy: the official Rust driver and mongosh over TLS against
//! the real upstream. Each test asserts decisions that fail if the authorization gate
//! forwards what it must refuse (or refuses what it must forward).

mod common;

#[path = "authz_live/prop.rs"]
mod prop;

use std::time::Duration;

use bson::{doc, Bson, Document};
use common::{run_client, tool, user_toml, Proxy, Upstream};
use mongodb::error::{Error, ErrorKind, WriteFailure};
use mongodb::Client;

pub const PW: &str = "Live-Passw0rd";

/// Users of these tests (the harness adds the broad default `app` user for seeding).
fn users() -> String {
    [
        user_toml("rw", PW, &["readWrite@app_db"], ""),
        user_toml("rw2", PW, &["readWrite@app_db"], ""),
        user_toml("sales", PW, &["read@reporting.daily_sales"], ""),
    ]
    .join("\n")
}

pub async fn client_as(proxy: &Proxy, user: &str) -> Client {
    let pw = if user == common::APP_USER {
        common::APP_PASSWORD
    } else {
        PW
    };
    Client::with_uri_str(proxy.uri_as(user, pw, "&maxPoolSize=1"))
        .await
        .expect("client")
}

/// The server error code of a failed operation.
pub fn code(e: &Error) -> Option<i32> {
    match &*e.kind {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        _ => None,
    }
}

fn message(e: &Error) -> String {
    match &*e.kind {
        ErrorKind::Command(c) => c.message.clone(),
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.message.clone(),
        other => format!("{other:?}"),
    }
}

async fn seed(proxy: &Proxy) {
    let app = client_as(proxy, common::APP_USER).await;
    for (db, coll) in [
        ("other_db", "things"),
        ("reporting", "daily_sales"),
        ("reporting", "other"),
    ] {
        app.database(db)
            .collection::<Document>(coll)
            .insert_many(vec![doc! {"n": 1}, doc! {"n": 2}])
            .await
            .expect("seed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_write_user_is_confined_to_its_database() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &users()).await;
    seed(&proxy).await;
    let rw = client_as(&proxy, "rw").await;
    let orders = rw.database("app_db").collection::<Document>("orders");
    orders
        .insert_one(doc! {"sku": "a"})
        .await
        .expect("insert app_db");
    let found = orders.find_one(doc! {"sku": "a"}).await.expect("find");
    assert_eq!(
        found.and_then(|d| d.get_str("sku").ok().map(String::from)),
        Some("a".into())
    );

    let secret = "card-4111-1111-1111-1111";
    let e = rw
        .database("other_db")
        .collection::<Document>("things")
        .insert_one(doc! {"secret": secret})
        .await
        .expect_err("insert other_db");
    assert_eq!(code(&e), Some(13), "{e}");
    // A denial names the command and namespace, never document contents.
    assert_eq!(
        message(&e),
        "not authorized on other_db to execute command insert on other_db.things"
    );
    assert!(!format!("{e:?}").contains(secret));
    let e = rw
        .database("other_db")
        .collection::<Document>("things")
        .find_one(doc! {})
        .await
        .expect_err("find other_db");
    assert_eq!(code(&e), Some(13));
    let e = rw
        .database("app_db")
        .drop()
        .await
        .expect_err("dropDatabase");
    assert_eq!(code(&e), Some(13), "{e}");
    // The connection stays usable after denials.
    assert_eq!(orders.count_documents(doc! {}).await.expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn collection_scoped_read_and_lookup_into_forbidden_collection() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &users()).await;
    seed(&proxy).await;
    let sales = client_as(&proxy, "sales").await;
    let db = sales.database("reporting");
    let n = db
        .collection::<Document>("daily_sales")
        .count_documents(doc! {})
        .await
        .expect("count daily_sales");
    assert_eq!(n, 2);
    let e = db
        .collection::<Document>("other")
        .find_one(doc! {})
        .await
        .expect_err("find reporting.other");
    assert_eq!(code(&e), Some(13));
    let lookup = doc! {"aggregate": "daily_sales", "cursor": {}, "pipeline": [
    {"$lookup": {"from": "other", "localField": "n", "foreignField": "n", "as": "x"}}]};
    let e = db.run_command(lookup).await.expect_err("$lookup other");
    assert_eq!(code(&e), Some(13));
    assert!(message(&e).contains("reporting"), "{}", message(&e));
    let plain = doc! {"aggregate": "daily_sales", "cursor": {}, "pipeline": [{"$match": {}}]};
    db.run_command(plain)
        .await
        .expect("aggregate own collection");
}

#[tokio::test(flavor = "multi_thread")]
async fn cursors_of_another_user_are_refused_but_pooled_connections_share_them() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &users()).await;
    let a = client_as(&proxy, "rw").await;
    // Same roles, different user: all clients share one upstream identity, so only the
    // proxy stands between B and A's cursor.
    let b = client_as(&proxy, "rw2").await;
    let items = a.database("app_db").collection::<Document>("items");
    let docs: Vec<Document> = (0..6).map(|i| doc! {"_id": i}).collect();
    items.insert_many(docs).await.expect("insert");
    let find = doc! {"find": "items", "batchSize": 2};
    let reply = a.database("app_db").run_command(find).await.expect("find");
    let id = reply
        .get_document("cursor")
        .and_then(|c| c.get_i64("id"))
        .expect("cursor id");
    assert_ne!(id, 0);
    // Another user: the cursor does not exist for B.
    let get_more = doc! {"getMore": id, "collection": "items", "batchSize": 2};
    let e = b
        .database("app_db")
        .run_command(get_more.clone())
        .await
        .expect_err("getMore on B");
    assert_eq!(code(&e), Some(43), "{e}");
    let kill = doc! {"killCursors": "items", "cursors": [id]};
    let e = b
        .database("app_db")
        .run_command(kill.clone())
        .await
        .expect_err("killCursors on B");
    assert_eq!(code(&e), Some(13), "{e}");
    // The same user on another connection (a driver's pool does this) may continue it.
    let a2 = client_as(&proxy, "rw").await;
    let step = doc! {"getMore": id, "collection": "items", "batchSize": 1};
    let first = a2
        .database("app_db")
        .run_command(step)
        .await
        .expect("getMore on A's second connection");
    assert_eq!(
        first
            .get_document("cursor")
            .and_then(|c| c.get_array("nextBatch"))
            .map(|b| b.len())
            .ok(),
        Some(1)
    );
    // The owner still can.
    let more = a
        .database("app_db")
        .run_command(get_more)
        .await
        .expect("getMore on A");
    let batch = more
        .get_document("cursor")
        .and_then(|c| c.get_array("nextBatch"))
        .expect("nextBatch");
    assert_eq!(batch.len(), 2);
    a.database("app_db")
        .run_command(kill)
        .await
        .expect("killCursors on A");
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_answers_user_management_and_connection_status() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &users()).await;
    let rw = client_as(&proxy, "rw").await;
    let admin = rw.database("admin");
    let e = admin
        .run_command(doc! {"createUser": "eve", "pwd": "x", "roles": []})
        .await
        .expect_err("createUser");
    assert_eq!(code(&e), Some(13));
    assert!(
        message(&e).contains("managed in mongoward's configuration"),
        "{}",
        message(&e)
    );
    let s = admin
        .run_command(doc! {"connectionStatus": 1})
        .await
        .expect("connectionStatus");
    let info = s.get_document("authInfo").expect("authInfo");
    let users = info.get_array("authenticatedUsers").expect("users");
    assert_eq!(
        users,
        &vec![Bson::Document(doc! {"user": "rw", "db": "admin"})]
    );
    let roles = info.get_array("authenticatedUserRoles").expect("roles");
    assert!(
        roles.contains(&Bson::Document(doc! {"role": "readWrite", "db": "app_db"})),
        "{roles:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mongosh_show_dbs_lists_only_authorized_databases() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &users()).await;
    seed(&proxy).await;
    let rw = client_as(&proxy, "rw").await;
    rw.database("app_db")
        .collection::<Document>("orders")
        .insert_one(doc! {"a": 1})
        .await
        .expect("insert");
    let script = "const r = db.adminCommand({listDatabases: 1}); \
        print('NAMES ' + r.databases.map(d => d.name).sort().join(','));";
    let uri = proxy.uri_as("rw", PW, "");
    let mut sh = std::process::Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
    sh.args([&uri, "--quiet", "--eval", script]);
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(sh, Duration::from_secs(90)))
        .await
        .expect("join");
    assert!(ok, "mongosh failed:\n{out}");
    assert!(
        out.contains("NAMES app_db\n") || out.trim_end().ends_with("NAMES app_db"),
        "{out}"
    );
    let mut sh = std::process::Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
    sh.args([&uri, "--quiet", "--eval", "show dbs"]);
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(sh, Duration::from_secs(90)))
        .await
        .expect("join");
    assert!(ok, "mongosh failed:\n{out}");
    assert!(out.contains("app_db"), "{out}");
    for hidden in ["other_db", "reporting", "admin", "local", "config"] {
        assert!(!out.contains(hidden), "{hidden} shown:\n{out}");
    }
}
