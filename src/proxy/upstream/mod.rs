//! The backend side: connections from the proxy to a cluster's upstream, and the
//! per-cluster cache of the upstream's hello (limits and wire versions) that the
//! proxy's own handshake answers are built from.

pub mod inspect;
pub mod login;
pub mod pool;
pub mod renumber;
pub mod replset;
pub mod tls;
pub mod wait;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bson::{rawdoc, RawDocument, RawDocumentBuf};
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use self::login::ServiceLogin;
use self::pool::{ClusterConnector, Pool};
use crate::config::{ClusterConfig, UpstreamUri};
use crate::proxy::io::{read_frame, FrameError, Stream};
use crate::proxy::state::counters::{ClusterCounters, PoolView};
use crate::wire::{self, Limits};
use tokio_rustls::TlsConnector;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("connect timed out")]
    Timeout,
    #[error("connection lost: {0}")]
    Lost(#[from] FrameError),
    #[error("unexpected reply: {0}")]
    Protocol(String),
    #[error("{0}")]
    Auth(String),
    #[error("upstream TLS: {0}")]
    Tls(String),
    #[error("no host answered as the writable primary")]
    NoPrimary,
}

/// What the proxy learned from the upstream's own hello and buildInfo.
#[derive(Clone, Debug)]
pub struct UpstreamInfo {
    pub min_wire_version: i32,
    pub max_wire_version: i32,
    pub max_bson_object_size: i32,
    pub max_message_size_bytes: i32,
    pub max_write_batch_size: i32,
    pub logical_session_timeout_minutes: Option<i32>,
    pub version: String,
    pub version_array: Vec<i32>,
}

impl Default for UpstreamInfo {
    /// Used until the upstream answered once: mongod 7.0's values.
    fn default() -> Self {
        UpstreamInfo {
            min_wire_version: 0,
            max_wire_version: 21,
            max_bson_object_size: 16 * 1024 * 1024,
            max_message_size_bytes: 48_000_000,
            max_write_batch_size: 100_000,
            logical_session_timeout_minutes: Some(30),
            version: "7.0.0".into(),
            version_array: vec![7, 0, 0, 0],
        }
    }
}

impl UpstreamInfo {
    fn from_replies(hello: &RawDocument, build_info: Option<&RawDocument>) -> UpstreamInfo {
        let d = UpstreamInfo::default();
        let int = |k: &str, dflt: i32| {
            hello
                .get_i32(k)
                .ok()
                .or_else(|| hello.get_i64(k).ok().map(|v| v as i32))
                .unwrap_or(dflt)
        };
        let version = build_info
            .and_then(|b| b.get_str("version").ok())
            .unwrap_or(&d.version)
            .to_string();
        let version_array = version
            .split(['.', '-'])
            .take(3)
            .filter_map(|p| p.parse().ok())
            .chain(std::iter::once(0))
            .collect();
        UpstreamInfo {
            min_wire_version: int("minWireVersion", d.min_wire_version),
            max_wire_version: int("maxWireVersion", d.max_wire_version),
            max_bson_object_size: int("maxBsonObjectSize", d.max_bson_object_size),
            max_message_size_bytes: int("maxMessageSizeBytes", d.max_message_size_bytes),
            max_write_batch_size: int("maxWriteBatchSize", d.max_write_batch_size),
            logical_session_timeout_minutes: hello.get_i32("logicalSessionTimeoutMinutes").ok(),
            version,
            version_array,
        }
    }

    /// Limits for decoding messages on connections to this cluster.
    pub fn limits(&self) -> Limits {
        Limits {
            max_message_size: self.max_message_size_bytes.max(1024) as usize,
            max_bson_object_size: self.max_bson_object_size.max(1024) as usize,
        }
    }
}

/// Room left for the message header and command fields around the largest document when
/// `server.max_message_size_bytes` is below the upstream's document limit.
const MESSAGE_OVERHEAD: usize = 16 * 1024;

/// Client-side limits under `server.max_message_size_bytes`: never above the upstream's,
/// and a document limit that still fits in a message. Pure.
pub fn capped_limits(upstream: Limits, cap: Option<usize>) -> Limits {
    let Some(cap) = cap else { return upstream };
    let max_message_size = upstream.max_message_size.min(cap);
    Limits {
        max_message_size,
        max_bson_object_size: upstream
            .max_bson_object_size
            .min(max_message_size.saturating_sub(MESSAGE_OVERHEAD)),
    }
}

impl UpstreamInfo {
    /// What clients are told (hello): the upstream's values under the proxy's cap, so
    /// drivers split batches to fit. None when the cap changes nothing.
    pub fn capped(&self, cap: Option<usize>) -> Option<UpstreamInfo> {
        let upstream = self.limits();
        let capped = capped_limits(upstream, cap);
        if capped.max_message_size == upstream.max_message_size {
            return None;
        }
        let to_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Some(UpstreamInfo {
            max_message_size_bytes: to_i32(capped.max_message_size),
            max_bson_object_size: to_i32(capped.max_bson_object_size),
            ..self.clone()
        })
    }
}

