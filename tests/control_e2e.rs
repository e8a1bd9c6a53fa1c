//! Issue 12's end-to-end checks, with pymongo (and one with the Rust driver): records
//! written through the admin API (real HTTPS, bearer tokens) are what the drivers meet on the
//! data plane (real TLS, real SCRAM, the harness's real upstream), on SQLite and on two
//! instances sharing a real PostgreSQL.
//!
//! "Within 1 s" is measured from the API's answer to pymongo's, with a pymongo process
//! started beforehand (tests/clients/pymongo_agent.py), and asserted as the bound.

mod common;
mod control;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::pymongo::Agent;
use common::Upstream;
use control::{Backend, ControlPlane};

/// The promise for a change made through the API.
const PROMISE: Duration = Duration::from_secs(1);
/// How long set-up steps (the first policy load, Python's start) may take.
const SETUP: Duration = Duration::from_secs(20);

const PASSWORD: &str = "e2e-user-Passw0rd";

/// The whole second at least `secs` from now (the data plane keeps whole seconds), as
/// RFC 3339 and as the monotonic instant it falls on.
fn whole_second_in(secs: i64) -> (String, Instant) {
    let (now, mono) = (time::OffsetDateTime::now_utc(), Instant::now());
    let at = (now + time::Duration::seconds(secs + 1))
        .replace_nanosecond(0)
        .expect("zero is a valid nanosecond");
    let date = at
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format a date");
    (date, mono + (at - now).unsigned_abs())
}

/// A pymongo connection string for `user` on `cp`'s data listener.
fn uri(cp: &ControlPlane, user: &str) -> String {
    format!(
        "mongodb://{user}:{PASSWORD}@{}/?authSource=admin&tls=true&tlsCAFile={}",
        cp.data_addr,
        cp.certs.ca.display()
    )
}

async fn post(cp: &ControlPlane, token: &str, path: &str, body: Value) -> Value {
    let (s, b) = cp.call(token, "POST", path, Some(body)).await;
    assert_eq!(s, 201, "POST {path}: {b}");
    b
}

/// A project whose one cluster (on the shared data listener, in front of `upstream`)
/// admits `entries`; returns its id.
async fn project(cp: &ControlPlane, token: &str, upstream: &Upstream, entries: Value) -> String {
    let g = cp.project(token, "e2e").await;
    post(
        cp,
        token,
        &format!("/groups/{g}/clusters"),
        json!({"name": "app", "upstream": {"uri": upstream.uri}}),
    )
    .await;
    post(cp, token, &format!("/groups/{g}/accessList"), entries).await;
    g
}

async fn create_user(cp: &ControlPlane, token: &str, g: &str, name: &str, roles: Value) {
    post(
        cp,
        token,
        &format!("/groups/{g}/databaseUsers"),
        json!({"username": name, "databaseName": "admin", "password": PASSWORD, "roles": roles}),
    )
    .await;
}

fn read_write_any() -> Value {
    json!([{"roleName": "readWriteAnyDatabase", "databaseName": "admin"}])
}

/// A project admitting 127.0.0.1 with user `user` (readWriteAnyDatabase), in force on
/// `on` (pymongo got in); returns the project id.
async fn project_in_force(
    cp: &ControlPlane,
    on: &ControlPlane,
    token: &str,
    upstream: &Upstream,
    user: &str,
    py: &mut Agent,
) -> String {
    let g = project(cp, token, upstream, json!([{"ipAddress": "127.0.0.1"}])).await;
    create_user(cp, token, &g, user, read_write_any()).await;
    let warm = py.until_ok(&uri(on, user), SETUP);
    assert!(
        warm.ok(),
        "the project never came into force: {}",
        warm.body
    );
    g
}

