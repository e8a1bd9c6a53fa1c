//! Store-managed policy end to end, without the HTTP API: the test writes records with
//! `Store::apply` (as the API does) and real clients connect through real proxies (real
//! TLS, real SCRAM, the harness's real upstream) on real SQLite and PostgreSQL.

mod common;
#[path = "control_live/pooled.rs"]
mod pooled;
#[path = "common/scripted_upstream/mod.rs"]
mod scripted_upstream;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bson::{doc, rawdoc};
use common::auth::raw_auth;
use common::postgres;
use common::raw::{bytes_before_close, tcp_from, tls_connector, RawClient};
use common::{eventually, free_port, rfc3339_in, Certs, Upstream};
use mongoward::config::Config;
use mongoward::control::model::{self, AccessEntry, Cluster, DatabaseUser, Org, Project};
use mongoward::control::model::{OrgSettings, RoleAssignment, Upstream as UpstreamRec};
use mongoward::control::policy::CompileOptions;
use mongoward::control::{sync_once, Expect, Op, Store};
use mongoward::gates::credentials::Mechanism;
use mongoward::proxy::Running;
use serde_json::to_value;
use tokio::net::TcpSocket;

const PASSWORD: &str = "store-Passw0rd";

/// One proxy in store mode.
struct Instance {
    running: Running,
    addr: SocketAddr,
    _cp: mongoward::control::run::ControlPlane,
}

fn certs() -> Certs {
    common::certs_naming(&["a.test", "b.test"])
}

async fn start(certs: &Certs, store_url: &str, n: usize) -> Instance {
    start_with(certs, store_url, n, "").await
}

/// `control_plane`: more lines of the `[control_plane]` table.
async fn start_with(certs: &Certs, store_url: &str, n: usize, control_plane: &str) -> Instance {
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [control_plane]\nstore = {store_url:?}\n{control_plane}",
        certs.cert, certs.key
    );
    let path = certs.dir.path().join(format!("mongoward-{n}.toml"));
    std::fs::write(&path, text).expect("write config");
    let config = Config::load(&path).expect("store-mode config");
    let running = mongoward::proxy::start(&config)
        .await
        .expect("proxy starts");
    let cp = mongoward::control::run::start(&config, &running)
        .await
        .expect("control plane starts")
        .expect("store mode");
    let addr = running.tls_addrs[0];
    Instance {
        running,
        addr,
        _cp: cp,
    }
}

fn put(key: String, value: serde_json::Value) -> Op {
    Op::Put {
        key,
        value,
        expect: Expect::Any,
    }
}

fn cluster(gid: &str, name: &str, uri: &str, listen: Option<SocketAddr>, sni: &[&str]) -> Op {
    let rec = Cluster {
        name: name.into(),
        group_id: gid.into(),
        upstream: UpstreamRec {
            uri: uri.into(),
            password_env: None,
            password_file: None,
            tls_ca_file: None,
        },
        listen: listen.iter().map(|a| a.to_string()).collect(),
        sni: sni.iter().map(|s| s.to_string()).collect(),
    };
    put(model::cluster_key(gid, name), to_value(rec).unwrap())
}

fn entry(gid: &str, cidr: &str, delete_after: Option<String>) -> Op {
    let rec = AccessEntry {
        group_id: gid.into(),
        cidr_block: Some(cidr.into()),
        ip_address: None,
        comment: Some("test".into()),
        delete_after_date: delete_after,
    };
    put(model::access_entry_key(gid, cidr), to_value(rec).unwrap())
}

fn user(gid: &str, name: &str) -> Op {
    let rec = DatabaseUser {
        username: name.into(),
        database_name: "admin".into(),
        group_id: gid.into(),
        roles: vec![RoleAssignment {
            role_name: "readWriteAnyDatabase".into(),
            database_name: "admin".into(),
            collection_name: None,
        }],
        scopes: Vec::new(),
        delete_after_date: None,
        description: None,
        labels: Vec::new(),
        credentials: model::scram_credentials(name, PASSWORD).unwrap(),
    };
    put(
        model::db_user_key(gid, "admin", name),
        to_value(rec).unwrap(),
    )
}

fn delete(key: String) -> Op {
    Op::Delete {
        key,
        expect: Expect::Any,
    }
}

/// An org and a project; returns the project id.
async fn project(store: &Store, org: &str) -> String {
    let gid = model::new_id();
    let o = Org {
        id: org.into(),
        name: "org".into(),
        settings: OrgSettings::default(),
    };
    let p = Project {
        id: gid.clone(),
        name: format!("p-{gid}"),
        org_id: org.into(),
        created: "2026-01-01T00:00:00Z".into(),
    };
    store
        .apply(vec![
            put(model::org_key(org), to_value(o).unwrap()),
            put(model::project_key(&gid), to_value(p).unwrap()),
        ])
        .await
        .unwrap();
    gid
}

