//! The control-plane benchmark's environment: real `mongoward` processes in store mode
//! (SQLite file or a throwaway PostgreSQL from tests/common/postgres.rs), the fast upstream,
//! `admin init`, and an HTTPS client of the admin API with the owner's bearer token. Every
//! process is killed when the [`Env`] is dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::postgres::Postgres;

/// How the benchmark was started (paths of the release executables, the store kind).
pub struct Setup {
    pub mw: PathBuf,
    pub upstream: PathBuf,
    pub postgres: bool,
    /// Instances sharing the store; the first serves the admin API.
    pub instances: usize,
    pub keep: Option<PathBuf>,
}

pub struct Instance {
    pub child: Child,
    pub data_port: u16,
}

pub struct Env {
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub store_url: String,
    pub api: String,
    pub http: reqwest::Client,
    pub token: String,
    pub org_id: String,
    pub upstream_port: u16,
    pub instances: Vec<Instance>,
    upstream: Child,
    _pg: Option<Postgres>,
}

impl Drop for Env {
    fn drop(&mut self) {
        for i in &mut self.instances {
            let _ = i.child.kill();
            let _ = i.child.wait();
        }
        let _ = self.upstream.kill();
        let _ = self.upstream.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_port(port: u16, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what}: nothing listening on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn log_file(dir: &Path, name: &str) -> Result<std::fs::File, String> {
    std::fs::File::create(dir.join(name)).map_err(|e| format!("{name}: {e}"))
}

/// The store-mode configuration of instance `n`. The failure throttle is opened wide: the
/// benchmark polls with logins that fail until a new user is enforced, from one address.
fn config_text(dir: &Path, store: &str, data_port: u16, api_port: Option<u16>) -> String {
    let api = api_port.map_or(String::new(), |p| format!("listen = [\"127.0.0.1:{p}\"]\n"));
    format!(
        "[server]\nlisten = [\"127.0.0.1:{data_port}\"]\n\
         [tls]\ncert_file = {:?}\nkey_file = {:?}\n\
         [auth.throttle]\nfree_failures = 1000000\nsource_max_failures = 1000000\n\
         pair_max_failures = 0\nsource_max_concurrent = 0\n\
         [control_plane]\nstore = {store:?}\n{api}",
        dir.join("certs/server.pem"),
        dir.join("certs/server-key.pem"),
    )
}

fn run_ok(cmd: &mut Command, what: &str) -> Result<Vec<u8>, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

impl Env {
    /// Certificates, the upstream, the store, `admin init`, the instances, a token.
    pub async fn start(s: &Setup) -> Result<Env, String> {
        let (tmp, dir) = match &s.keep {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("mongoward-cpbench-")
                    .tempdir()
                    .map_err(|e| e.to_string())?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        run_ok(
            Command::new(&s.mw)
                .arg("dev-certs")
                .arg("--out")
                .arg(dir.join("certs")),
            "dev-certs",
        )?;
        let upstream_port = free_port();
        let upstream = Command::new(&s.upstream)
            .args(["--port", &upstream_port.to_string()])
            .stdout(Stdio::null())
            .stderr(log_file(&dir, "upstream.log")?)
            .spawn()
            .map_err(|e| format!("upstream: {e}"))?;
        let mut env_pg = None;
        let store_url = if s.postgres {
            let pg = Postgres::start().ok_or("PostgreSQL binaries not found")?;
            let url = pg.url();
            env_pg = Some(pg);
            url
        } else {
            format!("sqlite://{}", dir.join("state.db").display())
        };
        let mut env = Env {
            dir,
            _tmp: tmp,
            store_url,
            api: String::new(),
            http: http_client(&PathBuf::new())?,
            token: String::new(),
            org_id: String::new(),
            upstream_port,
            instances: Vec::new(),
            upstream,
            _pg: env_pg,
        };
        wait_port(upstream_port, "upstream")?;
        env.http = http_client(&env.dir.join("certs/ca.pem"))?;
        env.init_and_spawn(s).await?;
        Ok(env)
    }

    async fn init_and_spawn(&mut self, s: &Setup) -> Result<(), String> {
        let api_port = free_port();
        let mut configs = Vec::new();
        for n in 0..s.instances.max(1) {
            let path = self.dir.join(format!("mongoward-{n}.toml"));
            let api = (n == 0).then_some(api_port);
            let data = free_port();
            let text = config_text(&self.dir, &self.store_url, data, api);
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            configs.push((path, data));
        }
        let out = run_ok(
            Command::new(&s.mw)
                .args(["admin", "init", "--config"])
                .arg(&configs[0].0)
                .args(["--org-name", "bench"]),
            "admin init",
        )?;
        let line: Value = serde_json::from_slice(&out).map_err(|e| format!("admin init: {e}"))?;
        let field = |k: &str| {
            line[k]
                .as_str()
                .map(str::to_string)
                .ok_or(format!("admin init: no {k}"))
        };
        self.org_id = field("orgId")?;
        let (client_id, secret) = (field("clientId")?, field("clientSecret")?);
        for (n, (path, data_port)) in configs.into_iter().enumerate() {
            let child = Command::new(&s.mw)
                .args(["run", "--config"])
                .arg(&path)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log_file(&self.dir, &format!("mongoward-{n}.log"))?)
                .spawn()
                .map_err(|e| format!("mongoward run: {e}"))?;
            self.instances.push(Instance { child, data_port });
            wait_port(data_port, "mongoward")?;
        }
        wait_port(api_port, "admin API")?;
        self.api = format!("https://127.0.0.1:{api_port}");
        self.token = self.fetch_token(&client_id, &secret).await?;
        Ok(())
    }

    async fn fetch_token(&self, id: &str, secret: &str) -> Result<String, String> {
        let r = self
            .http
            .post(format!("{}/api/oauth/token", self.api))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| format!("token: {e}"))?;
        let v: Value = r.json().await.map_err(|e| format!("token: {e}"))?;
        v["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("token: {v}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/atlas/v2{path}", self.api)
    }

    /// One API call with the owner's token on `http`; (status, body).
    pub async fn call(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let bytes = r.bytes().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Like [`Self::call`] on the shared client, failing unless the status is `want`.
    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> Result<Value, String> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let (s, b) = self.call(&self.http, m, path, body.as_ref()).await?;
        if s != want {
            return Err(format!("{method} {path}: {s} {b}"));
        }
        Ok(b)
    }

    /// A project with a cluster in front of the upstream and 127.0.0.1 on its access list.
    pub async fn project(&self, name: &str) -> Result<String, String> {
        let b = self
            .expect(
                "POST",
                "/groups",
                Some(json!({"name": name, "orgId": self.org_id})),
                201,
            )
            .await?;
        let g = b["id"].as_str().ok_or("project id")?.to_string();
        let uri = format!("mongodb://127.0.0.1:{}", self.upstream_port);
        let cluster = json!({"name": "bench", "upstream": {"uri": uri}});
        self.expect("POST", &format!("/groups/{g}/clusters"), Some(cluster), 201)
            .await?;
        let entry = json!([{"ipAddress": "127.0.0.1", "comment": "bench clients"}]);
        self.expect("POST", &format!("/groups/{g}/accessList"), Some(entry), 201)
            .await?;
        Ok(g)
    }

    /// The proxy URI of instance `n` for `user`.
    pub fn uri(&self, n: usize, user: &str, password: &str) -> String {
        format!(
            "mongodb://{user}:{password}@127.0.0.1:{}/?tls=true&tlsCAFile={}&authSource=admin",
            self.instances[n].data_port,
            self.dir.join("certs/ca.pem").display()
        )
    }

    pub fn pid(&self, n: usize) -> u32 {
        self.instances[n].child.id()
    }
}

/// A client trusting the benchmark's CA (an empty path: no extra root).
pub fn http_client(ca: &Path) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder().use_rustls_tls();
    if !ca.as_os_str().is_empty() {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
        b = b.add_root_certificate(cert);
    }
    b.timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}