/// A configured cluster at runtime.
pub struct Cluster {
    pub name: String,
    pub uri: UpstreamUri,
    /// The `uri` as configured, to tell a reload whether it changed.
    pub uri_text: String,
    /// The service user the proxy logs in as, when the URI names one.
    login: Option<ServiceLogin>,
    /// Present when the URI says `tls=true` (Err: the CA file could not be used).
    tls: Option<Result<TlsConnector, String>>,
    /// listen, sni, tls_ca_file and password as started (see `same_config`).
    settings: Settings,
    /// Index of the host that last answered as primary: tried first next time.
    primary: AtomicUsize,
    /// One host's whole connection set-up: TCP, TLS, hello, service login, buildInfo.
    pub connect_timeout: Duration,
    /// How long a forwarded command may wait for its reply (before its own maxTimeMS).
    pub reply_timeout: Duration,
    info: ArcSwapOption<UpstreamInfo>,
    /// `mode = "request"`: the connections sessions lease per request (None: each session
    /// holds its own, `mode = "connection"`).
    pool: Option<Pool<ClusterConnector>>,
    /// Whether the pool's upkeep task runs (started at startup, or by the first lease).
    upkeep: AtomicBool,
}

impl Cluster {
    pub fn new(config: &ClusterConfig, uri: &UpstreamUri) -> Arc<Cluster> {
        Arc::new_cyclic(|weak| Cluster {
            name: config.name.clone(),
            uri: uri.clone(),
            uri_text: config.uri.clone(),
            login: match (&uri.user, &config.password) {
                (Some(user), Some(password)) => Some(ServiceLogin {
                    user: user.clone(),
                    source: uri.auth_source.clone(),
                    password: password.clone(),
                    keys: Default::default(),
                }),
                _ => None,
            },
            tls: uri.tls.then(|| match &config.tls_ca_file {
                Some(ca) => tls::connector(ca),
                None => Err("tls=true needs tls_ca_file".to_string()),
            }),
            settings: settings(config),
            primary: AtomicUsize::new(0),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs.max(1)),
            reply_timeout: Duration::from_secs(config.reply_timeout_secs.max(1)),
            info: ArcSwapOption::empty(),
            pool: pool::pool_for(&config.pool, weak),
            upkeep: AtomicBool::new(false),
        })
    }

    /// The cluster's pool, in `mode = "request"`.
    pub fn pool(&self) -> Option<&Pool<ClusterConnector>> {
        self.pool.as_ref()
    }

    /// Starts the pool's time-driven upkeep once (expired waits, idle timeout, `min_idle`),
    /// and shows the pool in this cluster's metrics; both end with the cluster. Called at
    /// startup, and by the first lease of a cluster a reload created.
    pub fn start_upkeep(self: &Arc<Self>, counters: &ClusterCounters) {
        if self.pool.is_none() || self.upkeep.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(self);
        let view = weak.clone();
        counters
            .pool
            .store(Some(Arc::new(PoolView(Box::new(move || {
                view.upgrade()
                    .and_then(|c| c.pool.as_ref().map(Pool::stats))
            })))));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let Some(pool) = weak.upgrade().and_then(|c| c.pool.clone()) else {
                    break;
                };
                pool.maintain().await;
            }
        });
    }

    /// Whether `config` describes this cluster as it runs (anything else needs a restart:
    /// listeners, SNI names, credentials and upstream TLS are fixed at startup).
    pub fn same_config(&self, config: &ClusterConfig) -> bool {
        self.name == config.name && self.uri_text == config.uri && self.settings == settings(config)
    }

    /// The last upstream hello seen, or mongod defaults when none yet.
    pub fn info(&self) -> Arc<UpstreamInfo> {
        self.info.load_full().unwrap_or_default()
    }

    /// Opens a connection and refreshes the cached hello with its answer.
    pub async fn connect(&self) -> Result<UpstreamConn, UpstreamError> {
        let tls = match &self.tls {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => return Err(UpstreamError::Tls(e.clone())),
        };
        let hosts = &self.uri.hosts;
        // A single host without replicaSet is used as it is (a mongod or a mongos).
        let discover = hosts.len() > 1 || self.uri.replica_set.is_some();
        let start = self.primary.load(Ordering::Relaxed);
        let mut last = UpstreamError::Protocol("no hosts".into());
        for k in 0..hosts.len() {
            let i = (start + k) % hosts.len();
            // A host that accepts and then says nothing must not hold the client forever.
            let attempt = tokio::time::timeout(self.connect_timeout, self.open(i, tls, discover));
            match attempt.await {
                Ok(Ok(conn)) => {
                    self.primary.store(i, Ordering::Relaxed);
                    return Ok(conn);
                }
                Ok(Err(e)) => last = e,
                Err(_) => last = UpstreamError::Timeout,
            }
        }
        Err(last)
    }

    /// One host: connect, hello and login, primary check, buildInfo (refreshes the cache).
    async fn open(
        &self,
        i: usize,
        tls: Option<&TlsConnector>,
        discover: bool,
    ) -> Result<UpstreamConn, UpstreamError> {
        let (host, port) = &self.uri.hosts[i];
        let mut conn = UpstreamConn::connect(host, *port, tls).await?;
        let hello = self.login(&mut conn).await?;
        if discover && !replset::is_writable_primary(&hello) {
            return Err(UpstreamError::NoPrimary);
        }
        let build = conn
            .command(rawdoc! {"buildInfo": 1, "$db": "admin"})
            .await
            .ok();
        let info = UpstreamInfo::from_replies(&hello, build.as_deref());
        conn.limits = info.limits();
        conn.mongos = replset::is_mongos(&hello);
        self.info.store(Some(Arc::new(info)));
        Ok(conn)
    }

    /// The hello (asking for the service user's mechanisms), then the service login.
    async fn login(&self, conn: &mut UpstreamConn) -> Result<RawDocumentBuf, UpstreamError> {
        let mut hello = rawdoc! {"hello": 1, "$db": "admin"};
        if let Some(login) = &self.login {
            hello.append("saslSupportedMechs", login.namespace());
        }
        let hello = conn.command(hello).await?;
        if let Some(login) = &self.login {
            let mechanism = login::choose_mechanism(&hello);
            login::login(conn, login, mechanism).await?;
        }
        Ok(hello)
    }

    /// Fills the hello cache without keeping a connection (startup and health probes).
    pub async fn probe(&self) -> Result<Arc<UpstreamInfo>, UpstreamError> {
        self.connect().await?;
        Ok(self.info())
    }
}

