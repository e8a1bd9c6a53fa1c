//! Issue 6, upstream login: the proxy authenticates to a SCRAM-enforcing upstream as the
//! cluster's service user (SHA-256, or SHA-1 when only that is offered); wrong service
//! credentials give a clear probe error and a HostUnreachable to clients, without the user.

mod common;
#[path = "common/scram_upstream.rs"]
mod scram_upstream;

use bson::{rawdoc, RawDocumentBuf};
use common::auth::raw_auth;
use common::raw::RawClient;
use common::{certs, user_toml, Proxy, APP_PASSWORD, APP_USER, LOOPBACK_ACCESS};
use mongoward::config::Config;
use mongoward::gates::credentials::Mechanism;
use mongoward::proxy::upstream::Cluster;
use scram_upstream::ScramUpstream;

const SERVICE: &str = "proxy_svc";
const SECRET: &str = "svc-S3cret-pw";

/// A proxy whose only cluster logs in to `up` as SERVICE with `password` (from a file).
async fn proxy_for(up: &ScramUpstream, password: &str) -> (Proxy, Config) {
    let certs = certs();
    let pw_file = certs.dir.path().join("svc.pw");
    std::fs::write(&pw_file, format!("{password}\n")).expect("write password file");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[clusters]]\nname = \"guarded\"\nuri = {:?}\npassword_file = \"svc.pw\"\n{LOOPBACK_ACCESS}{}",
        certs.cert,
        certs.key,
        up.uri(SERVICE),
        user_toml(APP_USER, APP_PASSWORD, &["readWriteAnyDatabase@admin"], ""),
    );
    let config =
        Config::from_str(&text, &certs.dir.path().join("mongoward.toml")).expect("valid config");
    (Proxy::start_with(certs, &text).await, config)
}

async fn client(proxy: &Proxy) -> RawClient {
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("client login");
    c
}

async fn count(c: &mut RawClient) -> RawDocumentBuf {
    c.command(&rawdoc! {"count": "t", "$db": "app"}).await
}

