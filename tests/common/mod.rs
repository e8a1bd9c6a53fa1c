//! Test harness: a real wire-protocol upstream (nx-27017 from PyPI, or the server named
//! by `MONGOD_URI`) and an in-process mongoward in front of it, reached over real TLS.
#![allow(dead_code)]

pub mod auth;
pub mod binary;
pub mod postgres;
pub mod pymongo;
pub mod raw;
pub mod silent_upstream;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mongoward::config::Config;
use mongoward::proxy::Running;

/// Repository root (tests run with the package as working directory, but be explicit).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed by `scripts/setup-test-env.sh`; a clear failure when it is missing.
pub fn tool(rel: &str) -> PathBuf {
    let p = repo().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-test-env.sh (the README's test command does)",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(addr: SocketAddr, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A real `mongod` binary on PATH, when there is one (then the suite runs against it).
fn mongod_on_path() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("mongod"))
        .find(|p| p.is_file())
}

/// The upstream server the proxy fronts.
pub struct Upstream {
    child: Option<Child>,
    pub port: u16,
    pub uri: String,
    dir: tempfile::TempDir,
}

impl Upstream {
    /// `MONGOD_URI` when set (a real mongod), otherwise a fresh nx-27017 on a free port.
    pub fn start() -> Upstream {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Ok(uri) = std::env::var("MONGOD_URI") {
            return Upstream {
                child: None,
                port: 0,
                uri,
                dir,
            };
        }
        let port = free_port();
        let mut up = Upstream {
            child: None,
            port,
            uri: format!("mongodb://127.0.0.1:{port}"),
            dir,
        };
        up.spawn();
        up
    }

    /// Whether this upstream is a process the test controls (it can be killed).
    pub fn is_local(&self) -> bool {
        std::env::var("MONGOD_URI").is_err()
    }

