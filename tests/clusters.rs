//! Issue 6, routing: two clusters in front of two upstreams, reached through a cluster's
//! own listener or by TLS SNI on the shared listener; user scopes are checked against the
//! connection's cluster, and an unknown SNI name ends the handshake.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use bson::{rawdoc, RawDocumentBuf};
use common::auth::raw_auth;
use common::raw::{tls_connector, RawClient};
use common::{user_toml, Certs, Proxy, Upstream, LOOPBACK_ACCESS};
use mongoward::gates::credentials::Mechanism;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

const ROLES: &[&str] = &["readWriteAnyDatabase@admin"];

/// Certificates that also name the clusters' SNI names.
fn certs() -> Certs {
    common::certs_naming(&["a.db.test", "b.db.test"])
}

/// Cluster "a" has a listener of its own and an SNI name; "b" only an SNI name.
async fn two_clusters(a: &Upstream, b: &Upstream) -> (Proxy, SocketAddr) {
    let certs = certs();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[clusters]]\nname = \"a\"\nuri = {:?}\nlisten = \"127.0.0.1:0\"\nsni = [\"a.db.test\"]\n\
         [[clusters]]\nname = \"b\"\nuri = {:?}\nsni = [\"B.db.test\"]\n{LOOPBACK_ACCESS}{}{}",
        certs.cert,
        certs.key,
        a.uri,
        b.uri,
        user_toml("scoped", "pw-scoped", ROLES, "scopes = [\"a\"]"),
        user_toml("free", "pw-free", ROLES, ""),
    );
    let proxy = Proxy::start_with(certs, &text).await;
    let (names, own) = proxy.running.cluster_addrs[0].clone();
    assert_eq!(names, vec!["a".to_string()]);
    (proxy, own)
}

async fn tls(addr: SocketAddr, ca: &Path, name: &str) -> std::io::Result<RawClient> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string()).expect("server name");
    let stream = tls_connector(ca).connect(name, tcp).await?;
    Ok(RawClient::from_stream(stream))
}

async fn login(addr: SocketAddr, ca: &Path, sni: &str, user: &str) -> Result<RawClient, i32> {
    let mut c = tls(addr, ca, sni).await.expect("tls handshake");
    let password = format!("pw-{user}");
    match raw_auth(&mut c, Mechanism::ScramSha256, user, &password).await {
        Ok(()) => Ok(c),
        Err((code, _)) => Err(code),
    }
}

fn ok(reply: &RawDocumentBuf) -> bool {
    reply.get_f64("ok").map(|v| v == 1.0).unwrap_or(false)
        || reply.get_i32("ok").map(|v| v == 1).unwrap_or(false)
}

async fn count(c: &mut RawClient, marker: &str) -> i64 {
    let reply = c
        .command(&rawdoc! {"count": "routing", "query": {"marker": marker}, "$db": "clusters_t"})
        .await;
    assert!(ok(&reply), "count failed: {reply:?}");
    reply
        .get_i32("n")
        .map(i64::from)
        .or_else(|_| reply.get_i64("n"))
        .expect("n")
}

#[tokio::test(flavor = "multi_thread")]
async fn scoped_user_reaches_only_its_cluster_by_listener_and_by_sni() {
    let (ua, ub) = (Upstream::start(), Upstream::start());
    let (proxy, own_a) = two_clusters(&ua, &ub).await;
    let (shared, ca) = (proxy.addr, proxy.ca().to_path_buf());

    // Scoped to "a": through a's own listener and through a's SNI name on the shared one.
    login(own_a, &ca, "localhost", "scoped")
        .await
        .expect("a's listener");
    let mut via_sni = login(shared, &ca, "a.db.test", "scoped")
        .await
        .expect("a's SNI name");
    // On b it fails like any bad login (code 18, AuthenticationFailed).
    assert_eq!(
        login(shared, &ca, "b.db.test", "scoped").await.err(),
        Some(18)
    );

    // Unscoped: both clusters, and each name really reaches its own upstream.
    let mut on_b = login(shared, &ca, "B.DB.TEST", "free")
        .await
        .expect("b as free");
    let mut on_a = login(own_a, &ca, "localhost", "free")
        .await
        .expect("a as free");
    let insert =
        rawdoc! {"insert": "routing", "documents": [{"marker": "only-b"}], "$db": "clusters_t"};
    assert!(ok(&on_b.command(&insert).await));
    assert_eq!(count(&mut on_b, "only-b").await, 1);
    assert_eq!(
        count(&mut on_a, "only-b").await,
        0,
        "a must not see b's data"
    );
    assert_eq!(
        count(&mut via_sni, "only-b").await,
        0,
        "a's SNI name reaches a"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_missing_sni_on_a_shared_listener_is_refused() {
    let (ua, ub) = (Upstream::start(), Upstream::start());
    let (proxy, own_a) = two_clusters(&ua, &ub).await;
    let ca = proxy.ca().to_path_buf();
    let before = proxy
        .running
        .stats()
        .tls_handshake_failures
        .load(std::sync::atomic::Ordering::Relaxed);
    for name in ["localhost", "127.0.0.1"] {
        let err = tls(proxy.addr, &ca, name).await.err().expect("refused");
        let text = format!("{err:?}");
        assert!(text.contains("UnrecognisedName"), "{name}: {text}");
    }
    let after = proxy
        .running
        .stats()
        .tls_handshake_failures
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(after, before + 2);
    // A listener of one cluster does not care about the name.
    login(own_a, &ca, "b.db.test", "free")
        .await
        .expect("own listener ignores SNI");
}

#[test]
fn changed_listener_or_sni_names_need_a_restart() {
    let parse = |extra: &str| {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n\
             [[clusters]]\nname = \"a\"\nuri = \"mongodb://127.0.0.1:1\"\n{extra}\n{LOOPBACK_ACCESS}"
        );
        mongoward::config::Config::from_str(&text, Path::new("/tmp/x.toml")).expect("config")
    };
    let first = parse("sni = [\"a.test\"]");
    let (c, u) = &first.clusters[0];
    let running = mongoward::proxy::upstream::Cluster::new(c, u);
    assert!(running.same_config(c));
    for changed in [
        "sni = [\"other.test\"]",
        "sni = [\"a.test\"]\nlisten = \"127.0.0.1:0\"",
    ] {
        let next = parse(changed);
        assert!(!running.same_config(&next.clusters[0].0), "{changed}");
    }
}
