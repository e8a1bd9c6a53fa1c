//! Raw client connections for the connection-level measurements (idle memory, set-up rate):
//! TCP, TLS (rustls, session resumption off so every set-up is a full handshake), `hello`, and
//! SCRAM-SHA-256 when the URI carries credentials, using mongoward's own codec and SCRAM
//! client. Targets come from a mongodb:// URI and must be loopback.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bson::spec::BinarySubtype;
use bson::{rawdoc, Binary, RawDocumentBuf};
use bytes::BytesMut;
use mongodb::options::{ConnectionString, HostInfo, ServerAddress, Tls};
use mongoward::gates::credentials::Mechanism;
use mongoward::gates::scram::{KeyCache, ScramClient};

/// Keys derived once per process, as a driver's connection pool keeps them: the
/// load generator measures the proxy's set-up cost, not its own PBKDF2.
static KEYS: std::sync::LazyLock<KeyCache> = std::sync::LazyLock::new(KeyCache::default);
use mongoward::proxy::io::{read_frame, Stream};
use mongoward::wire::{self, Limits};
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to connect.
pub struct Target {
    pub host: String,
    pub port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// (user, password, authSource).
    user: Option<(String, String, String)>,
}

/// Refuses any host that is not loopback (127.0.0.0/8, ::1, localhost) or an SRV URI.
pub fn loopback_hosts(cs: &ConnectionString) -> Result<Vec<(String, u16)>, String> {
    let HostInfo::HostIdentifiers(hosts) = &cs.host_info else {
        return Err("mongodb+srv URIs are refused: loopback targets only".into());
    };
    let mut out = Vec::new();
    for h in hosts {
        let ServerAddress::Tcp { host, port } = h else {
            return Err("only TCP hosts are supported".into());
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ok = bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !ok {
            return Err(format!(
                "refusing non-loopback target {host}: load tests stay on this machine"
            ));
        }
        out.push((bare.to_string(), port.unwrap_or(27017)));
    }
    Ok(out)
}

/// The first host of the URI, with its TLS settings and credentials.
pub fn target_from_uri(uri: &str) -> Result<Target, String> {
    let cs = ConnectionString::parse(uri).map_err(|e| format!("bad URI: {e}"))?;
    let (host, port) = loopback_hosts(&cs)?
        .into_iter()
        .next()
        .ok_or("URI has no host")?;
    let tls = match &cs.tls {
        Some(Tls::Enabled(o)) => {
            let ca = o.ca_file_path.as_ref().ok_or("tls=true needs tlsCAFile")?;
            let mut roots = rustls::RootCertStore::empty();
            for c in mongoward::tls::load_certs(ca).map_err(|e| e.to_string())? {
                roots.add(c).map_err(|e| e.to_string())?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            // Every set-up must be a full handshake, as a fresh client's would be.
            cfg.resumption = rustls::client::Resumption::disabled();
            let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(cfg)), name))
        }
        _ => None,
    };
    let user = cs.credential.as_ref().and_then(|c| {
        let source = c.source.clone().unwrap_or_else(|| "admin".into());
        Some((c.username.clone()?, c.password.clone()?, source))
    });
    Ok(Target {
        host,
        port,
        tls,
        user,
    })
}

/// An open, handshaken (and authenticated) connection.
pub struct Conn {
    stream: Stream,
    buf: BytesMut,
}

impl Conn {
    /// Connects, handshakes, authenticates; `touch` also runs one `find` so that a proxy has
    /// opened its upstream side too (HAProxy in `mode tcp` always has).
    pub async fn open(t: &Target, touch: bool) -> Result<Conn, String> {
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let stream = match &t.tls {
            Some((connector, name)) => {
                let s = tokio::time::timeout(STEP_TIMEOUT, connector.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| "TLS handshake timed out".to_string())?
                    .map_err(|e| format!("TLS: {e}"))?;
                Stream::ClientTls(Box::new(s))
            }
            None => Stream::Plain(tcp),
        };
        let mut conn = Conn {
            stream,
            buf: BytesMut::new(),
        };
        conn.command(rawdoc! {"hello": 1, "$db": "admin"}).await?;
        if let Some((user, password, source)) = &t.user {
            conn.scram(user, password, source).await?;
        }
        if touch {
            conn.command(rawdoc! {"find": "bench", "filter": {"_id": 1}, "limit": 1, "singleBatch": true, "$db": "bench"})
                .await?;
        }
        Ok(conn)
    }

