//! Issue 16 F8: the log says what happened in plain words and keeps routine noise below
//! info. mongosh's startup probes are audited but logged at debug; a real denial stays at
//! info; a plaintext client is named as such. The binary runs with stderr piped, as a
//! redirected log would be, so colour codes must not appear either.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::{binary, certs, pct, run_client, tool, user_toml, Upstream};

/// How long a log line may take to show.
const WAIT: Duration = Duration::from_secs(20);

fn until(rx: &Receiver<String>, needle: &str, seen: &mut Vec<String>) -> bool {
    binary::until(rx, needle, WAIT, seen)
}

#[test]
fn probes_are_audited_but_quiet_and_plaintext_clients_are_named() {
    let upstream = Upstream::start();
    let c = certs();
    let audit = c.dir.path().join("audit.json");
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [audit]\nenabled = true\ndestination = \"file\"\npath = {:?}\n\
         [[clusters]]\nname = \"default\"\nuri = {:?}\n\
         [[access_list]]\ncidr = \"127.0.0.1/32\"\n{}",
        c.cert,
        c.key,
        audit,
        upstream.uri,
        user_toml("shop_app", "shop-Passw0rd", &["readWrite@shop"], "")
    );
    let path = c.dir.path().join("words.toml");
    std::fs::write(&path, text).expect("write config");
    let (_reaper, rx) = binary::run_logged(&[], &path);
    let mut seen = Vec::new();
    assert!(until(&rx, "ready", &mut seen), "{seen:?}");
    let addr = seen
        .iter()
        .find_map(|l| l.split("mongodb://").nth(1))
        .and_then(|rest| rest.split('/').next())
        .expect("the ready line names the address")
        .to_string();

    // mongosh's startup asks for getParameter, getLog and admin.atlascli; then one real
    // denial, which must stay at info.
    let uri = format!(
        "mongodb://shop_app:{}@{addr}/shop?authSource=admin&tls=true&tlsCAFile={}",
        pct("shop-Passw0rd"),
        c.ca.display()
    );
    let script = "try { db.getSiblingDB('other').c.find().toArray() } catch (e) { print('DENIED ' + e.code) }";
    let mut cmd = Command::new(tool("tests/clients/node_modules/.bin/mongosh"));
    cmd.args([uri.as_str(), "--quiet", "--eval", script]);
    let (ok, out) = run_client(cmd, Duration::from_secs(120));
    assert!(ok && out.contains("DENIED 13"), "{out}");
    assert!(until(&rx, "command.ns=other.c", &mut seen), "{seen:?}");

    // A client that does not start TLS is told apart from a broken handshake.
    let mut plain = std::net::TcpStream::connect(&addr).expect("connect");
    let hello: &[u8] =
        b"\x1d\x00\x00\x00\x10hello\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00";
    let mut msg = Vec::new();
    let len = (16 + 4 + 1 + hello.len()) as i32;
    for v in [len, 1, 0, 2013, 0] {
        msg.extend_from_slice(&v.to_le_bytes());
    }
    msg.push(0);
    msg.extend_from_slice(hello);
    plain.write_all(&msg).expect("send plaintext hello");
    assert!(
        until(&rx, "client did not start TLS", &mut seen),
        "{seen:?}"
    );

    let denials: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains("authorization denied"))
        .collect();
    assert!(
        denials.iter().all(|l| l.contains("other.c")),
        "only the real denial is logged at info: {denials:?}"
    );
    assert!(seen.iter().all(|l| !l.contains('\u{1b}')), "{seen:?}");

    // The probes' denials are still audited.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut probes = Vec::new();
    while probes.is_empty() && Instant::now() < deadline {
        let log = std::fs::read_to_string(&audit).unwrap_or_default();
        probes = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["atype"] == "authCheck" && v["result"] == 13)
            .map(|v| v["param"]["command"].as_str().unwrap_or("").to_string())
            .filter(|cmd| cmd == "getParameter" || cmd == "getLog" || cmd == "aggregate")
            .collect();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!probes.is_empty(), "probe denials are audited");
}
