//! The operator commands, run as the built binary.

use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mongoward"))
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
    let path = dir.path().join("c.toml");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = \"x.pem\"\nkey_file = \"y.pem\"\n\
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