type Settings = (
    Option<String>,
    Vec<String>,
    Option<std::path::PathBuf>,
    Option<crate::config::ServicePassword>,
    (u64, u64),
    pool::PoolConfig,
);

fn settings(c: &ClusterConfig) -> Settings {
    (
        c.listen.clone(),
        c.sni.clone(),
        c.tls_ca_file.clone(),
        c.password.clone(),
        (c.connect_timeout_secs, c.reply_timeout_secs),
        c.pool.clone(),
    )
}

static NEXT_REQUEST_ID: AtomicI32 = AtomicI32::new(1 << 24);

/// A requestID of the proxy's own for a message to an upstream (its own commands, and
/// clients' commands on pooled connections, whose ids it rewrites).
pub fn next_request_id() -> i32 {
    NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed)
}

/// One connection from the proxy to an upstream server.
pub struct UpstreamConn {
    stream: Stream,
    buf: BytesMut,
    pub limits: Limits,
    /// The server answered its hello as a mongos (`msg: "isdbgrid"`): in request mode a
    /// lease stays pinned for its transactions and cursors (`pool::pin`).
    pub mongos: bool,
}

impl UpstreamConn {
    async fn connect(
        host: &str,
        port: u16,
        tls: Option<&TlsConnector>,
    ) -> Result<UpstreamConn, UpstreamError> {
        // The caller bounds the whole set-up (`Cluster::connect_timeout`).
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(UpstreamError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let stream = match tls {
            Some(c) => tls::wrap(c, host, tcp).await?,
            None => Stream::Plain(tcp),
        };
        Ok(UpstreamConn {
            stream,
            buf: BytesMut::new(),
            limits: Limits::default(),
            mongos: false,
        })
    }

    /// Sends bytes as they are (a checked client message).
    pub async fn send(&mut self, message: &[u8]) -> Result<(), UpstreamError> {
        self.stream
            .write_all(message)
            .await
            .map_err(|e| UpstreamError::Lost(FrameError::Io(e)))?;
        self.stream
            .flush()
            .await
            .map_err(|e| UpstreamError::Lost(FrameError::Io(e)))
    }

    /// Reads one reply message.
    pub async fn recv(&mut self) -> Result<(wire::Header, Bytes), UpstreamError> {
        match read_frame(
            &mut self.stream,
            &mut self.buf,
            self.limits.max_message_size,
        )
        .await?
        {
            Some(frame) => Ok(frame),
            None => Err(UpstreamError::Lost(FrameError::Truncated)),
        }
    }

    /// Runs one command of the proxy's own (hello, buildInfo, authentication).
    pub async fn command(&mut self, body: RawDocumentBuf) -> Result<RawDocumentBuf, UpstreamError> {
        let id = next_request_id();
        self.send(&wire::encode_op_msg(id, 0, 0, &body)).await?;
        let (_, frame) = self.recv().await?;
        match wire::decode_reply(frame, &self.limits) {
            Ok(wire::Reply::Msg(m)) => Ok(m.body().to_raw_document_buf()),
            Ok(wire::Reply::Reply(r)) => r
                .first_document()
                .map(|d| d.to_raw_document_buf())
                .ok_or_else(|| UpstreamError::Protocol("empty OP_REPLY".into())),
            Err(e) => Err(UpstreamError::Protocol(e.to_string())),
        }
    }
}
