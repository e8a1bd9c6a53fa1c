//! A small in-process upstream that enforces SCRAM (nx-27017 has no authentication):
//! hello with `saslSupportedMechs`, saslStart/saslContinue through mongoward's own SCRAM
//! server, and `Unauthorized` for any other command before a login.
// Each test binary uses part of the double.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bson::{rawdoc, spec::BinarySubtype, Binary, RawDocument, RawDocumentBuf};
use bytes::Bytes;
use mongoward::gates::credentials::{Mechanism, ScramCredential};
use mongoward::gates::scram::ScramServer;
use mongoward::wire::{self, Limits, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the double saw: one entry per successful login ("SCRAM-SHA-256 svc").
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<String>>>);

pub struct ScramUpstream {
    pub addr: SocketAddr,
    pub seen: Seen,
}

impl ScramUpstream {
    /// Serves `user`/`password` (in `admin`) with credentials for `mechs` only.
    pub async fn start(user: &str, password: &str, mechs: &[Mechanism]) -> ScramUpstream {
        ScramUpstream::start_with(user, password, mechs, None).await
    }

    /// The same, over TLS with the given acceptor.
    pub async fn start_with(
        user: &str,
        password: &str,
        mechs: &[Mechanism],
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> ScramUpstream {
        ScramUpstream::spawn(user, password, mechs, tls, None).await
    }

    /// A replica-set member without authentication; `rs` says who is primary.
    pub async fn member(rs: Arc<Rs>) -> ScramUpstream {
        ScramUpstream::spawn("", "", &[], None, Some(rs)).await
    }

    async fn spawn(
        user: &str,
        password: &str,
        mechs: &[Mechanism],
        tls: Option<tokio_rustls::TlsAcceptor>,
        rs: Option<Arc<Rs>>,
    ) -> ScramUpstream {
        let creds: Vec<ScramCredential> = mechs
            .iter()
            .map(|m| {
                let salt = vec![7u8; m.salt_len()];
                ScramCredential::derive(*m, user, password, &salt, 4096).expect("derive")
            })
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Seen::default();
        let state = Arc::new(Shared {
            user: user.to_string(),
            creds,
            mechs: mechs.to_vec(),
            seen: seen.clone(),
            me: addr,
            rs,
        });
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (state, tls) = (state.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(tcp).await {
                                serve(s, state).await;
                            }
                        }
                        None => serve(tcp, state).await,
                    }
                });
            }
        });
        ScramUpstream { addr, seen }
    }

    pub fn uri(&self, user: &str) -> String {
        format!("mongodb://{user}@{}/?authSource=admin", self.addr)
    }
}

/// A scripted replica set: which member is primary, and the writes each one took.
#[derive(Default)]
pub struct Rs {
    pub primary: Mutex<Option<SocketAddr>>,
    pub writes: Mutex<Vec<SocketAddr>>,
    /// The primary's next write closes the connection without an answer (a crash).
    pub crash_next_write: std::sync::atomic::AtomicBool,
}

impl Rs {
    pub fn set_primary(&self, addr: SocketAddr) {
        *self.primary.lock().expect("primary") = Some(addr);
    }

    pub fn writes_on(&self, addr: SocketAddr) -> usize {
        let w = self.writes.lock().expect("writes");
        w.iter().filter(|a| **a == addr).count()
    }
}

pub struct Shared {
    user: String,
    creds: Vec<ScramCredential>,
    mechs: Vec<Mechanism>,
    seen: Seen,
    me: SocketAddr,
    rs: Option<Arc<Rs>>,
}

type State = Arc<Shared>;