    pub fn spawn(&mut self) {
        if let Some(mongod) = mongod_on_path() {
            let dbpath = self.dir.path().join("db");
            std::fs::create_dir_all(&dbpath).expect("dbpath");
            let child = Command::new(mongod)
                .args(["--bind_ip", "127.0.0.1", "--port", &self.port.to_string()])
                .arg("--dbpath")
                .arg(&dbpath)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mongod");
            self.child = Some(child);
            let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
            assert!(
                wait_for_port(addr, Duration::from_secs(60)),
                "mongod did not start on {addr}"
            );
            return;
        }
        let bin = tool(".venv/bin/nx-27017");
        let child = Command::new(bin)
            .args([
                "--data-dir",
                "memory",
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
            ])
            .arg("--log-file")
            .arg(self.dir.path().join("nx.log"))
            .arg("--pid-file")
            .arg(self.dir.path().join("nx.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nx-27017");
        self.child = Some(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        assert!(
            wait_for_port(addr, Duration::from_secs(30)),
            "upstream did not start on {addr}"
        );
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Development certificates for one test.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certs() -> Certs {
    certs_naming(&[])
}

/// Development certificates that also name `names` (TLS SNI names of clusters).
pub fn certs_naming(names: &[&str]) -> Certs {
    let dir = tempfile::tempdir().expect("tempdir");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let c = mongoward::tls::dev_certs::generate(&names).expect("generate certs");
    let p = mongoward::tls::dev_certs::write(dir.path(), &c).expect("write certs");
    Certs {
        ca: p.ca,
        cert: p.cert,
        key: p.key,
        dir,
    }
}

/// A mongoward running in this process.
pub struct Proxy {
    pub running: Running,
    pub addr: SocketAddr,
    pub certs: Certs,
    pub config_path: PathBuf,
}

/// The default test user: broad data rights, no user administration.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app-Passw0rd";

/// A `[[users]]` table for `user`/`password` (SCRAM-SHA-256 and SCRAM-SHA-1) with `extra` lines.
pub fn user_toml(user: &str, password: &str, roles: &[&str], extra: &str) -> String {
    use mongoward::gates::credentials::{credentials_toml, Mechanism, ScramCredential};
    let creds: Vec<ScramCredential> = [Mechanism::ScramSha256, Mechanism::ScramSha1]
        .iter()
        .map(|m| {
            let salt: Vec<u8> = (0..m.salt_len())
                .map(|i| (i * 7 + user.len()) as u8)
                .collect();
            ScramCredential::derive(*m, user, password, &salt, 4096).expect("derive")
        })
        .collect();
    let roles: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
    format!(
        "[[users]]\nuser = {user:?}\ndb = \"admin\"\nroles = [{}]\n{extra}\n{}",
        roles.join(", "),
        credentials_toml(&creds)
    )
}

/// Admits the loopback address the drivers connect from, unless a test brings its own list.
pub const LOOPBACK_ACCESS: &str =
    "[[access_list]]\ncidr = \"127.0.0.1/32\"\ncomment = \"test clients\"\n";

/// TOML for a proxy in front of `upstream_uri`, listening on a free port; `extra` is appended.
pub fn config_text(certs: &Certs, upstream_uri: &str, extra: &str) -> String {
    let access = if extra.contains("[[access_list]]") {
        ""
    } else {
        LOOPBACK_ACCESS
    };
    let app = if extra.contains(&format!("user = {APP_USER:?}")) {
        String::new()
    } else {
        user_toml(
            APP_USER,
            APP_PASSWORD,
            &["readWriteAnyDatabase@admin", "dbAdminAnyDatabase@admin"],
            "",
        )
    };
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[clusters]]\nname = \"default\"\nuri = {:?}\n{access}{extra}\n{app}\n",
        certs.cert, certs.key, upstream_uri
    )
}

impl Proxy {
    pub async fn start(upstream: &Upstream, extra: &str) -> Proxy {
        let certs = certs();
        let text = config_text(&certs, &upstream.uri, extra);
        Proxy::start_with(certs, &text).await
    }

    pub async fn start_with(certs: Certs, text: &str) -> Proxy {
        let config_path = certs.dir.path().join("mongoward.toml");
        std::fs::write(&config_path, text).expect("write config");
        let config = Config::load(&config_path).expect("valid test config");
        let running = mongoward::proxy::start(&config)
            .await
            .expect("proxy starts");
        let addr = running.tls_addrs[0];
        Proxy {
            running,
            addr,
            certs,
            config_path,
        }
    }

    /// A connection string for drivers: TLS with the test CA, as the default test user.
    pub fn uri(&self, extra: &str) -> String {
        self.uri_as(APP_USER, APP_PASSWORD, extra)
    }

    /// A connection string as `user`/`password` (authSource admin).
    pub fn uri_as(&self, user: &str, password: &str, extra: &str) -> String {
        format!(
            "mongodb://{}:{}@{}/?authSource=admin&tls=true&tlsCAFile={}{}",
            pct(user),
            pct(password),
            self.addr,
            self.certs.ca.display(),
            extra
        )
    }

    /// A connection string without credentials.
    pub fn uri_anonymous(&self, extra: &str) -> String {
        format!(
            "mongodb://{}/?tls=true&tlsCAFile={}{}",
            self.addr,
            self.certs.ca.display(),
            extra
        )
    }

    pub fn ca(&self) -> &Path {
        &self.certs.ca
    }
}

/// Polls `cond` every 20 ms until it holds or `within` passes; returns the time it took.
pub async fn eventually<F, Fut>(within: Duration, mut cond: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if cond().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Runs a client program to completion with a deadline; returns (success, stdout+stderr).
pub fn run_client(mut cmd: Command, deadline: Duration) -> (bool, String) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let id = child.id();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(deadline) {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        }
    });
    let out = child.wait_with_output().expect("client output");
    let _ = done.send(());
    let _ = watchdog.join();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A time `secs` from now in RFC 3339, as configuration files and the API take dates
/// (made from the clock: nothing committed depends on the calendar).
pub fn rfc3339_in(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format a date")
}

/// Percent-encodes a URI userinfo part.
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
