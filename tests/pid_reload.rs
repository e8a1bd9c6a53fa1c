//! Issue 16 F5 and F8: `[server] pid_file` and `mongoward reload --config FILE` signal
//! exactly the process serving that file; logs into a pipe carry no colour codes; a clean
//! shutdown ends with a final line and removes the pid file.

mod common;

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use common::binary::{self, command as bin};

fn config(dir: &Path, server_extra: &str) -> std::path::PathBuf {
    let c = mongoward::tls::dev_certs::generate(&[]).expect("certs");
    mongoward::tls::dev_certs::write(dir, &c).expect("write certs");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n{server_extra}\n[tls]\ncert_file = \"server.pem\"\n\
         key_file = \"server-key.pem\"\n[[clusters]]\nname = \"c\"\nuri = \"mongodb://127.0.0.1:9\"\n\
         [[access_list]]\ncidr = \"127.0.0.1\"\n"
    );
    let path = dir.join("mongoward.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Waits for a line containing `needle`; returns every line seen up to it.
fn wait_line(rx: &Receiver<String>, needle: &str) -> Result<Vec<String>, Vec<String>> {
    binary::wait_line(rx, needle, Duration::from_secs(15))
}

#[test]
fn reload_signals_the_process_in_the_pid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path(), "pid_file = \"run/mongoward.pid\"");
    let pid_path = dir.path().join("run/mongoward.pid");

    // check-config checks that the pid file can be written.
    let check = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("check-config");
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("server.pid_file"));
    std::fs::create_dir(dir.path().join("run")).expect("mkdir");

    let (reaper, rx) = binary::run_logged(&[], &path);
    let started = wait_line(&rx, "ready").expect("the proxy starts");
    let pid = std::fs::read_to_string(&pid_path).expect("pid file written");
    assert_eq!(pid.trim(), reaper.0.id().to_string());

    let out = bin()
        .args(["reload", "--config"])
        .arg(&path)
        .output()
        .expect("reload");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("pid {}", pid.trim())));
    let reloaded = wait_line(&rx, "configuration reloaded").expect("SIGHUP reloads");
    assert!(
        reloaded.iter().any(|l| l.contains("SIGHUP")),
        "{reloaded:?}"
    );

    // A clean stop says so last and removes the pid file.
    let raw = rustix::process::Pid::from_raw(reaper.0.id() as i32).expect("pid");
    rustix::process::kill_process(raw, rustix::process::Signal::TERM).expect("SIGTERM");
    let stopped = wait_line(&rx, "stopped").expect("a final line after shutdown");
    let mut reaper = reaper;
    let status = reaper.0.wait().expect("exit");
    assert!(status.success(), "{status:?}");
    assert!(!pid_path.exists(), "pid file removed on a clean exit");

    // Logs into a pipe carry no colour codes.
    let all: Vec<&String> = started.iter().chain(&reloaded).chain(&stopped).collect();
    assert!(all.iter().all(|l| !l.contains('\u{1b}')), "{all:?}");

    // Nothing runs on this configuration now: reload says so instead of signalling.
    std::fs::write(&pid_path, format!("{}\n", reaper.0.id())).expect("stale pid file");
    let out = bin()
        .args(["reload", "--config"])
        .arg(&path)
        .output()
        .expect("reload");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not running") || err.contains("not mongoward"),
        "{err}"
    );
}

#[test]
fn reload_without_a_pid_file_or_with_a_bad_config_signals_nobody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path(), "");
    let out = bin()
        .args(["reload", "--config"])
        .arg(&path)
        .output()
        .expect("reload");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.pid_file is not set"));

    // A file the proxy would refuse is reported (exit 2), never sent.
    std::fs::write(&path, "[server]\nlisten = [\n").expect("write");
    let out = bin()
        .args(["reload", "--config"])
        .arg(&path)
        .output()
        .expect("reload");
    assert_eq!(out.status.code(), Some(2));
    // TOML errors keep the toml crate's layout: position, the line, a caret.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().count() >= 3, "{err}");
    assert!(
        err.contains("TOML parse error") && err.contains('^'),
        "{err}"
    );
}