async fn connect(addr: SocketAddr, ca: &std::path::Path, source: &str, sni: &str) -> RawClient {
    let source: IpAddr = source.parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    let tcp = socket.connect(addr).await.expect("tcp connect");
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let stream = tls_connector(ca).connect(name, tcp).await.expect("tls");
    RawClient::from_stream(stream)
}

/// Opens a connection and logs in; Err when either fails.
async fn login(addr: SocketAddr, ca: &std::path::Path, name: &str) -> Result<RawClient, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    let tcp = socket.connect(addr).await.map_err(|e| e.to_string())?;
    let server = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tls_connector(ca)
        .connect(server, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let mut c = RawClient::from_stream(stream);
    raw_auth(&mut c, Mechanism::ScramSha256, name, PASSWORD)
        .await
        .map_err(|(code, msg)| format!("{code}: {msg}"))?;
    Ok(c)
}

async fn ping(c: &mut RawClient) -> bool {
    let reply = c.command(&rawdoc! {"ping": 1, "$db": "admin"}).await;
    reply.get_f64("ok").ok() == Some(1.0) || reply.get_i32("ok").ok() == Some(1)
}

/// Generous bounds: the promise is 1 s (measured and printed); a loaded CI machine gets
/// slack so the test checks the behaviour, not the machine.
const SOON: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_users_and_entries_follow_the_store() {
    let upstream = Upstream::start();
    let certs = certs();
    let url = format!("sqlite://{}", certs.dir.path().join("state.db").display());
    let store = Store::open(&url, None).await.unwrap();
    let gid = project(&store, &model::new_id()).await;
    store
        .apply(vec![
            cluster(&gid, "default", &upstream.uri, None, &[]),
            entry(&gid, "127.0.0.1/32", None),
        ])
        .await
        .unwrap();
    let proxy = start(&certs, &url, 0).await;
    let cp = &proxy.running.stats().control_plane;
    assert_eq!(cp.enabled.load(Ordering::Relaxed), 1);
    assert!(
        login(proxy.addr, &certs.ca, "alice").await.is_err(),
        "no such user yet"
    );

    // A user written to the store logs in (Rust driver too) within the promise.
    store.apply(vec![user(&gid, "alice")]).await.unwrap();
    let took = eventually(SOON, || async {
        login(proxy.addr, &certs.ca, "alice").await.is_ok()
    })
    .await
    .expect("the new user can log in");
    println!("user enforced after {took:?}");
    let uri = format!(
        "mongodb://alice:{PASSWORD}@{}/?authSource=admin&tls=true&tlsCAFile={}",
        proxy.addr,
        certs.ca.display()
    );
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("driver ping");

    // Deleting it closes its live connection.
    let mut live = login(proxy.addr, &certs.ca, "alice").await.unwrap();
    assert!(ping(&mut live).await);
    let t0 = Instant::now();
    store
        .apply(vec![delete(model::db_user_key(&gid, "admin", "alice"))])
        .await
        .unwrap();
    assert!(
        live.closed().await,
        "the deleted user's connection was closed"
    );
    println!("user revoked after {:?}", t0.elapsed());
    assert!(t0.elapsed() < SOON);
    assert!(login(proxy.addr, &certs.ca, "alice").await.is_err());

    // A temporary entry admits until its deleteAfterDate, then closes on its own.
    store
        .apply(vec![entry(&gid, "127.0.0.3/32", Some(rfc3339_in(5)))])
        .await
        .unwrap();
    let ca = certs.ca.clone();
    let admitted = eventually(SOON, || async {
        let tcp = tcp_from("127.0.0.3".parse().unwrap(), proxy.addr).await;
        bytes_before_close_or_open(tcp).await
    })
    .await;
    assert!(admitted.is_some(), "the temporary entry admits 127.0.0.3");
    let mut temp = connect(proxy.addr, &ca, "127.0.0.3", "localhost").await;
    assert!(ping(&mut temp).await);
    assert!(temp.closed().await, "closed when the entry expired");
    let tcp = tcp_from("127.0.0.3".parse().unwrap(), proxy.addr).await;
    assert_eq!(bytes_before_close(tcp, &[]).await, 0, "refused before TLS");
    assert!(cp.revision.load(Ordering::Relaxed) > 0);
}

