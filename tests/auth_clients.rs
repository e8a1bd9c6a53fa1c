//! Issue 4, the authentication gate with pymongo, the Node driver and mongosh over TLS:
//! the same scenarios for each (tests/clients/* for pymongo and Node, inline scripts for
//! mongosh). Each client program exits non-zero when a check fails.

mod common;

use std::process::Command;
use std::time::Duration;

use common::auth::{other_cluster, rfc3339_in, user_toml_with};
use common::{repo, run_client, tool, user_toml, Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongoward::gates::credentials::Mechanism;
use mongoward::proxy::stats::Stats;

const DEADLINE: Duration = Duration::from_secs(90);
const SHA1: &str = "&authMechanism=SCRAM-SHA-1";
const SHA256: &str = "&authMechanism=SCRAM-SHA-256";
const ROLES: &[&str] = &["readWriteAnyDatabase@admin"];

#[derive(Clone, Copy, Debug)]
enum Driver {
    Pymongo,
    Node,
    Mongosh,
}

/// mongosh scripts (run with --nodb; URI and ARG are defined before them).
const SH_AUTH_OK: &str = r#"
const m = new Mongo(URI);
m.getDB('sh_auth').items.insertOne({who: ARG});
if (m.getDB('sh_auth').items.countDocuments({who: ARG}) < 1) throw new Error('not written');
const st = m.getDB('admin').runCommand({connectionStatus: 1});
const users = st.authInfo.authenticatedUsers.map((u) => u.user + '@' + u.db);
if (JSON.stringify(users) !== JSON.stringify([ARG])) throw new Error('users ' + JSON.stringify(users));
print('mongosh auth ok ' + ARG);
"#;
const SH_AUTH_FAIL: &str = r#"
let failed = null;
try { new Mongo(URI).getDB('sh_auth').items.findOne(); } catch (e) { failed = e; }
if (!failed) throw new Error('authentication did not fail');
if (failed.code !== 18 || failed.message !== 'Authentication failed.') throw failed;
print('mongosh auth failed as expected ' + failed.code + ' ' + failed.message);
"#;
const SH_UNAUTH: &str = r#"
const m = new Mongo(URI);
if (m.getDB('admin').runCommand({ping: 1}).ok !== 1) throw new Error('ping');
let failed = null;
try { m.getDB('shop').orders.findOne(); } catch (e) { failed = e; }
if (!failed || failed.code !== 13 || !failed.message.includes('requires authentication')) throw (failed || new Error('not refused'));
print('mongosh unauthenticated refused ' + failed.code);
"#;
const SH_EXPIRE: &str = r#"
const m = new Mongo(URI);
m.getDB('sh_auth').temp.insertOne({a: 1});
sleep(Math.max(0, Number(ARG) * 1000 - Date.now()) + 1500);
let failed = null;
try { m.getDB('sh_auth').temp.findOne(); } catch (e) { failed = e; }
if (!failed) throw new Error('the expired user could still read');
if (failed.code !== 18 && failed.name !== 'MongoNetworkError') throw failed;
print('mongosh expired user refused ' + (failed.code || failed.name));
"#;

fn command(d: Driver, scenario: &str, uri: &str, arg: &str) -> Command {
    match d {
        Driver::Pymongo => {
            let mut c = Command::new(tool(".venv/bin/python"));
            c.arg(repo().join("tests/clients/pymongo_suite.py"));
            c.args([scenario, uri, arg]);
            c
        }
        Driver::Node => {
            let mut c = Command::new("node");
            c.arg(repo().join("tests/clients/node_suite.js"));
            c.args([scenario, uri, arg]);
            c.current_dir(repo().join("tests/clients"));
            c
        }
        Driver::Mongosh => {
            let body = match scenario {
                "auth_ok" => SH_AUTH_OK,
                "auth_fail" => SH_AUTH_FAIL,
                "unauth" => SH_UNAUTH,
                "expire" => SH_EXPIRE,
                other => panic!("no mongosh scenario {other}"),
            };
            let script = format!("const URI = {uri:?};\nconst ARG = {arg:?};\n{body}");
            let mut c = Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
            c.args(["--quiet", "--nodb", "--eval", &script]);
            c
        }
    }
}

/// Runs one scenario and checks its success line.
async fn check(d: Driver, scenario: &str, uri: &str, arg: &str, expect: &str) {
    let cmd = command(d, scenario, uri, arg);
    let (ok, out) = tokio::task::spawn_blocking(move || run_client(cmd, DEADLINE))
        .await
        .expect("join");
    assert!(ok, "{d:?} {scenario} {arg} failed:\n{out}");
    assert!(
        out.contains(expect),
        "{d:?}: expected '{expect}' in:\n{out}"
    );
}

fn name(d: Driver) -> &'static str {
    match d {
        Driver::Pymongo => "pymongo",
        Driver::Node => "node",
        Driver::Mongosh => "mongosh",
    }
}

