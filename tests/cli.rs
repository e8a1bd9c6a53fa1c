//! The operator commands, run as the built binary.

use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mongoward"))
}

/// Development certificates in `dir`: ca.pem, server.pem, server-key.pem.
fn dev_certs(dir: &std::path::Path) {
    let c = mongoward::tls::dev_certs::generate(&[]).unwrap();
    mongoward::tls::dev_certs::write(dir, &c).unwrap();
}

/// A minimal valid file in `dir` (whose certificates `dev_certs` made), plus `extra`.
fn minimal(extra: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"server.pem\"\nkey_file = \"server-key.pem\"\n\
         [[clusters]]\nname = \"c\"\nuri = \"mongodb://127.0.0.1:1\"\n[[access_list]]\ncidr = \"127.0.0.1\"\n{extra}"
    )
}

fn check(path: &std::path::Path) -> (Option<i32>, String) {
    let out = bin()
        .args(["check-config", "--config"])
        .arg(path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap()
}

#[test]
fn authz_check_single_question_allows_and_denies_with_exit_codes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let allow = bin()
        .args([
            "authz-check",
            "--config",
            path,
            "--user",
            "analytics_job",
            "--db",
            "reporting",
        ])
        .args([
            "--command",
            r#"{"find": "daily_sales", "filter": {"day": 1}}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(allow.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&allow.stdout).trim(),
        r#"{"decision":"allow"}"#
    );

    let deny = bin()
        .args([
            "authz-check",
            "--config",
            path,
            "--user",
            "analytics_job@admin",
            "--db",
            "reporting",
        ])
        .args([
            "--command",
            r#"{"insert": "daily_sales", "documents": [{"secret": "s3cr3t"}]}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(deny.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&deny.stdout).unwrap();
    assert_eq!(line["decision"], "deny");
    assert_eq!(line["code"], 13);
    assert_eq!(line["missing"][0]["actions"][0], "insert");
    assert!(!String::from_utf8_lossy(&deny.stdout).contains("s3cr3t"));

    let bad = bin()
        .args([
            "authz-check",
            "--config",
            path,
            "--user",
            "analytics_job",
            "--db",
            "reporting",
            "--command",
            "{nope",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn check_config_reports_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, example().replace("listen = [", "listn = [")).unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("listn"), "{err}");

    std::fs::write(
        &path,
        example().replace("readWrite@ecommerce\"]", "readWrit@ecommerce\"]"),
    )
    .unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("users[0]") && err.contains("readWrit"),
        "{err}"
    );
}

#[test]
fn hash_password_output_is_accepted_by_check_config() {
    let mut child = bin()
        .args(["hash-password", "--user", "newapp", "--iterations", "4096"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let creds = String::from_utf8(out.stdout).unwrap();
    assert!(!creds.contains("correct horse"));
    assert!(creds.contains("SCRAM-SHA-256") && creds.contains("SCRAM-SHA-1"));
    // The table pastes under a [[users]] entry and the file validates.
    let dir = tempfile::tempdir().unwrap();
    dev_certs(dir.path());
    let path = dir.path().join("c.toml");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"server.pem\"\nkey_file = \"server-key.pem\"\n\
         [[clusters]]\nname = \"c\"\nuri = \"mongodb://127.0.0.1:1\"\n[[access_list]]\ncidr = \"127.0.0.1\"\n\
         [[users]]\nuser = \"newapp\"\nroles = [\"read@shop\"]\n{creds}"
    );
    std::fs::write(&path, text).unwrap();
    let check = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("1 user(s)"));
}

/// check-config opens every file the configuration names, as `run` would; the first
/// problem is bad configuration (exit 2), for `run` too.
#[test]
fn check_config_loads_every_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    dev_certs(dir.path());
    let path = dir.path().join("files.toml");
    std::fs::write(&path, minimal("")).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(": ok:"), "{out}");

    let cases = [
        (
            minimal("").replace("\"server.pem\"", "\"nope.pem\""),
            "tls.cert_file",
            "nope.pem",
        ),
        (
            minimal("").replace("\"server-key.pem\"", "\"ca.pem\""),
            "tls.key_file",
            "no PEM private key",
        ),
        (
            minimal("").replace("\"server-key.pem\"", "\"gone-key.pem\""),
            "tls.key_file",
            "gone-key.pem",
        ),
        (
            minimal("").replace(
                "uri = \"mongodb://127.0.0.1:1\"",
                "uri = \"mongodb://svc@127.0.0.1:1/?tls=true\"\npassword_file = \"nope.pw\"\ntls_ca_file = \"ca.pem\"",
            ),
            "password_file",
            "nope.pw",
        ),
        (
            minimal("").replace(
                "uri = \"mongodb://127.0.0.1:1\"",
                "uri = \"mongodb://127.0.0.1:1/?tls=true\"\ntls_ca_file = \"nope-ca.pem\"",
            ),
            "tls_ca_file",
            "nope-ca.pem",
        ),
        (
            minimal("[audit]\nenabled = true\ndestination = \"file\"\npath = \"no-such-dir/audit.json\"\n"),
            "audit.path",
            "no-such-dir",
        ),
    ];
    for (text, key, detail) in cases {
        std::fs::write(&path, &text).unwrap();
        let (code, out) = check(&path);
        assert_eq!(code, Some(2), "{key}: {out}");
        assert!(
            out.contains("files.toml") && out.contains(key) && out.contains(detail),
            "{key}: {out}"
        );
        assert!(!out.contains(": ok:"), "{key}: {out}");
    }

    // `run` refuses the same file with the same exit code before binding anything.
    std::fs::write(&path, minimal("").replace("\"server.pem\"", "\"nope.pem\"")).unwrap();
    let run = bin().args(["run", "--config"]).arg(&path).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("tls.cert_file"));
}

/// One `$external` user no longer aborts the import: it is skipped, and the warning names
/// its line (from 1).
#[test]
fn import_users_skips_external_users_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.json");
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let scram = format!(
        r#"{{"user":"app","db":"admin","roles":[{{"role":"read","db":"shop"}}],"credentials":{{"SCRAM-SHA-256":{{"iterationCount":15000,"salt":"c2FsdHNhbHRzYWx0c2FsdA==","storedKey":"{key}","serverKey":"{key}"}}}}}}"#
    );
    let x509 = r#"{"user":"CN=client","db":"$external","roles":[{"role":"read","db":"shop"}]}"#;
    std::fs::write(&path, format!("{x509}\n{scram}\n")).unwrap();
    let out = bin()
        .args(["import-users", "--file"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("line 1: skipped CN=client@$external"), "{err}");
    let toml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(toml.matches("[[users]]").count(), 1, "{toml}");
}