fn ok(reply: &RawDocumentBuf) -> bool {
    reply.get_f64("ok").map(|v| v == 1.0).unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn right_service_credentials_reach_a_scram_upstream() {
    for (mechs, used) in [
        (
            vec![Mechanism::ScramSha256, Mechanism::ScramSha1],
            "SCRAM-SHA-256",
        ),
        (vec![Mechanism::ScramSha1], "SCRAM-SHA-1"),
    ] {
        let up = ScramUpstream::start(SERVICE, SECRET, &mechs).await;
        let (proxy, config) = proxy_for(&up, SECRET).await;
        let (c, u) = &config.clusters[0];
        let info = Cluster::new(c, u).probe().await.expect("probe logs in");
        assert_eq!(info.version, "7.0.99");
        let mut cl = client(&proxy).await;
        let reply = count(&mut cl).await;
        assert!(ok(&reply), "{used}: the upstream refused: {reply:?}");
        let seen = up.seen.0.lock().expect("seen").clone();
        assert!(
            seen.contains(&format!("{used} {SERVICE}")),
            "{used}: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_service_credentials_fail_clearly_without_leaking_the_user() {
    let up = ScramUpstream::start(SERVICE, SECRET, &[Mechanism::ScramSha256]).await;
    let (proxy, config) = proxy_for(&up, "not-the-password").await;
    let (c, u) = &config.clusters[0];
    let err = Cluster::new(c, u).probe().await.expect_err("probe fails");
    let text = err.to_string();
    assert!(
        text.contains("service user login failed") && text.contains("AuthenticationFailed"),
        "{text}"
    );
    assert!(
        !text.contains("not-the-password") && !text.contains(SERVICE),
        "{text}"
    );

    let mut cl = client(&proxy).await;
    let reply = count(&mut cl).await;
    assert!(!ok(&reply), "{reply:?}");
    assert_eq!(
        reply.get_i32("code").ok(),
        Some(6),
        "HostUnreachable: {reply:?}"
    );
    let shown = format!("{reply:?}");
    assert!(
        !shown.contains(SERVICE) && !shown.contains("not-the-password"),
        "{shown}"
    );
    assert!(up.seen.0.lock().expect("seen").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_config_probe_reports_each_cluster() {
    let up = ScramUpstream::start(SERVICE, SECRET, &[Mechanism::ScramSha256]).await;
    // check-config loads the TLS files too, so they must be real.
    let c = certs();
    let dir = &c.dir;
    std::fs::write(dir.path().join("good.pw"), SECRET).expect("write");
    std::fs::write(dir.path().join("bad.pw"), "wrong-pw").expect("write");
    let cluster = |name: &str, uri: &str, extra: &str| {
        format!("[[clusters]]\nname = {name:?}\nuri = {uri:?}\nsni = [\"{name}.test\"]\n{extra}\n")
    };
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         {LOOPBACK_ACCESS}{}{}{}",
        c.cert,
        c.key,
        cluster("good", &up.uri(SERVICE), "password_file = \"good.pw\""),
        cluster("bad", &up.uri(SERVICE), "password_file = \"bad.pw\""),
        cluster("down", "mongodb://127.0.0.1:1", ""),
    );
    let path = dir.path().join("probe.toml");
    std::fs::write(&path, text).expect("write config");
    let out = tokio::task::spawn_blocking(move || {
        common::binary::command()
            .args(["check-config", "--probe", "--config"])
            .arg(&path)
            .output()
            .expect("run check-config")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("cluster {name}:")))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
            .to_string()
    };
    let good = line("good");
    assert!(
        good.contains("service user authenticated") && good.contains("7.0.99"),
        "{good}"
    );
    let bad = line("bad");
    assert!(
        bad.contains("reachable, service user login failed")
            && bad.contains("AuthenticationFailed"),
        "{bad}"
    );
    assert!(line("down").contains("unreachable"), "{stdout}");
    assert!(!stdout.contains(SERVICE) && !stdout.contains("wrong-pw") && !stdout.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_tls_is_verified_against_tls_ca_file() {
    let up_certs = certs();
    let (server, _store) =
        mongoward::tls::server_config(&up_certs.cert, &up_certs.key).expect("server tls");
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let up =
        ScramUpstream::start_with(SERVICE, SECRET, &[Mechanism::ScramSha256], Some(acceptor)).await;
    let other_ca = certs();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("svc.pw"), SECRET).expect("write");
    let config_with = |ca: &std::path::Path| {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n\
             [[clusters]]\nname = \"t\"\nuri = \"mongodb://{SERVICE}@localhost:{}/?tls=true\"\n\
             password_file = \"svc.pw\"\ntls_ca_file = {ca:?}\n{LOOPBACK_ACCESS}",
            up.addr.port()
        );
        Config::from_str(&text, &dir.path().join("m.toml")).expect("valid config")
    };
    let good = config_with(&up_certs.ca);
    let (c, u) = &good.clusters[0];
    let info = Cluster::new(c, u)
        .probe()
        .await
        .expect("verified TLS + login");
    assert_eq!(info.version, "7.0.99");
    assert_eq!(up.seen.0.lock().expect("seen").len(), 1);

    // A CA that did not sign the upstream's certificate: refused before any login.
    let bad = config_with(&other_ca.ca);
    let (c, u) = &bad.clusters[0];
    let err = Cluster::new(c, u).probe().await.expect_err("unverified");
    assert!(err.to_string().contains("upstream TLS"), "{err}");
    assert_eq!(up.seen.0.lock().expect("seen").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_down_cluster_fails_fast_while_the_other_keeps_working() {
    let up = ScramUpstream::start("", "", &[]).await;
    let certs = certs();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[clusters]]\nname = \"down\"\nuri = \"mongodb://127.0.0.1:1\"\n\
         [[clusters]]\nname = \"up\"\nuri = \"mongodb://{}\"\nlisten = \"127.0.0.1:0\"\n{LOOPBACK_ACCESS}{}",
        certs.cert,
        certs.key,
        up.addr,
        user_toml(APP_USER, APP_PASSWORD, &["readWriteAnyDatabase@admin"], ""),
    );
    let proxy = Proxy::start_with(certs, &text).await;
    let started = std::time::Instant::now();
    let mut down = client(&proxy).await;
    let reply = count(&mut down).await;
    assert_eq!(reply.get_i32("code").ok(), Some(6), "{reply:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    let up_addr = proxy.running.cluster_addrs[0].1;
    let mut c = RawClient::connect(up_addr, proxy.ca()).await;
    raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect("login");
    assert!(ok(&count(&mut c).await));
}
