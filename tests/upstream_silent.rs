//! Issue 13 §1: a silent or slow upstream never hangs a client, leaks a session or
//! defeats revocation. The upstream is an in-repo double that accepts and never answers,
//! or answers the proxy's login and then goes silent (`common::silent_upstream`).

mod common;

use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bson::rawdoc;
use common::auth::{failure, raw_auth};
use common::raw::RawClient;
use common::silent_upstream::{Silence, SilentUpstream, STREAM_CURSOR};
use common::{certs, config_text, run_client, tool, user_toml, Proxy};
use mongoward::gates::credentials::Mechanism;
use mongoward::wire::{encode_op_msg, FLAG_EXHAUST_ALLOWED};

const USER: &str = "clerk";
const PASSWORD: &str = "clerk-Passw0rd";

/// A proxy in front of `up` with the given cluster timeouts, an audit file and `clerk`.
async fn proxy(up: &SilentUpstream, connect_secs: u64, reply_secs: u64) -> Proxy {
    let certs = certs();
    let extra = format!(
        "[audit]\nenabled = true\ndestination = \"file\"\npath = \"audit.log\"\n{}",
        user_toml(USER, PASSWORD, &["readWrite@shop"], "")
    );
    let text = config_text(&certs, &up.uri(), &extra).replace(
        "name = \"default\"\n",
        &format!(
            "name = \"default\"\nconnect_timeout_secs = {connect_secs}\nreply_timeout_secs = {reply_secs}\n"
        ),
    );
    Proxy::start_with(certs, &text).await
}

async fn login(proxy: &Proxy) -> RawClient {
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    raw_auth(&mut c, Mechanism::ScramSha256, USER, PASSWORD)
        .await
        .expect("login");
    c
}

/// Sends a find without waiting for its reply.
async fn send_find(c: &mut RawClient, coll: &str) {
    let id = c.next_id();
    let body = rawdoc! {"find": coll, "filter": {}, "$db": "shop"};
    c.send(&encode_op_msg(id, 0, 0, &body)).await;
}

