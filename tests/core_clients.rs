//! Issue 2: pymongo, the Node driver and mongosh through mongoward over TLS.
//! The client programs live in tests/clients/ and exit non-zero when a check fails.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{repo, run_client, tool, Proxy, Upstream};

const DEADLINE: Duration = Duration::from_secs(120);

fn python(args: &[&str]) -> Command {
    let mut c = Command::new(tool(".venv/bin/python"));
    c.arg(repo().join("tests/clients/pymongo_suite.py"))
        .args(args);
    c
}

fn node(args: &[&str]) -> Command {
    let mut c = Command::new("node");
    c.arg(repo().join("tests/clients/node_suite.js")).args(args);
    c.current_dir(repo().join("tests/clients"));
    c
}

pub fn mongosh(uri: &str, script: &str) -> Command {
    let mut c = Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
    if uri.is_empty() {
        c.args(["--quiet", "--nodb"]);
    } else {
        c.args([uri, "--quiet"]);
    }
    c.arg("--eval").arg(script);
    c
}

async fn check(cmd: Command, expect: &str) {
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(cmd, DEADLINE))
        .await
        .expect("join");
    assert!(ok, "client failed:\n{out}");
    assert!(out.contains(expect), "expected '{expect}' in:\n{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_crud_and_compression() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    check(python(&["crud", &proxy.uri("")]), "pymongo crud ok").await;
    check(
        python(&["compression", &proxy.uri("")]),
        "pymongo compression ok zlib",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_driver_crud_and_compression() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    check(node(&["crud", &proxy.uri("")]), "node crud ok").await;
    check(
        node(&["compression", &proxy.uri("")]),
        "node compression ok zlib",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mongosh_insert_find_aggregate() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let script = r#"
        const c = db.getSiblingDB('shell').orders;
        c.drop();
        c.insertMany([{sku: 'a', qty: 2}, {sku: 'b', qty: 5}, {sku: 'a', qty: 1}]);
        const found = c.find({sku: 'a'}).toArray().length;
        const agg = c.aggregate([{$group: {_id: '$sku', total: {$sum: '$qty'}}}, {$sort: {_id: 1}}]).toArray();
        print('RESULT ' + found + ' ' + JSON.stringify(agg));
    "#;
    let cmd = mongosh(&proxy.uri(""), script);
    check(
        cmd,
        r#"RESULT 2 [{"_id":"a","total":3},{"_id":"b","total":5}]"#,
    )
    .await;
}
