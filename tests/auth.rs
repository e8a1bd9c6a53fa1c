//! Issue 4, the authentication gate, with the official Rust driver over real TLS: every
//! mechanism, every failure reason (all indistinguishable to the client), SASLprep,
//! expiry, scope, source restriction and throttling. Raw-client checks are in auth_raw.rs.

mod common;

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use bson::{doc, Document};
use common::auth::{other_cluster, rfc3339_in, user_toml_with};
use common::{user_toml, Proxy, Upstream, APP_PASSWORD, APP_USER};
use mongodb::error::{Error, ErrorKind};
use mongodb::Client;
use mongoward::gates::credentials::Mechanism;
use mongoward::proxy::stats::Stats;

const FAST: &str = "&serverSelectionTimeoutMS=5000&connectTimeoutMS=5000";
const SHA1: &str = "&authMechanism=SCRAM-SHA-1";
const SHA256: &str = "&authMechanism=SCRAM-SHA-256";
const ROLES: &[&str] = &["readWriteAnyDatabase@admin"];

/// The server's (code, errmsg) behind a driver error, however the driver wrapped it.
fn server_error(e: &Error) -> (i32, String) {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        // The driver keeps the server's error as the source of its own, boxed.
        let me = err
            .downcast_ref::<Error>()
            .or_else(|| err.downcast_ref::<Box<Error>>().map(|b| &**b));
        if let Some(me) = me {
            if let ErrorKind::Command(c) = me.kind.as_ref() {
                return (c.code, c.message.clone());
            }
        }
        cur = err.source();
    }
    (-1, e.to_string())
}

/// `connectionStatus` through the driver, after a real read: the authenticated users.
async fn login(uri: String) -> Result<Vec<String>, (i32, String)> {
    let client = Client::with_uri_str(uri).await.expect("valid uri");
    let db = client.database("admin");
    let result = async {
        db.run_command(doc! {"listCollections": 1, "nameOnly": true})
            .await?;
        db.run_command(doc! {"connectionStatus": 1}).await
    }
    .await;
    client.shutdown().await;
    let status = result.map_err(|e| server_error(&e))?;
    let users = status
        .get_document("authInfo")
        .and_then(|a| a.get_array("authenticatedUsers"))
        .expect("authInfo.authenticatedUsers")
        .iter()
        .filter_map(|u| u.as_document())
        .map(|d| {
            format!(
                "{}@{}",
                d.get_str("user").unwrap(),
                d.get_str("db").unwrap()
            )
        })
        .collect();
    Ok(users)
}

fn count(c: &AtomicU64) -> u64 {
    Stats::get(c)
}

const FAILED: (i32, &str) = (18, "Authentication failed.");

