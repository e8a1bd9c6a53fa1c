//! The shared state a connection core reads, built from a real configuration: users
//! with SCRAM credentials made by the project's own code, the real registries, the real
//! throttle. Messages are encoded and decoded by the real wire codec.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bson::oid::ObjectId;
use bson::{RawDocument, RawDocumentBuf};

use super::super::{Conn, Env, Outcome, Step};
use crate::config::Config;
use crate::gates::credentials::{credentials_toml, Mechanism, ScramCredential};
use crate::gates::scram::MIN_NONCE_BYTES;
use crate::gates::throttle::{Throttle, ThrottleConfig};
use crate::ops::audit::Auditor;
use crate::proxy::state::cursors::CursorRegistry;
use crate::proxy::state::policy::PolicyCell;
use crate::proxy::state::stats::Stats;
use crate::proxy::state::Identity;
use crate::proxy::upstream::UpstreamInfo;
use crate::wire::{self, OpMsg, OpQuery, Request};

pub const PASSWORD: &str = "pencil-Passw0rd";
/// The server nonce the driver would have drawn.
pub const NONCE: [u8; MIN_NONCE_BYTES] = [7; MIN_NONCE_BYTES];
/// Unix seconds of the tables' clock.
pub const NOW: i64 = 1_700_000_000;

/// `[[users]]` for `user` on admin with credentials for `mechs` and `roles`.
pub fn user_toml(user: &str, roles: &[&str], mechs: &[Mechanism]) -> String {
    let creds: Vec<ScramCredential> = mechs
        .iter()
        .map(|m| {
            let salt = vec![0x5a; m.salt_len()];
            ScramCredential::derive(*m, user, PASSWORD, &salt, 4096).expect("derive")
        })
        .collect();
    let roles: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
    format!(
        "[[users]]\nuser = {user:?}\ndb = \"admin\"\nroles = [{}]\n{}",
        roles.join(", "),
        credentials_toml(&creds)
    )
}

const ROLES: &str = r#"
[[roles]]
role = "ordersReader"
privileges = [{ resource = { db = "shop", collection = "orders" }, actions = ["find"] }]
"#;

pub struct World {
    pub cursors: CursorRegistry,
    pub policy: PolicyCell,
    pub throttle: Arc<Mutex<Throttle>>,
    pub stats: Stats,
    pub auditor: Auditor,
    pub identity: Identity,
    pub upstream: UpstreamInfo,
    pub max_message_size: Option<usize>,
    pub secret: [u8; 32],
    pub now: i64,
}

impl World {
    /// alice: readWrite on shop (both mechanisms); sha1only: SCRAM-SHA-1 only; boss:
    /// userAdminAnyDatabase; one custom role, ordersReader.
    pub fn new() -> World {
        World::with(ThrottleConfig::default(), "")
    }

    pub fn with(throttle: ThrottleConfig, extra: &str) -> World {
        let both = [Mechanism::ScramSha256, Mechanism::ScramSha1];
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:27018\"]\n[tls]\ncert_file = \"s.pem\"\nkey_file = \"k.pem\"\n\
             [[clusters]]\nname = \"c\"\nuri = \"mongodb://127.0.0.1:27017\"\n\
             [[access_list]]\ncidr = \"127.0.0.1\"\n{extra}\n{ROLES}\n{}\n{}\n{}",
            user_toml("alice", &["readWrite@shop"], &both),
            user_toml("sha1only", &["read@shop"], &[Mechanism::ScramSha1]),
            user_toml("boss", &["userAdminAnyDatabase@admin", "ordersReader"], &both),
        );
        let config = Config::from_str(&text, Path::new("/etc/mongoward/mongoward.toml"))
            .expect("test config");
        World {
            cursors: CursorRegistry::default(),
            policy: PolicyCell::new(&config),
            throttle: Arc::new(Mutex::new(Throttle::new(throttle))),
            stats: Stats::default(),
            auditor: Auditor::disabled(),
            identity: Identity {
                service_id: ObjectId::from_bytes([1; 12]),
            },
            upstream: UpstreamInfo::default(),
            max_message_size: None,
            secret: [9; 32],
            now: NOW,
        }
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            cursors: &self.cursors,
            now: self.now,
            now_ms: self.now * 1000,
            policy: &self.policy,
            throttle: &self.throttle,
            stats: &self.stats,
            auditor: &self.auditor,
            identity: &self.identity,
            fake_secret: &self.secret,
            upstream: &self.upstream,
            max_message_size: self.max_message_size,
            nonce: Some(NONCE),
        }
    }

    /// A connection on cluster "c" authenticated as `user` of admin.
    pub fn logged_in(&self, user: &str) -> Conn {
        let policy = self.policy.load();
        let found = policy.users("c").get("admin", user).cloned();
        let mut c = Conn::new("c");
        c.log_in(found.expect("a configured user"), policy.generation);
        c
    }

    /// Sends one OP_MSG body through the core.
    pub fn msg(&self, conn: &mut Conn, body: &RawDocument) -> Outcome {
        conn.on_msg(&op_msg(body), &self.env())
    }

    /// Sends one OP_MSG and expects a reply document.
    pub fn reply(&self, conn: &mut Conn, body: &RawDocument) -> RawDocumentBuf {
        match self.msg(conn, body).step {
            Step::Reply(doc) => doc,
            other => panic!("{body:?}: expected a reply, got {other:?}"),
        }
    }
}

pub fn op_msg(body: &RawDocument) -> OpMsg {
    let bytes = wire::encode_op_msg(1, 0, 0, body);
    match wire::decode_request(bytes, &wire::Limits::default()) {
        Ok(Request::Msg(m)) => m,
        other => panic!("not an OP_MSG: {other:?}"),
    }
}

/// An OP_QUERY on `ns` as an old driver sends it.
pub fn op_query(ns: &str, query: &RawDocument) -> OpQuery {
    let mut out = vec![0u8; 16];
    out.extend_from_slice(&0i32.to_le_bytes()); // flags
    out.extend_from_slice(ns.as_bytes());
    out.push(0);
    out.extend_from_slice(&0i32.to_le_bytes()); // numberToSkip
    out.extend_from_slice(&(-1i32).to_le_bytes()); // numberToReturn
    out.extend_from_slice(query.as_bytes());
    let len = out.len() as i32;
    out[0..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&1i32.to_le_bytes());
    out[12..16].copy_from_slice(&wire::OP_QUERY.to_le_bytes());
    match wire::decode_request(out.into(), &wire::Limits::default()) {
        Ok(Request::Query(q)) => q,
        other => panic!("not an OP_QUERY: {other:?}"),
    }
}

/// The strings of a reply's array field (empty when the field is missing).
pub fn strings(a: Option<&bson::RawArray>) -> Vec<String> {
    a.map(|a| {
        a.into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    })
    .unwrap_or_default()
}