/// Every authentication scenario for one driver against one proxy.
async fn every_scenario(d: Driver) {
    let upstream = Upstream::start();
    let mut extra = other_cluster(&upstream.uri);
    // These scenarios fail on purpose; the throttle has its own tests.
    extra += "[auth.throttle]\nsource_max_failures = 1000\nfree_failures = 100\n";
    extra += &user_toml_with("old", "old-Passw0rd", ROLES, &[Mechanism::ScramSha1]);
    extra += &user_toml(
        "expired",
        "pw",
        ROLES,
        "delete_after = \"2020-01-01T00:00:00Z\"",
    );
    extra += &user_toml("elsewhere", "pw", ROLES, "scopes = [\"other\"]");
    extra += &user_toml("pinned", "pw", ROLES, "client_source = [\"127.0.0.2/32\"]");
    extra += &user_toml("uni", "pässwörd\u{2168}", ROLES, "");
    extra += &user_toml("nine", "IX", ROLES, "");
    let proxy = Proxy::start(&upstream, &extra).await;
    let stats = proxy.running.stats();
    let n = name(d);
    let ok = |user: &str| format!("{n} auth ok {user}@admin");
    let app = format!("{APP_USER}@admin");

    for mech in [SHA256, SHA1] {
        check(d, "auth_ok", &proxy.uri(mech), &app, &ok(APP_USER)).await;
    }
    // Negotiated: saslSupportedMechs + speculativeAuthenticate in hello.
    let before = Stats::get(&stats.auth_speculative);
    check(d, "auth_ok", &proxy.uri(""), &app, &ok(APP_USER)).await;
    let after = Stats::get(&stats.auth_speculative);
    assert!(
        after > before,
        "{n}: speculative authentication was not used"
    );
    let old = proxy.uri_as("old", "old-Passw0rd", "");
    check(d, "auth_ok", &old, "old@admin", &ok("old")).await;

    let failed = format!("{n} auth failed as expected 18 Authentication failed.");
    let cases = [
        (APP_USER, "wrong-password"),
        ("nobody", APP_PASSWORD),
        ("expired", "pw"),
        ("elsewhere", "pw"),
        ("pinned", "pw"),
    ];
    // mongosh starts slowly: it gets the negotiated path only for the failures.
    let mechs: &[&str] = match d {
        Driver::Mongosh => &[""],
        _ => &["", SHA1],
    };
    for (user, password) in cases {
        for mech in mechs {
            let uri = proxy.uri_as(user, password, mech);
            check(d, "auth_fail", &uri, user, &failed).await;
        }
    }
    let refused = format!("{n} unauthenticated refused 13");
    check(d, "unauth", &proxy.uri_anonymous(""), "", &refused).await;

    saslprep_scenarios(d, &proxy, &failed).await;
}

/// Non-ASCII passwords: SASLprep for SCRAM-SHA-256, raw bytes for SCRAM-SHA-1.
async fn saslprep_scenarios(d: Driver, proxy: &Proxy, failed: &str) {
    let ok = |user: &str| format!("{} auth ok {user}@admin", name(d));
    for mech in ["", SHA1, SHA256] {
        let uri = proxy.uri_as("uni", "pässwörd\u{2168}", mech);
        check(d, "auth_ok", &uri, "uni@admin", &ok("uni")).await;
    }
    // SASLprep: soft hyphen maps to nothing, U+2168 to "IX".
    for equivalent in ["I\u{00AD}X", "\u{2168}"] {
        let uri = proxy.uri_as("nine", equivalent, SHA256);
        check(d, "auth_ok", &uri, "nine@admin", &ok("nine")).await;
    }
    let uri = proxy.uri_as("nine", "I\u{00AD}X", SHA1);
    check(d, "auth_fail", &uri, "nine", failed).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pymongo_authentication() {
    every_scenario(Driver::Pymongo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_driver_authentication() {
    every_scenario(Driver::Node).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mongosh_authentication() {
    every_scenario(Driver::Mongosh).await;
}

/// Each driver keeps a connection while its user's delete_after passes (the scenario's
/// argument is the expiry as unix seconds; the programs sleep until just after it).
#[tokio::test(flavor = "multi_thread")]
async fn every_driver_loses_an_expiring_user() {
    let upstream = Upstream::start();
    // Long enough for three client programs to start on a busy machine.
    const LEAD: i64 = 10;
    let drivers = [Driver::Pymongo, Driver::Node, Driver::Mongosh];
    let mut extra = String::new();
    for d in drivers {
        let line = format!("delete_after = {:?}", rfc3339_in(LEAD));
        extra += &user_toml(&format!("temp_{}", name(d)), "pw-temp", ROLES, &line);
    }
    let proxy = Proxy::start(&upstream, &extra).await;
    let expiry = (std::time::SystemTime::now() + Duration::from_secs(LEAD as u64))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let mut runs = Vec::new();
    for d in drivers {
        let uri = proxy.uri_as(&format!("temp_{}", name(d)), "pw-temp", "");
        let expect = format!("{} expired user", name(d));
        runs.push(tokio::spawn(async move {
            check(d, "expire", &uri, &format!("{expiry:.3}"), &expect).await
        }));
    }
    for r in runs {
        r.await.expect("scenario");
    }
    assert!(Stats::get(&proxy.running.stats().auth_success) >= 3);
}