struct Conn {
    scram: Option<ScramServer>,
    authed: bool,
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut tcp: S, state: State) {
    let mut conn = Conn {
        scram: None,
        authed: state.mechs.is_empty(),
    };
    loop {
        let mut len = [0u8; 4];
        if tcp.read_exact(&mut len).await.is_err() {
            return;
        }
        let n = i32::from_le_bytes(len) as usize;
        let mut frame = vec![0u8; n];
        frame[..4].copy_from_slice(&len);
        if tcp.read_exact(&mut frame[4..]).await.is_err() {
            return;
        }
        let Ok(Request::Msg(msg)) = wire::decode_request(Bytes::from(frame), &Limits::default())
        else {
            return;
        };
        let reply = answer(&state, &mut conn, msg.command_name(), msg.body());
        if reply.get_bool("__close").unwrap_or(false) {
            return;
        }
        let out = wire::encode_op_msg(1, msg.header().request_id, 0, &reply);
        if tcp.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn bin(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

fn auth_failed() -> RawDocumentBuf {
    rawdoc! {"ok": 0.0, "code": 18, "codeName": "AuthenticationFailed", "errmsg": "Authentication failed."}
}

fn answer(state: &State, conn: &mut Conn, name: &str, body: &RawDocument) -> RawDocumentBuf {
    let Shared {
        user,
        creds,
        mechs,
        seen,
        ..
    } = &**state;
    if let Some(reply) = member_answer(state, name) {
        return reply;
    }
    let payload = || {
        body.get_binary("payload")
            .map(|b| b.bytes.to_vec())
            .unwrap_or_default()
    };
    match name {
        "hello" | "isMaster" | "ismaster" => {
            let mut d = rawdoc! {
                "isWritablePrimary": true, "maxBsonObjectSize": 16_777_216,
                "maxMessageSizeBytes": 48_000_000, "maxWriteBatchSize": 100_000,
                "minWireVersion": 0, "maxWireVersion": 21, "ok": 1.0,
            };
            if body.get_str("saslSupportedMechs").is_ok() {
                let names: Vec<bson::Bson> = mechs.iter().map(|m| m.name().into()).collect();
                let raw = bson::to_raw_document_buf(&bson::doc! {"m": names}).expect("raw");
                d.append(
                    "saslSupportedMechs",
                    raw.get_array("m").expect("m").to_raw_array_buf(),
                );
            }
            d
        }
        "buildInfo" | "buildinfo" => rawdoc! {"version": "7.0.99", "ok": 1.0},
        "saslStart" => {
            let Some(m) = body
                .get_str("mechanism")
                .ok()
                .and_then(Mechanism::from_name)
            else {
                return auth_failed();
            };
            let lookup = |u: &str| {
                (u == user)
                    .then(|| creds.iter().find(|c| c.mechanism == m).cloned())
                    .flatten()
            };
            match ScramServer::start(m, &payload(), lookup, &[9u8; 24], &[1u8; 32]) {
                Ok((mut s, first)) => {
                    let skip = body
                        .get_document("options")
                        .and_then(|o| o.get_bool("skipEmptyExchange"));
                    s.set_skip_empty_exchange(skip.unwrap_or(false));
                    conn.scram = Some(s);
                    rawdoc! {"conversationId": 1, "done": false, "payload": bin(first), "ok": 1.0}
                }
                Err(_) => auth_failed(),
            }
        }
        "saslContinue" => match conn.scram.as_mut().map(|s| s.step(&payload())) {
            Some(Ok(r)) => {
                if r.done {
                    conn.authed = true;
                    let m = conn
                        .scram
                        .as_ref()
                        .map(|s| s.mechanism().name())
                        .unwrap_or("");
                    seen.0.lock().expect("seen").push(format!("{m} {user}"));
                }
                rawdoc! {"conversationId": 1, "done": r.done, "payload": bin(r.payload), "ok": 1.0}
            }
            _ => auth_failed(),
        },
        _ if conn.authed => rawdoc! {"n": 0, "ok": 1.0},
        _ => {
            rawdoc! {"ok": 0.0, "code": 13, "codeName": "Unauthorized", "errmsg": "command requires authentication"}
        }
    }
}

/// Replica-set behaviour: hello says who is primary; writes on a secondary fail the way
/// mongod's do (NotWritablePrimary with the RetryableWriteError label).
fn member_answer(state: &Shared, name: &str) -> Option<RawDocumentBuf> {
    let rs = state.rs.as_ref()?;
    let primary = *rs.primary.lock().expect("primary");
    let me_primary = primary == Some(state.me);
    match name {
        "hello" | "isMaster" | "ismaster" => {
            let mut d = rawdoc! {
                "isWritablePrimary": me_primary, "secondary": !me_primary, "setName": "rs0",
                "maxBsonObjectSize": 16_777_216, "maxMessageSizeBytes": 48_000_000,
                "maxWriteBatchSize": 100_000, "logicalSessionTimeoutMinutes": 30,
                "minWireVersion": 0, "maxWireVersion": 21, "ok": 1.0,
            };
            if let Some(p) = primary {
                d.append("primary", p.to_string());
            }
            Some(d)
        }
        "insert" | "update" | "delete"
            if rs
                .crash_next_write
                .swap(false, std::sync::atomic::Ordering::SeqCst) =>
        {
            Some(rawdoc! {"__close": true})
        }
        "insert" | "update" | "delete" if !me_primary => Some(rawdoc! {
            "ok": 0.0, "code": 10107, "codeName": "NotWritablePrimary",
            "errmsg": "not primary", "errorLabels": ["RetryableWriteError"],
        }),
        "insert" | "update" | "delete" => {
            rs.writes.lock().expect("writes").push(state.me);
            Some(rawdoc! {"n": 1, "ok": 1.0})
        }
        _ => None,
    }
}
