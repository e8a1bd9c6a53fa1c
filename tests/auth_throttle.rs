//! Issue 13 §2: parallel SCRAM conversations must not bypass the failure throttle. Many
//! raw TLS connections from one address each start a conversation before any proof is
//! sent; the throttle must bound how many proofs are ever verified, and a conversation
//! started before the source was refused must fail after it, right password or not.

mod common;

use bson::{rawdoc, RawDocumentBuf};
use common::auth::{bin, failure, nonce, raw_auth, sasl_finish};
use common::raw::RawClient;
use common::{Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;
use mongoward::gates::scram::ScramClient;
use mongoward::proxy::stats::Stats;
use serde_json::Value;

const PARALLEL: usize = 500;
const BUDGET: u64 = 10;

/// One connection that has sent its saslStart: the client state and the proxy's answer.
struct Started {
    conn: RawClient,
    client: ScramClient,
    reply: RawDocumentBuf,
}

async fn start(proxy: &Proxy, password: &str) -> Started {
    let mut conn = RawClient::connect(proxy.addr, proxy.ca()).await;
    let m = Mechanism::ScramSha256;
    let (client, first) = ScramClient::new(m, APP_USER, password, &nonce()).expect("client");
    let reply = conn
        .command(
            &rawdoc! {"saslStart": 1, "mechanism": m.name(), "payload": bin(first), "$db": "admin"},
        )
        .await;
    Started {
        conn,
        client,
        reply,
    }
}

/// Sends the proof of a started conversation (if saslStart was answered).
async fn prove(mut s: Started) -> Result<(), (i32, String)> {
    if let Some(f) = failure(&s.reply) {
        return Err(f);
    }
    sasl_finish(&mut s.conn, &mut s.client, &s.reply).await
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_conversations_cannot_outrun_the_throttle() {
    let upstream = Upstream::start();
    let extra = format!(
        "[audit]\nenabled = true\ndestination = \"file\"\npath = \"audit.log\"\nqueue_capacity = 4096\n\
         [auth.throttle]\nsource_max_failures = {BUDGET}\nsource_max_concurrent = {PARALLEL}\n"
    );
    let proxy = Proxy::start(&upstream, &extra).await;
    let stats = proxy.running.stats();

    // The right password's conversation starts first and waits.
    let right = start(&proxy, APP_PASSWORD).await;
    assert_eq!(
        failure(&right.reply),
        None,
        "admitted: the budget is not spent yet"
    );
    // Then the rest start in parallel, all before any proof is sent.
    let starts = (1..PARALLEL).map(|i| {
        let proxy = &proxy;
        async move { start(proxy, &format!("guess-{i}")).await }
    });
    let wrong = futures_util::future::join_all(starts).await;
    assert!(
        wrong.iter().all(|s| failure(&s.reply).is_none()),
        "every conversation starts (the cap is set above them)"
    );
    // Every wrong proof goes in at once.
    let results = futures_util::future::join_all(wrong.into_iter().map(prove)).await;
    assert!(results.iter().all(|r| r.is_err()));
    // The conversation started before the source was refused now fails too.
    let e = prove(right).await.expect_err("the source is refused");
    assert_eq!((e.0, e.1.as_str()), (18, "Authentication failed."));

    let verified = Stats::get(&stats.auth_failure) + Stats::get(&stats.auth_success);
    assert!(
        verified <= BUDGET,
        "{verified} proofs verified with a budget of {BUDGET}"
    );
    assert_eq!(Stats::get(&stats.auth_success), 0);
    let throttled = Stats::get(&stats.auth_throttled);
    assert!(
        throttled >= (PARALLEL as u64) - BUDGET,
        "throttled: {throttled}"
    );
    // A fresh login with the right password is refused as well while the source cools down.
    let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
    let e = raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD)
        .await
        .expect_err("refused source");
    assert_eq!(e.0, 18);

    // Each refusal is an `authenticate` audit event that names the throttle.
    proxy.running.auditor().flush().await;
    let text =
        std::fs::read_to_string(proxy.config_path.with_file_name("audit.log")).expect("audit file");
    let refusals = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|v| v["atype"] == "authenticate")
        .filter(|v| {
            v["param"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("throttle:"))
        })
        .count() as u64;
    assert_eq!(refusals, Stats::get(&stats.auth_throttled));
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_that_succeed_do_not_use_up_the_budget() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "[auth.throttle]\nsource_max_failures = 3\n").await;
    // Ten times the budget, two at a time (each proof holds a place only while it is
    // being verified, so a budget of 3 is never full).
    for _ in 0..15 {
        let logins = (0..2).map(|_| async {
            let mut c = RawClient::connect(proxy.addr, proxy.ca()).await;
            raw_auth(&mut c, Mechanism::ScramSha256, APP_USER, APP_PASSWORD).await
        });
        for r in futures_util::future::join_all(logins).await {
            r.expect("a good login is never throttled");
        }
    }
    assert_eq!(Stats::get(&proxy.running.stats().auth_throttled), 0);
}
