//! Issue 14: older driver lines through mongoward over TLS and SCRAM-SHA-1: the Java driver
//! 3.6 (Debian's libmongodb-java; it sends its handshake and SCRAM conversation on OP_QUERY
//! and an IP literal as SNI), the Node driver 3.x and 4.x, pymongo 3.13. One scenario for
//! all: login, insertMany, a find over several getMores, an aggregate, and a write outside
//! the user's role refused with code 13. The client programs live in tests/clients/.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{repo, run_client, tool, user_toml, Proxy, Upstream};

const DEADLINE: Duration = Duration::from_secs(180);
const USER: &str = "legacy";
const PASSWORD: &str = "legacy-Passw0rd";
/// Debian's libmongodb-java: the driver, its core and bson in one jar.
const JAVA_DRIVER: &str = "/usr/share/java/mongo-java-driver.jar";

/// A proxy whose `legacy` user may read and write the `legacy` database only.
async fn proxy(upstream: &Upstream) -> Proxy {
    Proxy::start(
        upstream,
        &user_toml(USER, PASSWORD, &["readWrite@legacy"], ""),
    )
    .await
}

fn uri(proxy: &Proxy) -> String {
    proxy.uri_as(USER, PASSWORD, "&authMechanism=SCRAM-SHA-1")
}

/// The driver's own choice of mechanism (SCRAM-SHA-256 through `saslSupportedMechs`,
/// speculative authentication where the driver has it).
fn uri_default_mechanism(proxy: &Proxy) -> String {
    proxy.uri_as(USER, PASSWORD, "")
}

async fn check(cmd: Command, expect: &str) -> String {
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(cmd, DEADLINE))
        .await
        .expect("join");
    assert!(ok, "client failed:\n{out}");
    assert!(out.contains(expect), "expected '{expect}' in:\n{out}");
    println!("{out}");
    out
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn java_driver_3_6_over_op_query() {
    let (Some(java), Some(javac)) = (on_path("java"), on_path("javac")) else {
        eprintln!("SKIPPED: java/javac not found; scripts/setup-test-env.sh installs a JDK");
        return;
    };
    let keytool = on_path("keytool").unwrap_or_else(|| java.with_file_name("keytool"));
    assert!(
        Path::new(JAVA_DRIVER).is_file(),
        "{JAVA_DRIVER} is missing: run scripts/setup-test-env.sh (installs libmongodb-java)"
    );
    let upstream = Upstream::start();
    let proxy = proxy(&upstream).await;
    let work = tempfile::tempdir().expect("tempdir");
    let classes = work.path().join("classes");
    run_ok(
        Command::new(&javac)
            .args(["-d"])
            .arg(&classes)
            .args(["-cp", JAVA_DRIVER])
            .arg(repo().join("tests/clients/java/LegacySuite.java")),
        "javac",
    );
    // The JVM trusts the test CA through a truststore made from it.
    let store = work.path().join("trust.p12");
    run_ok(
        Command::new(&keytool)
            .args(["-importcert", "-noprompt", "-alias", "mongoward-test-ca"])
            .arg("-file")
            .arg(proxy.ca())
            .arg("-keystore")
            .arg(&store)
            .args(["-storetype", "PKCS12", "-storepass", "changeit"]),
        "keytool",
    );
    let mut cmd = Command::new(&java);
    cmd.arg(format!("-Djavax.net.ssl.trustStore={}", store.display()))
        .arg("-Djavax.net.ssl.trustStorePassword=changeit")
        .arg("-Djavax.net.ssl.trustStoreType=PKCS12")
        .arg("-cp")
        .arg(format!("{JAVA_DRIVER}:{}", classes.display()))
        .arg("LegacySuite")
        .arg(format!(
            "mongodb://{USER}:{PASSWORD}@{}/?authSource=admin&ssl=true&authMechanism=SCRAM-SHA-1&serverSelectionTimeoutMS=10000",
            proxy.addr
        ));
    let before = mongoward::proxy::stats::Stats::get(&proxy.running.stats().auth_failure);
    check(cmd, "java legacy ok 3.").await;
    let failures = mongoward::proxy::stats::Stats::get(&proxy.running.stats().auth_failure);
    assert_eq!(failures, before, "no failed login on the way");
}

fn node(module: &str, uri: &str) -> Command {
    let mut c = Command::new("node");
    c.arg(repo().join("tests/clients/node_legacy.js"))
        .args([module, uri]);
    c.current_dir(repo().join("tests/clients"));
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn node_driver_3() {
    let upstream = Upstream::start();
    let proxy = proxy(&upstream).await;
    tool("tests/clients/node_modules/mongodb3/package.json");
    check(node("mongodb3", &uri(&proxy)), "node legacy ok 3.").await;
    let default = uri_default_mechanism(&proxy);
    check(node("mongodb3", &default), "node legacy ok 3.").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_driver_4() {
    let upstream = Upstream::start();
    let proxy = proxy(&upstream).await;
    tool("tests/clients/node_modules/mongodb4/package.json");
    check(node("mongodb4", &uri(&proxy)), "node legacy ok 4.").await;
    let default = uri_default_mechanism(&proxy);
    check(node("mongodb4", &default), "node legacy ok 4.").await;
    // The current line passes the same scenario.
    check(node("mongodb", &uri(&proxy)), "node legacy ok").await;
}

fn python(venv: &str, uri: &str) -> Command {
    let mut c = Command::new(tool(&format!("{venv}/bin/python")));
    c.arg(repo().join("tests/clients/pymongo_suite.py"))
        .args(["legacy", uri]);
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_3_13_and_current() {
    let upstream = Upstream::start();
    let proxy = proxy(&upstream).await;
    check(
        python(".venv-pymongo3", &uri(&proxy)),
        "pymongo legacy ok 3.13",
    )
    .await;
    let default = uri_default_mechanism(&proxy);
    check(python(".venv-pymongo3", &default), "pymongo legacy ok 3.13").await;
    check(python(".venv", &uri(&proxy)), "pymongo legacy ok 4.").await;
}
