//! Issue 4, the authentication gate seen byte by byte: a SCRAM client driven by hand over
//! a raw TLS connection, so each reply (hello's speculative step, saslSupportedMechs,
//! error codes) and each connection close is observed directly.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bson::rawdoc;
use common::auth::{
    authenticated_users, bin, connect_from, failure, nonce, raw_auth, rfc3339_in, sasl_finish,
};
use common::raw::RawClient;
use common::{user_toml, Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;
use mongoward::gates::scram::ScramClient;
use mongoward::proxy::stats::Stats;

const ROLES: &[&str] = &["readWriteAnyDatabase@admin"];
const FAILED: (i32, &str) = (18, "Authentication failed.");
const LOCAL2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Admits both loopback sources the tests connect from.
const LOOPBACK8: &str = "[[access_list]]\ncidr = \"127.0.0.0/8\"\n";

fn err_of(r: Result<(), (i32, String)>) -> (i32, String) {
    r.expect_err("authentication should fail")
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_negotiates_and_authenticates_speculatively() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    let (mut client, first) =
        ScramClient::new(Mechanism::ScramSha256, APP_USER, APP_PASSWORD, &nonce()).unwrap();
    let hello = c
        .command(&rawdoc! {
            "hello": 1, "$db": "admin",
            "saslSupportedMechs": format!("admin.{APP_USER}"),
            "speculativeAuthenticate": {"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(first), "db": "admin"},
        })
        .await;
    let mechs: Vec<&str> = hello
        .get_array("saslSupportedMechs")
        .expect("saslSupportedMechs")
        .into_iter()
        .map(|m| m.unwrap().as_str().unwrap())
        .collect();
    assert_eq!(mechs, ["SCRAM-SHA-1", "SCRAM-SHA-256"]);
    let spec = hello
        .get_document("speculativeAuthenticate")
        .expect("the speculative first step is answered in hello")
        .to_raw_document_buf();
    assert!(!spec.get_bool("done").unwrap());
    sasl_finish(&mut c, &mut client, &spec)
        .await
        .expect("the conversation continues from hello");
    assert_eq!(
        authenticated_users(&mut c).await,
        [format!("{APP_USER}@admin")]
    );
    assert_eq!(Stats::get(&proxy.running.stats().auth_speculative), 1);
    // A data command now reaches the upstream.
    let reply = c
        .command(&rawdoc! {"insert": "t", "documents": [{"a": 1}], "$db": "raw"})
        .await;
    assert_eq!(failure(&reply), None, "{reply:?}");

    // Unknown users get mongod's default pair: the answer does not reveal who exists.
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    let hello = c
        .command(&rawdoc! {"hello": 1, "$db": "admin", "saslSupportedMechs": "admin.nobody"})
        .await;
    let n = hello
        .get_array("saslSupportedMechs")
        .unwrap()
        .into_iter()
        .count();
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_user_per_connection() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &user_toml("bob", "pw-bob", ROLES, "")).await;
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    // Before authentication only the handshake family is answered.
    let reply = c.command(&rawdoc! {"find": "t", "$db": "raw"}).await;
    let (code, msg) = failure(&reply).expect("refused");
    assert_eq!(code, 13);
    assert!(msg.contains("requires authentication"), "{msg}");

    raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("first login");
    // Re-authenticating as the same user is allowed (drivers do it after a reconnect).
    raw_auth(&mut c, Mechanism::ScramSha1, APP_USER, APP_PASSWORD)
        .await
        .expect("same user again");
    // As somebody else it is refused, and the connection keeps its first user.
    let (code, msg) = err_of(raw_auth(&mut c, Mechanism::ScramSha256, "bob", "pw-bob").await);
    assert_ne!(code, 0);
    assert!(msg.contains("one user"), "{code} {msg}");
    assert_eq!(
        authenticated_users(&mut c).await,
        [format!("{APP_USER}@admin")]
    );
    // A wrong password for the same user does not log the connection out either.
    let e = err_of(raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, "nope").await);
    assert_eq!((e.0, e.1.as_str()), FAILED);
    assert_eq!(
        authenticated_users(&mut c).await,
        [format!("{APP_USER}@admin")]
    );
    // logout, then the other user is fine.
    let out = c.command(&rawdoc! {"logout": 1, "$db": "admin"}).await;
    assert_eq!(failure(&out), None);
    assert!(authenticated_users(&mut c).await.is_empty());
    raw_auth(&mut c, Mechanism::ScramSha256, "bob", "pw-bob")
        .await
        .expect("after logout");
    assert_eq!(authenticated_users(&mut c).await, ["bob@admin"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_source_restricts_where_a_user_may_log_in_from() {
    let upstream = Upstream::start();
    let extra = format!(
        "{LOOPBACK8}{}",
        user_toml(
            "pinned",
            "pw-pinned",
            ROLES,
            "client_source = [\"127.0.0.2/32\"]"
        )
    );
    let proxy = Proxy::start(&upstream, &extra).await;
    let mut from1 = RawClient::connect(proxy.addr, proxy.ca()).await;
    for m in [Mechanism::ScramSha256, Mechanism::ScramSha1] {
        let e = err_of(raw_auth(&mut from1, m, "pinned", "pw-pinned").await);
        assert_eq!((e.0, e.1.as_str()), FAILED);
    }
    let mut from2 = connect_from(proxy.addr, proxy.ca(), LOCAL2).await;
    raw_auth(&mut from2, Mechanism::ScramSha256, "pinned", "pw-pinned")
        .await
        .expect("from 127.0.0.2");
    assert_eq!(authenticated_users(&mut from2).await, ["pinned@admin"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttle_is_per_source_and_does_not_lock_the_user_out_elsewhere() {
    let upstream = Upstream::start();
    let extra =
        format!("{LOOPBACK8}[auth.throttle]\nsource_max_failures = 3\nsource_refuse_ms = 2000\n");
    let proxy = Proxy::start(&upstream, &extra).await;
    let mut attacker = RawClient::connect(proxy.addr, proxy.ca()).await;
    for i in 0..3 {
        let e = err_of(
            raw_auth(
                &mut attacker,
                Mechanism::ScramSha256,
                APP_USER,
                &format!("g{i}"),
            )
            .await,
        );
        assert_eq!((e.0, e.1.as_str()), FAILED);
    }
    // Refused at saslStart now, with the same answer as a wrong password.
    let e = err_of(
        raw_auth(
            &mut attacker,
            Mechanism::ScramSha256,
            APP_USER,
            APP_PASSWORD,
        )
        .await,
    );
    assert_eq!((e.0, e.1.as_str()), FAILED);
    // The real user, elsewhere, is not affected.
    let mut real = connect_from(proxy.addr, proxy.ca(), LOCAL2).await;
    raw_auth(&mut real, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("another source logs in");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    raw_auth(
        &mut attacker,
        Mechanism::ScramSha256,
        APP_USER,
        APP_PASSWORD,
    )
    .await
    .expect("after the cooldown");
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_closes_the_live_connection() {
    let upstream = Upstream::start();
    let extra = user_toml(
        "temp",
        "pw-temp",
        ROLES,
        &format!("delete_after = {:?}", rfc3339_in(3)),
    );
    let proxy = Proxy::start(&upstream, &extra).await;
    // delete_after has one-second resolution: the user is gone from the next whole second.
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw_auth(&mut c, Mechanism::ScramSha256, "temp", "pw-temp")
        .await
        .expect("alive");
    let mut idle = RawClient::connect(proxy.addr, proxy.ca()).await;
    let start = Instant::now();
    assert!(
        c.closed().await,
        "the connection of an expired user stays open"
    );
    let waited = start.elapsed();
    assert!(
        waited > Duration::from_millis(1500) && waited < Duration::from_millis(4500),
        "closed after {waited:?}, expected ~3 s"
    );
    // Connections without that user are left alone, and the user cannot log in again.
    let e = err_of(raw_auth(&mut idle, Mechanism::ScramSha256, "temp", "pw-temp").await);
    assert_eq!((e.0, e.1.as_str()), FAILED);
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_tcp_client_is_closed_after_the_handshake_timeout() {
    let upstream = Upstream::start();
    let certs = common::certs();
    let text = common::config_text(&certs, &upstream.uri, "").replacen(
        "[server]\n",
        "[server]\nhandshake_timeout_secs = 1\n",
        1,
    );
    let proxy = Proxy::start_with(certs, &text).await;
    let mut tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let start = Instant::now();
    let mut b = [0u8; 1];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut b),
    )
    .await
    .expect("closed within 5 s");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    // The socket closes as the timed-out handshake is dropped; the counter follows a
    // moment later on the proxy's task.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Stats::get(&proxy.running.stats().tls_handshake_failures) < 1 && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(Stats::get(&proxy.running.stats().tls_handshake_failures) >= 1);
}
