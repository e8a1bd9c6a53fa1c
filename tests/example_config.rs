//! config.example.toml is a real deployment: the README's demo users do what the example
//! promises (and nothing more) through a live proxy, with mongosh and the Rust driver.

mod common;

use std::process::Command;
use std::time::Duration;

use bson::{doc, Document};
use common::{certs, pct, repo, run_client, tool, Proxy, Upstream};
use futures_util::TryStreamExt;
use mongodb::Client;

/// The example with its upstream, listener and certificates pointed at the test's own;
/// everything else as written (it holds no date, so it works on any day).
fn example_for(upstream_uri: &str, c: &common::Certs) -> String {
    let text = std::fs::read_to_string(repo().join("config.example.toml")).expect("example");
    let out: Vec<String> = text
        .lines()
        .map(|line| match line {
            l if l.starts_with("listen = ") => "listen = [\"127.0.0.1:0\"]".to_string(),
            l if l.starts_with("uri = ") => format!("uri = {upstream_uri:?}"),
            l if l.starts_with("cert_file = ") => format!("cert_file = {:?}", c.cert),
            l if l.starts_with("key_file = ") => format!("key_file = {:?}", c.key),
            l => l.to_string(),
        })
        .collect();
    out.join("\n")
}

async fn example_proxy(upstream: &Upstream) -> Proxy {
    let c = certs();
    let text = example_for(&upstream.uri, &c);
    Proxy::start_with(c, &text).await
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_mongosh_session_works_and_is_confined() {
    let upstream = Upstream::start();
    let proxy = example_proxy(&upstream).await;
    let uri = format!(
        "mongodb://prod_app_user:{}@{}/ecommerce?authSource=admin&tls=true&tlsCAFile={}",
        pct("app-example-Pw1"),
        proxy.addr,
        proxy.ca().display()
    );
    let script = r#"
        db.orders.insertOne({sku: 'tea', qty: 2});
        db.orders.insertOne({sku: 'tea', qty: 3});
        const n = db.orders.find({sku: 'tea'}).toArray().length;
        const agg = db.orders.aggregate([{$group: {_id: '$sku', qty: {$sum: '$qty'}}}]).toArray();
        let denied = 'no';
        try { db.getSiblingDB('reporting').daily_sales.find().toArray(); } catch (e) { denied = e.code; }
        print('RESULT ' + n + ' ' + JSON.stringify(agg) + ' ' + denied);
    "#;
    let mut cmd = Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
    cmd.args([uri.as_str(), "--quiet", "--eval", script]);
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(cmd, Duration::from_secs(120)))
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains(r#"RESULT 2 [{"_id":"tea","qty":5}] 13"#),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn analytics_job_may_only_find_daily_sales() {
    let upstream = Upstream::start();
    let proxy = example_proxy(&upstream).await;
    let app = Client::with_uri_str(proxy.uri_as("prod_app_user", "app-example-Pw1", ""))
        .await
        .unwrap();
    // The app user cannot write reporting; seed it straight through the upstream.
    let direct = Client::with_uri_str(&upstream.uri).await.unwrap();
    direct
        .database("reporting")
        .collection::<Document>("daily_sales")
        .insert_one(doc! {"day": 1, "total": 10})
        .await
        .unwrap();
    direct
        .database("reporting")
        .collection::<Document>("payroll")
        .insert_one(doc! {"who": "x"})
        .await
        .unwrap();
    let denied = app
        .database("reporting")
        .collection::<Document>("daily_sales")
        .find(doc! {})
        .await;
    assert_eq!(code(denied.err()), Some(13));

    let job = Client::with_uri_str(proxy.uri_as("analytics_job", "analytics-example-Pw3", ""))
        .await
        .unwrap();
    let sales: Vec<Document> = job
        .database("reporting")
        .collection("daily_sales")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sales.len(), 1);
    let other = job
        .database("reporting")
        .collection::<Document>("payroll")
        .find(doc! {})
        .await;
    assert_eq!(code(other.err()), Some(13));
    let write = job
        .database("reporting")
        .collection::<Document>("daily_sales")
        .insert_one(doc! {"day": 2})
        .await;
    assert_eq!(code(write.err()), Some(13));

    let reader =
        Client::with_uri_str(proxy.uri_as("prod_reporting_reader", "reporting-example-Pw2", ""))
            .await
            .unwrap();
    let n = reader
        .database("reporting")
        .collection::<Document>("payroll")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(n, 1);
    let w = reader
        .database("reporting")
        .collection::<Document>("payroll")
        .insert_one(doc! {"x": 1})
        .await;
    assert_eq!(code(w.err()), Some(13));
}

fn code(e: Option<mongodb::error::Error>) -> Option<i32> {
    match *e?.kind {
        mongodb::error::ErrorKind::Command(ref c) => Some(c.code),
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(ref w)) => {
            Some(w.code)
        }
        ref other => panic!("unexpected error kind: {other:?}"),
    }
}