/// Waits (up to `within`) for the open-connections gauge to read `want`.
async fn gauge_reaches(proxy: &Proxy, want: i64, within: Duration) -> i64 {
    let deadline = Instant::now() + within;
    loop {
        let now = proxy.running.stats().connections_open.load(Relaxed);
        if now == want || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn revoked_events(proxy: &Proxy) -> usize {
    proxy.running.auditor().flush().await;
    let text =
        std::fs::read_to_string(proxy.config_path.with_file_name("audit.log")).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("\"atype\":\"connectionRevoked\""))
        .count()
}

/// Removes `clerk` from the file and reloads.
fn remove_clerk(proxy: &Proxy) {
    let text = std::fs::read_to_string(&proxy.config_path).unwrap();
    let user = user_toml(USER, PASSWORD, &["readWrite@shop"], "");
    assert!(text.contains(&user));
    std::fs::write(&proxy.config_path, text.replace(&user, "")).unwrap();
    proxy.running.reload().expect("reload");
}

const PYMONGO_FIND: &str = r#"
import sys, time, pymongo
client = pymongo.MongoClient(sys.argv[1])
start = time.monotonic()
try:
    client.shop.orders.find_one({})
    print("no error")
except pymongo.errors.PyMongoError as e:
    print(f"elapsed={time.monotonic() - start:.2f} code={getattr(e, 'code', None)} {e}")
client.close()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_gets_an_error_within_the_reply_timeout_and_the_session_ends() {
    let up = SilentUpstream::start(Silence::AfterHello).await;
    let proxy = proxy(&up, 5, 2).await;
    let mut py = Command::new(tool(".venv/bin/python"));
    py.args(["-c", PYMONGO_FIND, &proxy.uri_as(USER, PASSWORD, "")]);
    let started = Instant::now();
    let (ok, out) = run_client(py, Duration::from_secs(30));
    assert!(ok, "pymongo ran to the end: {out}");
    assert!(out.contains("code=50"), "MaxTimeMSExpired: {out}");
    let elapsed: f64 = out
        .split("elapsed=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("elapsed in the output");
    assert!(
        (2.0..6.0).contains(&elapsed),
        "the error came after the 2 s reply timeout, not much later: {out}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        up.unanswered.load(Relaxed) >= 1,
        "the find reached the upstream"
    );
    assert_eq!(
        gauge_reaches(&proxy, 0, Duration::from_secs(3)).await,
        0,
        "mongoward_connections_open back to 0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_never_answers_its_login_times_out() {
    let up = SilentUpstream::start(Silence::Never).await;
    let proxy = proxy(&up, 1, 60).await;
    let mut c = login(&proxy).await;
    let start = Instant::now();
    let reply = c
        .command(&rawdoc! {"find": "orders", "filter": {}, "$db": "shop"})
        .await;
    let (code, msg) = failure(&reply).expect("an error reply");
    assert_eq!(code, 89, "NetworkTimeout: {msg}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    drop(c);
    assert_eq!(gauge_reaches(&proxy, 0, Duration::from_secs(3)).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_gives_up_frees_its_session() {
    let up = SilentUpstream::start(Silence::AfterHello).await;
    let proxy = proxy(&up, 5, 600).await;
    let mut c = login(&proxy).await;
    send_find(&mut c, "orders").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(proxy.running.stats().connections_open.load(Relaxed), 1);
    drop(c);
    assert_eq!(
        gauge_reaches(&proxy, 0, Duration::from_secs(3)).await,
        0,
        "the session ended with its client, long before the reply timeout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_mid_command_closes_within_a_second_and_is_audited_once() {
    let up = SilentUpstream::start(Silence::AfterHello).await;
    let proxy = proxy(&up, 5, 600).await;
    let mut c = login(&proxy).await;
    send_find(&mut c, "orders").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let start = Instant::now();
    remove_clerk(&proxy);
    let closed = tokio::time::timeout(Duration::from_secs(1), c.closed()).await;
    assert_eq!(closed, Ok(true), "closed while waiting on the upstream");
    assert!(start.elapsed() < Duration::from_secs(1));
    // Several sweeps later, still one event for the one connection.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(revoked_events(&proxy).await, 1);
    assert_eq!(gauge_reaches(&proxy, 0, Duration::from_secs(2)).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_closes_an_exhaust_stream() {
    let up = SilentUpstream::start(Silence::AfterHello).await;
    let proxy = proxy(&up, 5, 600).await;
    let mut c = login(&proxy).await;
    let reply = c
        .command(&rawdoc! {"find": "stream", "filter": {}, "$db": "shop"})
        .await;
    assert!(failure(&reply).is_none(), "{reply:?}");
    let id = c.next_id();
    let more = rawdoc! {"getMore": STREAM_CURSOR, "collection": "stream", "$db": "shop"};
    c.send(&encode_op_msg(id, 0, FLAG_EXHAUST_ALLOWED, &more))
        .await;
    let first = c.read_frame().await.expect("the stream's first batch");
    let flags = u32::from_le_bytes([first[16], first[17], first[18], first[19]]);
    assert_eq!(flags & 2, 2, "moreToCome: the stream is open");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let start = Instant::now();
    remove_clerk(&proxy);
    let closed = tokio::time::timeout(Duration::from_secs(1), c.closed()).await;
    assert_eq!(closed, Ok(true), "the exhaust stream was cut");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(revoked_events(&proxy).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_does_not_wait_out_a_hung_upstream() {
    let up = SilentUpstream::start(Silence::AfterHello).await;
    let proxy = proxy(&up, 5, 600).await;
    let mut c = login(&proxy).await;
    send_find(&mut c, "orders").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let start = Instant::now();
    proxy.running.shutdown(Duration::from_secs(1)).await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        proxy.running.active_connections(),
        0,
        "the hung session closed at the end of the drain"
    );
    assert!(c.closed().await, "the client sees the close");
}