/// A user created through the API connects with pymongo within 1 s of the API's answer,
/// may do what its roles allow and gets 13 (Unauthorized) outside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_through_the_api_connects_with_pymongo_within_a_second() {
    let upstream = Upstream::start();
    let cp = control::start().await;
    let mut py = Agent::start(None);
    let owner = cp.owner_token().await;
    // The cluster and the access list in force first, so the measurement is the user's.
    let g = project_in_force(&cp, &cp, &owner, &upstream, "warm-up", &mut py).await;

    let roles = json!([{"roleName": "readWrite", "databaseName": "shop"},
                       {"roleName": "read", "databaseName": "reporting"}]);
    create_user(&cp, &owner, &g, "shop-app", roles).await;
    let answered = Instant::now();
    let first = py.until_ok(&uri(&cp, "shop-app"), Duration::from_secs(5));
    let took = answered.elapsed();
    assert!(first.ok(), "the new user never connected: {}", first.body);
    println!(
        "pymongo connected {took:?} after the API's answer ({} tries)",
        first.body["tries"]
    );
    assert!(took < PROMISE, "connected after {took:?}");

    py.open("app", &uri(&cp, "shop-app"));
    let doc = json!({"sku": "tea", "qty": 2});
    assert!(py.insert("app", "shop", "orders", doc.clone()).ok());
    let found = py.find("app", "shop", "orders");
    assert_eq!(found.body["docs"], json!([doc]), "{}", found.body);
    assert!(
        py.find("app", "reporting", "daily").ok(),
        "read@reporting reads"
    );
    for denied in [
        py.insert("app", "reporting", "daily", json!({"day": 1})),
        py.find("app", "other", "c"),
        py.run("app", "shop", json!({"dropDatabase": 1})),
    ] {
        assert_eq!(denied.code(), Some(13), "{}", denied.body);
    }
    let found = py.find("app", "shop", "orders");
    assert_eq!(
        found.body["docs"],
        json!([doc]),
        "nothing dropped: {}",
        found.body
    );
}

/// Two instances share one PostgreSQL: deleting a user through instance A's API closes
/// its live pymongo connection through instance B within 1 s of A's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_on_one_instance_closes_its_connection_on_another() {
    let Some(a) = control::start_on(Backend::Postgres).await else {
        return;
    };
    let b = a.another().await;
    let upstream = Upstream::start();
    let mut py = Agent::start(None);
    let owner = a.owner_token().await;
    let g = project_in_force(&a, &b, &owner, &upstream, "carol", &mut py).await;

    py.open("held", &uri(&b, "carol"));
    assert!(py.insert("held", "shop", "orders", json!({"n": 1})).ok());
    let (s, body) = a
        .call(
            &owner,
            "DELETE",
            &format!("/groups/{g}/databaseUsers/admin/carol"),
            None,
        )
        .await;
    let answered = Instant::now();
    assert!(s == 202 || s == 204, "delete: {s} {body}");
    let closed = py.until_fails("held", Duration::from_secs(5));
    let took = answered.elapsed();
    assert!(!closed.ok(), "B kept the connection: {}", closed.body);
    println!(
        "B closed the connection {took:?} after A's answer: {}",
        closed.body
    );
    let network = [
        "AutoReconnect",
        "NetworkTimeout",
        "ServerSelectionTimeoutError",
    ];
    assert!(
        network.contains(&closed.kind()) || closed.code() == Some(18),
        "a network or an authentication error: {}",
        closed.body
    );
    assert!(took < PROMISE, "closed after {took:?}");
    // Neither instance lets the user in again.
    for cp in [&a, &b] {
        let again = py.until_ok(&uri(cp, "carol"), Duration::from_millis(300));
        assert_eq!(again.code(), Some(18), "{}", again.body);
    }
}

