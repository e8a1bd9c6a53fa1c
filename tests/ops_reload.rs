//! Issue 7: reload and live connections. A role change applies to the user's next
//! command on the same connection; removing a user closes its connections within a second
//! while other users' connections stay open and working.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bson::rawdoc;
use common::auth::raw_auth;
use common::raw::RawClient;
use common::{user_toml, Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;

const USER: &str = "clerk";
const PASSWORD: &str = "clerk-Passw0rd";

async fn login(proxy: &Proxy, user: &str, password: &str) -> RawClient {
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw_auth(&mut c, Mechanism::ScramSha256, user, password)
        .await
        .expect("login");
    c
}

/// Runs an insert; Ok(()) or the server's error code.
async fn insert(c: &mut RawClient) -> Result<(), i32> {
    let reply = c
        .command(&rawdoc! {"insert": "orders", "documents": [{"n": 1}], "$db": "shop"})
        .await;
    match reply.get_i32("code") {
        Ok(code) => Err(code),
        Err(_) => Ok(()),
    }
}

fn rewrite_roles(proxy: &Proxy, from: &[&str], to: Option<&[&str]>) {
    let text = std::fs::read_to_string(&proxy.config_path).unwrap();
    let old = user_toml(USER, PASSWORD, from, "");
    assert!(text.contains(&old));
    let new = to
        .map(|r| user_toml(USER, PASSWORD, r, ""))
        .unwrap_or_default();
    std::fs::write(&proxy.config_path, text.replace(&old, &new)).unwrap();
    proxy.running.reload().expect("reload");
}

#[tokio::test(flavor = "multi_thread")]
async fn role_change_applies_to_the_next_command_without_reconnecting() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &user_toml(USER, PASSWORD, &["read@shop"], "")).await;
    let mut c = login(&proxy, USER, PASSWORD).await;
    assert_eq!(insert(&mut c).await, Err(13), "read role cannot insert");
    let accepted = proxy.running.stats().connections_accepted.load(Relaxed);

    rewrite_roles(&proxy, &["read@shop"], Some(&["readWrite@shop"]));
    assert_eq!(insert(&mut c).await, Ok(()), "same connection, new role");
    rewrite_roles(&proxy, &["readWrite@shop"], Some(&["read@shop"]));
    assert_eq!(insert(&mut c).await, Err(13), "narrowed again");
    let now = proxy.running.stats().connections_accepted.load(Relaxed);
    assert_eq!(now, accepted, "no reconnect happened");
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_user_closes_its_connections_within_a_second() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(
        &upstream,
        &user_toml(USER, PASSWORD, &["readWrite@shop"], ""),
    )
    .await;
    let mut gone = [
        login(&proxy, USER, PASSWORD).await,
        login(&proxy, USER, PASSWORD).await,
    ];
    let mut stays = login(&proxy, APP_USER, APP_PASSWORD).await;
    assert_eq!(proxy.running.active_connections(), 3);

    let start = Instant::now();
    rewrite_roles(&proxy, &["readWrite@shop"], None);
    for c in &mut gone {
        let closed = tokio::time::timeout(Duration::from_secs(1), c.closed()).await;
        assert_eq!(closed, Ok(true), "removed user's connection is closed");
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(insert(&mut stays).await, Ok(()), "other users keep working");
    // The closed sessions leave the count once their tasks end.
    let deadline = Instant::now() + Duration::from_secs(1);
    while proxy.running.active_connections() != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.running.active_connections(), 1);
}