fn assert_auth_failed(r: Result<Vec<String>, (i32, String)>, what: &str) {
    let err = r.expect_err(what);
    assert_eq!((err.0, err.1.as_str()), FAILED, "{what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_driver_explicit_and_negotiated_mechanisms() {
    let upstream = Upstream::start();
    let sha1_only = user_toml_with("old", "old-Passw0rd", ROLES, &[Mechanism::ScramSha1]);
    let proxy = Proxy::start(&upstream, &sha1_only).await;
    let stats = proxy.running.stats();
    let me = vec![format!("{APP_USER}@admin")];

    for mech in [SHA256, SHA1] {
        let users = login(proxy.uri(&format!("{FAST}{mech}"))).await;
        assert_eq!(users.expect(mech), me, "{mech}");
    }
    // Negotiated: hello carries saslSupportedMechs and a speculative SCRAM-SHA-256 step;
    // the driver finishes with saslContinue only.
    let before = count(&stats.auth_speculative);
    assert_eq!(login(proxy.uri(FAST)).await.expect("negotiated"), me);
    assert!(
        count(&stats.auth_speculative) > before,
        "the driver's speculativeAuthenticate was not completed"
    );
    // A user with only a SCRAM-SHA-1 credential: saslSupportedMechs steers the driver to it.
    let users = login(proxy.uri_as("old", "old-Passw0rd", FAST)).await;
    assert_eq!(users.expect("negotiated SHA-1"), vec!["old@admin"]);
    // ... and asking for SCRAM-SHA-256 explicitly fails like any other failure.
    assert_auth_failed(
        login(proxy.uri_as("old", "old-Passw0rd", &format!("{FAST}{SHA256}"))).await,
        "SHA-256 for a SHA-1-only user",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_looks_the_same() {
    let upstream = Upstream::start();
    let mut extra = other_cluster(&upstream.uri);
    extra += &user_toml(
        "expired",
        "pw-expired",
        ROLES,
        "delete_after = \"2020-01-01T00:00:00Z\"",
    );
    extra += &user_toml("elsewhere", "pw-elsewhere", ROLES, "scopes = [\"other\"]");
    extra += &user_toml(
        "pinned",
        "pw-pinned",
        ROLES,
        "client_source = [\"127.0.0.2/32\"]",
    );
    let certs = common::certs();
    let text = common::config_text(&certs, &upstream.uri, &extra);
    let config = mongoward::config::Config::from_str(&text, &certs.dir.path().join("x.toml"))
        .expect("a config with an expired user still loads");
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("expired@admin") && w.contains("delete_after")),
        "no warning for the expired user: {:?}",
        config.warnings
    );
    let proxy = Proxy::start_with(certs, &text).await;
    let before = count(&proxy.running.stats().auth_failure);

    let cases = [
        (APP_USER, "wrong-password", "wrong password"),
        ("nobody", APP_PASSWORD, "unknown user"),
        ("expired", "pw-expired", "expired user"),
        (
            "elsewhere",
            "pw-elsewhere",
            "user scoped to another cluster",
        ),
        ("pinned", "pw-pinned", "client_source excludes 127.0.0.1"),
    ];
    for (user, password, what) in cases {
        for mech in ["", SHA1, SHA256] {
            let uri = proxy.uri_as(user, password, &format!("{FAST}{mech}"));
            assert_auth_failed(login(uri).await, &format!("{what} {mech}"));
        }
    }
    assert!(count(&proxy.running.stats().auth_failure) >= before + 15);
    // The right password still works afterwards (5 failures per source stay under 20).
    assert!(login(proxy.uri(FAST)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_commands_are_refused() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, "").await;
    let client = Client::with_uri_str(proxy.uri_anonymous(FAST))
        .await
        .unwrap();
    let admin = client.database("admin");
    // What mongod answers before authentication still works...
    admin.run_command(doc! {"ping": 1}).await.expect("ping");
    let hello = admin.run_command(doc! {"hello": 1}).await.expect("hello");
    assert_eq!(hello.get_str("msg").unwrap(), "isdbgrid");
    let status = admin
        .run_command(doc! {"connectionStatus": 1})
        .await
        .expect("connectionStatus");
    let users = status.get_document("authInfo").unwrap();
    assert!(users.get_array("authenticatedUsers").unwrap().is_empty());
    // ... anything else is code 13.
    let err = client
        .database("shop")
        .collection::<Document>("orders")
        .find_one(doc! {})
        .await
        .expect_err("find without authentication");
    let (code, msg) = server_error(&err);
    assert_eq!(code, 13, "{msg}");
    assert!(msg.contains("requires authentication"), "{msg}");
    assert!(msg.contains("find"), "{msg}");
    let err = client
        .database("shop")
        .collection::<Document>("orders")
        .insert_one(doc! {"a": 1})
        .await
        .expect_err("insert without authentication");
    assert_eq!(server_error(&err).0, 13);
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn non_ascii_passwords_are_saslprepped_for_sha256() {
    let upstream = Upstream::start();
    let mut extra = user_toml("uni", "pässwörd\u{2168}", ROLES, "");
    extra += &user_toml("nine", "IX", ROLES, "");
    let proxy = Proxy::start(&upstream, &extra).await;
    for mech in ["", SHA1, SHA256] {
        let uri = proxy.uri_as("uni", "pässwörd\u{2168}", &format!("{FAST}{mech}"));
        assert_eq!(login(uri).await.expect(mech), vec!["uni@admin"], "{mech}");
    }
    // SASLprep maps the soft hyphen to nothing and U+2168 (Roman numeral nine) to "IX".
    for equivalent in ["I\u{00AD}X", "\u{2168}"] {
        let uri = proxy.uri_as("nine", equivalent, &format!("{FAST}{SHA256}"));
        assert_eq!(
            login(uri).await.expect(equivalent),
            vec!["nine@admin"],
            "{equivalent:?}"
        );
    }
    // SCRAM-SHA-1 hashes the password bytes as they are (mongod's MD5 digest).
    let uri = proxy.uri_as("nine", "I\u{00AD}X", &format!("{FAST}{SHA1}"));
    assert_auth_failed(login(uri).await, "SHA-1 does not SASLprep");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttle_refuses_a_source_after_repeated_failures() {
    let upstream = Upstream::start();
    let extra = "[auth.throttle]\nsource_max_failures = 3\nsource_refuse_ms = 2000\n";
    let proxy = Proxy::start(&upstream, extra).await;
    for i in 0..3 {
        let uri = proxy.uri_as(APP_USER, &format!("guess-{i}"), FAST);
        assert_auth_failed(login(uri).await, "wrong password");
    }
    // The source is refused now, even with the right password.
    assert_auth_failed(login(proxy.uri(FAST)).await, "refused while throttled");
    // The refusal is the same error as any failure; after the cooldown it lifts.
    // (The throttle's clock has one-second steps, hence the margin.)
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        login(proxy.uri(FAST)).await.expect("after the cooldown"),
        vec![format!("{APP_USER}@admin")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn user_expiring_while_connected_is_cut_off() {
    let upstream = Upstream::start();
    let extra = user_toml(
        "temp",
        "pw-temp",
        ROLES,
        &format!("delete_after = {:?}", rfc3339_in(3)),
    );
    let proxy = Proxy::start(&upstream, &extra).await;
    let expires = Instant::now() + Duration::from_secs(3);
    let client = Client::with_uri_str(proxy.uri_as("temp", "pw-temp", FAST))
        .await
        .unwrap();
    let coll = client.database("tmp").collection::<Document>("t");
    coll.insert_one(doc! {"a": 1}).await.expect("before expiry");
    assert!(proxy.running.active_connections() >= 1);
    tokio::time::sleep_until((expires + Duration::from_millis(1500)).into()).await;
    // The authenticated connection was closed; re-authenticating fails: the user is gone.
    let err = coll.find_one(doc! {}).await.expect_err("the user expired");
    let (code, msg) = server_error(&err);
    assert!(
        code == 18 || matches!(err.kind.as_ref(), ErrorKind::Io(_)),
        "expected an authentication or network error, got {code} {msg}"
    );
    client.shutdown().await;
}

/// Runs `mongoward hash-password` with the password on stdin; returns its stdout.
fn hash_password(user: &str, password: &str, args: &[&str]) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = common::binary::command()
        .args(["hash-password", "--user", user])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mongoward");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(password), "the password must not be printed");
    text
}

fn user_with(user: &str, credentials: &str) -> String {
    format!("[[users]]\nuser = {user:?}\ndb = \"admin\"\nroles = [\"readWriteAnyDatabase@admin\"]\n{credentials}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn hash_password_output_authenticates() {
    let upstream = Upstream::start();
    let both = hash_password("hashed", "hä-\u{2168}-sh", &[]);
    assert!(
        both.contains("[users.credentials.\"SCRAM-SHA-256\"]"),
        "{both}"
    );
    assert!(
        both.contains("[users.credentials.\"SCRAM-SHA-1\"]"),
        "{both}"
    );
    let only = hash_password(
        "lean",
        "lean-Passw0rd",
        &["--mechanism", "SCRAM-SHA-256", "--iterations", "4096"],
    );
    assert!(only.contains("iterationCount = 4096"), "{only}");
    assert!(!only.contains("SCRAM-SHA-1"), "{only}");
    let extra = user_with("hashed", &both) + &user_with("lean", &only);
    let proxy = Proxy::start(&upstream, &extra).await;
    for mech in ["", SHA1, SHA256] {
        let uri = proxy.uri_as("hashed", "hä-\u{2168}-sh", &format!("{FAST}{mech}"));
        assert_eq!(login(uri).await.expect(mech), vec!["hashed@admin"]);
    }
    let uri = proxy.uri_as("lean", "lean-Passw0rd", FAST);
    assert_eq!(login(uri).await.expect("negotiated"), vec!["lean@admin"]);
    let uri = proxy.uri_as("lean", "lean-Passw0rd", &format!("{FAST}{SHA1}"));
    assert_auth_failed(login(uri).await, "no SCRAM-SHA-1 credential");
}

#[tokio::test(flavor = "multi_thread")]
async fn password_rotation_by_reload() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream, &user_toml("rot", "old-pw", ROLES, "")).await;
    let live = Client::with_uri_str(proxy.uri_as("rot", "old-pw", FAST))
        .await
        .unwrap();
    let coll = live.database("rot").collection::<Document>("t");
    coll.insert_one(doc! {"a": 1}).await.expect("old password");
    // Replace the credentials with new hash-password output and reload (SIGHUP does this).
    let text = std::fs::read_to_string(&proxy.config_path).unwrap();
    let fresh = hash_password("rot", "new-pw", &["--iterations", "4096"]);
    let start = text.find("[[users]]\nuser = \"rot\"").expect("rot's table");
    let end = text[start..]
        .find("\n[[users]]")
        .map_or(text.len(), |e| start + e);
    let rotated = format!(
        "{}{}{}",
        &text[..start],
        user_with("rot", &fresh),
        &text[end..]
    );
    std::fs::write(&proxy.config_path, rotated).unwrap();
    proxy.running.reload().expect("reload");
    // The live connection stays authenticated; new logins need the new password.
    coll.insert_one(doc! {"a": 2})
        .await
        .expect("live connection after rotation");
    assert_auth_failed(
        login(proxy.uri_as("rot", "old-pw", FAST)).await,
        "old password after rotation",
    );
    assert_eq!(
        login(proxy.uri_as("rot", "new-pw", FAST))
            .await
            .expect("new password"),
        vec!["rot@admin"]
    );
    live.shutdown().await;
}