/// True when the proxy answers a ClientHello (admitted), false when it closes silently.
async fn bytes_before_close_or_open(mut tcp: tokio::net::TcpStream) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.write_all(&common::raw::client_hello()).await;
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_projects_share_a_listener_and_clusters_come_and_go() {
    let upstream = Upstream::start();
    let certs = certs();
    let url = format!("sqlite://{}", certs.dir.path().join("state.db").display());
    let store = Store::open(&url, None).await.unwrap();
    let org = model::new_id();
    let a = project(&store, &org).await;
    let b = project(&store, &org).await;
    store
        .apply(vec![
            cluster(&a, "a", &upstream.uri, None, &["a.test"]),
            entry(&a, "127.0.0.1/32", None),
            user(&a, "ann"),
            cluster(&b, "b", &upstream.uri, None, &["b.test"]),
            entry(&b, "127.0.0.2/32", None),
            user(&b, "bob"),
        ])
        .await
        .unwrap();
    let proxy = start(&certs, &url, 0).await;
    let refused = || {
        proxy
            .running
            .stats()
            .connections_refused_access_list
            .load(Ordering::Relaxed)
    };

    // Each project's access list applies to its own cluster's SNI name.
    let mut ca = connect(proxy.addr, &certs.ca, "127.0.0.1", "a.test").await;
    assert!(ping(&mut ca).await);
    let mut cb = connect(proxy.addr, &certs.ca, "127.0.0.2", "b.test").await;
    assert!(ping(&mut cb).await);
    // Project A's user does not exist on project B's cluster.
    assert!(raw_auth(&mut cb, Mechanism::ScramSha256, "ann", PASSWORD)
        .await
        .is_err());
    assert!(raw_auth(&mut ca, Mechanism::ScramSha256, "ann", PASSWORD)
        .await
        .is_ok());
    // 127.0.0.1 asking for b.test is refused after the ClientHello, before any TLS work.
    let before = refused();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let tcp = socket.connect(proxy.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("b.test").unwrap();
    assert!(tls_connector(&certs.ca).connect(name, tcp).await.is_err());
    assert_eq!(refused(), before + 1);

    // A new cluster with a listener of its own opens without a restart...
    let port = free_port();
    let own: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    store
        .apply(vec![cluster(&a, "a2", &upstream.uri, Some(own), &[])])
        .await
        .unwrap();
    let opened = eventually(SOON, || async {
        match tokio::net::TcpStream::connect(own).await {
            Ok(tcp) => bytes_before_close_or_open(tcp).await,
            Err(_) => false,
        }
    })
    .await;
    assert!(opened.is_some(), "the new cluster's listener opened");
    let mut c2 = connect(own, &certs.ca, "127.0.0.1", "localhost").await;
    assert!(raw_auth(&mut c2, Mechanism::ScramSha256, "ann", PASSWORD)
        .await
        .is_ok());
    // ...and deleting it closes its listener and its connections.
    store
        .apply(vec![delete(model::cluster_key(&a, "a2"))])
        .await
        .unwrap();
    assert!(
        c2.closed().await,
        "the deleted cluster's connection was closed"
    );
    let gone = eventually(SOON, || async {
        tokio::net::TcpStream::connect(own).await.is_err()
    });
    assert!(
        gone.await.is_some(),
        "the deleted cluster's listener closed"
    );
    assert!(ping(&mut ca).await, "other clusters are untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_follow_one_store() {
    let Some(mut pg) = postgres::Postgres::start() else {
        return;
    };
    let upstream = Upstream::start();
    let certs = certs();
    let store = Store::open(&pg.url(), None).await.unwrap();
    let gid = project(&store, &model::new_id()).await;
    store
        .apply(vec![
            cluster(&gid, "default", &upstream.uri, None, &[]),
            entry(&gid, "127.0.0.1/32", None),
        ])
        .await
        .unwrap();
    let one = start(&certs, &pg.url(), 1).await;
    let two = start(&certs, &pg.url(), 2).await;
    store.apply(vec![user(&gid, "carol")]).await.unwrap();
    for p in [&one, &two] {
        let took = eventually(SOON, || async {
            login(p.addr, &certs.ca, "carol").await.is_ok()
        })
        .await
        .expect("the user reaches both instances");
        println!("user enforced on {} after {took:?}", p.addr);
    }
    let mut c1 = login(one.addr, &certs.ca, "carol").await.unwrap();
    let mut c2 = login(two.addr, &certs.ca, "carol").await.unwrap();
    let t0 = Instant::now();
    store
        .apply(vec![delete(model::db_user_key(&gid, "admin", "carol"))])
        .await
        .unwrap();
    assert!(
        c1.closed().await && c2.closed().await,
        "revoked on both instances"
    );
    println!("user revoked on both after {:?}", t0.elapsed());
    assert!(t0.elapsed() < SOON);

    // The store goes away: the last policy stays in force and the staleness shows.
    store.apply(vec![user(&gid, "dave")]).await.unwrap();
    eventually(SOON, || async {
        login(one.addr, &certs.ca, "dave").await.is_ok()
    })
    .await
    .expect("dave reaches instance one");
    pg.stop();
    let stats = &one.running.stats().control_plane;
    let down = eventually(Duration::from_secs(10), || async {
        stats.store_up.load(Ordering::Relaxed) == 0
    });
    assert!(down.await.is_some(), "the follower noticed the outage");
    assert!(
        login(one.addr, &certs.ca, "dave").await.is_ok(),
        "last policy still enforced"
    );
    assert!(
        login(one.addr, &certs.ca, "carol").await.is_err(),
        "and still closed"
    );
    let stale = eventually(Duration::from_secs(10), || async {
        stats.sync_age_seconds.load(Ordering::Relaxed) >= 1
    });
    assert!(
        stale.await.is_some(),
        "staleness grows while the store is down"
    );
    // Back: changes made meanwhile (by another writer) are caught up by revision.
    pg.spawn();
    let again = eventually(Duration::from_secs(20), || async {
        Store::open(&pg.url(), None).await.is_ok()
    });
    assert!(again.await.is_some());
    let store = Store::open(&pg.url(), None).await.unwrap();
    store
        .apply(vec![delete(model::db_user_key(&gid, "admin", "dave"))])
        .await
        .unwrap();
    for p in [&one, &two] {
        let caught = eventually(Duration::from_secs(10), || async {
            login(p.addr, &certs.ca, "dave").await.is_err()
        });
        assert!(
            caught.await.is_some(),
            "{} caught up after the outage",
            p.addr
        );
    }
    assert_eq!(stats.store_up.load(Ordering::Relaxed), 1);
}

/// A follower whose revision fell behind the change log's pruned horizon reloads the whole
/// policy, even when every change it can still see is outside the projects.
async fn behind_a_prune(url: &str, certs: &Certs, upstream: &Upstream, n: usize) {
    let store = Store::open(url, None).await.unwrap();
    let gid = project(&store, &model::new_id()).await;
    store
        .apply(vec![
            cluster(&gid, "default", &upstream.uri, None, &[]),
            entry(&gid, "127.0.0.1/32", None),
            user(&gid, "early"),
        ])
        .await
        .unwrap();
    // A store-mode proxy whose follower this test drives by hand.
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [control_plane]\nstore = {url:?}\n",
        certs.cert, certs.key
    );
    let path = certs.dir.path().join(format!("mongoward-manual-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    let config = Config::load(&path).unwrap();
    let running = mongoward::proxy::start(&config).await.unwrap();
    let live = running.live();
    live.set_store_mode();
    let opts = CompileOptions {
        base: certs.dir.path().into(),
        max_temporary_days: 7,
        cluster_pool: Default::default(),
    };
    let addr = running.tls_addrs[0];
    let r0 = sync_once(&store, &live, &opts, None).await.unwrap();
    assert!(login(addr, &certs.ca, "early").await.is_ok());

    // The policy changes, then enough other writes follow that a prune drops those changes.
    store
        .apply(vec![
            delete(model::db_user_key(&gid, "admin", "early")),
            user(&gid, "late"),
        ])
        .await
        .unwrap();
    for i in 0..20 {
        store
            .apply(vec![put(format!("tokens/prune-{i}"), serde_json::json!(i))])
            .await
            .unwrap();
    }
    assert!(store.prune_changes(5).await.unwrap() > 0);
    assert!(store.horizon().await.unwrap() > r0);
    let generation = live.generation();
    let r1 = sync_once(&store, &live, &opts, Some(r0)).await.unwrap();
    assert_eq!(r1, store.revision().await.unwrap());
    assert!(
        live.generation() > generation,
        "a full reload was installed"
    );
    assert!(login(addr, &certs.ca, "late").await.is_ok(), "the new user");
    assert!(
        login(addr, &certs.ca, "early").await.is_err(),
        "the deleted user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_follower_behind_a_prune_reloads() {
    let upstream = Upstream::start();
    let certs = certs();
    let url = format!("sqlite://{}", certs.dir.path().join("state.db").display());
    behind_a_prune(&url, &certs, &upstream, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_follower_behind_a_prune_reloads() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let upstream = Upstream::start();
    let certs = certs();
    behind_a_prune(&pg.url(), &certs, &upstream, 0).await;
}