    /// One command round trip; an `ok: 0` reply is an error.
    pub async fn command(&mut self, body: RawDocumentBuf) -> Result<RawDocumentBuf, String> {
        let msg = wire::encode_op_msg(1, 0, 0, &body);
        let io = async {
            self.stream
                .write_all(&msg)
                .await
                .map_err(|e| e.to_string())?;
            self.stream.flush().await.map_err(|e| e.to_string())?;
            let limits = Limits::default();
            match read_frame(&mut self.stream, &mut self.buf, limits.max_message_size).await {
                Ok(Some((_, frame))) => Ok(frame),
                Ok(None) => Err("connection closed".to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        let frame = tokio::time::timeout(STEP_TIMEOUT, io)
            .await
            .map_err(|_| "command timed out".to_string())??;
        let reply = match wire::decode_reply(frame, &Limits::default()) {
            Ok(wire::Reply::Msg(m)) => m.body().to_raw_document_buf(),
            Ok(wire::Reply::Reply(r)) => r
                .first_document()
                .map(|d| d.to_raw_document_buf())
                .ok_or("empty OP_REPLY")?,
            Err(e) => return Err(format!("bad reply: {e}")),
        };
        let ok = reply
            .get_f64("ok")
            .ok()
            .or_else(|| reply.get_i32("ok").ok().map(f64::from));
        if ok != Some(1.0) {
            let msg = reply.get_str("errmsg").unwrap_or("no errmsg");
            return Err(format!("command failed: {msg}"));
        }
        Ok(reply)
    }

    /// SCRAM-SHA-256 with the server signature checked, as a driver does.
    async fn scram(&mut self, user: &str, password: &str, source: &str) -> Result<(), String> {
        let nonce: [u8; 24] = rand::random();
        let m = Mechanism::ScramSha256;
        let (mut client, first) =
            ScramClient::new(m, user, password, &nonce).map_err(|e| e.to_string())?;
        let bin = |bytes: Vec<u8>| Binary {
            subtype: BinarySubtype::Generic,
            bytes,
        };
        let start = rawdoc! {"saslStart": 1, "mechanism": m.name(), "payload": bin(first),
        "autoAuthorize": 1, "options": {"skipEmptyExchange": true}, "$db": source};
        let r = self.command(start).await?;
        let conv = r.get_i32("conversationId").map_err(|e| e.to_string())?;
        let server_first = r.get_binary("payload").map_err(|e| e.to_string())?.bytes;
        let fin = client
            .client_final_cached(server_first, &KEYS)
            .map_err(|e| e.to_string())?;
        let cont =
            rawdoc! {"saslContinue": 1, "conversationId": conv, "payload": bin(fin), "$db": source};
        let r = self.command(cont).await?;
        let server_final = r.get_binary("payload").map_err(|e| e.to_string())?.bytes;
        client
            .verify_server_final(server_final)
            .map_err(|e| e.to_string())?;
        if !r.get_bool("done").unwrap_or(false) {
            let empty = rawdoc! {"saslContinue": 1, "conversationId": conv, "payload": bin(Vec::new()), "$db": source};
            self.command(empty).await?;
        }
        Ok(())
    }

    /// Waits (up to `within`) for the server to close the connection; true if it did.
    #[allow(dead_code)] // benches/control.rs only
    pub async fn wait_closed(&mut self, within: Duration) -> bool {
        let limit = Limits::default().max_message_size;
        let read = async {
            loop {
                match read_frame(&mut self.stream, &mut self.buf, limit).await {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => return,
                }
            }
        };
        tokio::time::timeout(within, read).await.is_ok()
    }

    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }
}