/// A temporary access-list entry made through the API expires on its own: its live
/// connection closes and a new pymongo connection from its address is refused, while the
/// permanent entry keeps admitting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_access_list_entry_expires_on_its_own() {
    let upstream = Upstream::start();
    let cp = control::start().await;
    let mut local = Agent::start(None);
    let mut temp = Agent::start(Some("127.0.0.3"));
    let owner = cp.owner_token().await;
    let g = project_in_force(&cp, &cp, &owner, &upstream, "dora", &mut local).await;
    let refused = temp.until_ok(&uri(&cp, "dora"), Duration::from_millis(300));
    assert!(
        !refused.ok(),
        "127.0.0.3 is not listed yet: {}",
        refused.body
    );

    const LIFE: i64 = 5;
    let (date, expires) = whole_second_in(LIFE);
    post(
        &cp,
        &owner,
        &format!("/groups/{g}/accessList"),
        json!([{"ipAddress": "127.0.0.3", "comment": "for a while", "deleteAfterDate": date}]),
    )
    .await;
    let admitted = temp.until_ok(&uri(&cp, "dora"), PROMISE);
    assert!(
        admitted.ok(),
        "the temporary entry admits: {}",
        admitted.body
    );
    assert!(Instant::now() < expires, "checked before the expiry");
    temp.open("held", &uri(&cp, "dora"));
    assert!(temp.run("held", "admin", json!({"ping": 1})).ok());

    // Nobody touches the API again: the entry lapses by the clock.
    let closed = temp.until_fails("held", Duration::from_secs(LIFE as u64 + 5));
    assert!(!closed.ok(), "the live connection outlived its entry");
    let at = Instant::now();
    let (late, early) = (
        at.saturating_duration_since(expires),
        expires.saturating_duration_since(at),
    );
    println!(
        "closed {late:?} after / {early:?} before the deleteAfterDate: {}",
        closed.body
    );
    // Slack for reading two clocks (wall and monotonic) a moment apart.
    assert!(early < Duration::from_millis(100), "closed {early:?} early");
    assert!(late < PROMISE, "closed {late:?} late");
    let refused = temp.until_ok(&uri(&cp, "dora"), Duration::from_millis(500));
    assert!(
        !refused.ok(),
        "a new connection is refused: {}",
        refused.body
    );
    assert_ne!(refused.code(), Some(18), "refused before authentication");
    let still = local.until_ok(&uri(&cp, "dora"), Duration::from_millis(500));
    assert!(
        still.ok(),
        "the permanent entry still admits: {}",
        still.body
    );
}

/// A user created through the API connects with the Rust driver too, on a listener of the
/// cluster's own (the store's follower opens it and loads the user, without a restart).
#[tokio::test]
async fn a_user_created_through_the_api_connects_with_the_rust_driver() {
    use mongodb::bson::doc;
    let upstream = Upstream::start();
    let cp = control::start().await;
    let owner = cp.owner_token().await;
    let g = cp.project(&owner, "e2e").await;
    let port = common::free_port();
    let (s, b) = cp
        .call(&owner, "POST", &format!("/groups/{g}/clusters"),
              Some(json!({"name": "app", "upstream": {"uri": upstream.uri}, "listen": [format!("127.0.0.1:{port}")]})))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/accessList"),
            Some(json!([{"ipAddress": "127.0.0.1"}])),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = cp
        .call(&owner, "POST", &format!("/groups/{g}/databaseUsers"),
              Some(json!({"username": "api-user", "databaseName": "admin", "password": "api-user-Passw0rd",
                          "roles": [{"roleName": "readWriteAnyDatabase", "databaseName": "admin"}]})))
        .await;
    assert_eq!(s, 201, "{b}");
    let uri = format!(
        "mongodb://api-user:api-user-Passw0rd@127.0.0.1:{port}/?authSource=admin&tls=true&tlsCAFile={}&serverSelectionTimeoutMS=2000",
        cp.certs.ca.display()
    );
    // The follower applies the change asynchronously: retry until it has (bounded).
    let started = std::time::Instant::now();
    let mut last = String::new();
    while started.elapsed() < std::time::Duration::from_secs(20) {
        let attempt = async {
            let client = mongodb::Client::with_uri_str(&uri).await?;
            client.database("admin").run_command(doc! {"ping": 1}).await
        };
        match attempt.await {
            Ok(reply) => {
                assert_eq!(
                    reply
                        .get_f64("ok")
                        .ok()
                        .or(reply.get_i32("ok").ok().map(f64::from)),
                    Some(1.0)
                );
                eprintln!(
                    "connected {:?} after the user was created",
                    started.elapsed()
                );
                return;
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the API-created user never connected: {last}");
}
