//! `mongoward authz-check`: the policy simulator.
//!
//! Operators ask "would this user be allowed to run this command?" without a client or
//! an upstream. The answer must be the live proxy's answer, so this module only builds
//! the inputs (a [`Caller`] from the same user directory, a command body as the wire
//! would carry it) and calls [`decide`], the one decision path `proxy::route` uses.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bson::{Document, RawDocumentBuf};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;

use crate::authz::classify::NoSequences;
use crate::authz::decide::{decide, Caller, Refusal};
use crate::config::{now_unix, Config};
use crate::gates::users::{Absent, Context, User};

/// Why a question could not be answered (exit code 2; never a decision).
#[derive(Debug, Error)]
pub enum InputError {
    #[error("no cluster named {0:?} in the configuration")]
    UnknownCluster(String),
    #[error("user {user}@{db}: {reason}")]
    User {
        user: String,
        db: String,
        reason: &'static str,
    },
    #[error("command is not valid extended JSON: {0}")]
    BadJson(String),
    #[error("command must be a JSON object whose first key is the command name")]
    NotADocument,
    #[error("command has a duplicate key {0:?} (the proxy refuses such commands)")]
    DuplicateKey(String),
    #[error("no database: pass --db or put \"$db\" in the command")]
    NoDb,
    #[error("batch line is not a JSON object with user, db and command: {0}")]
    BadLine(String),
}

/// One question: may `user` run `command` on `db` through `cluster`?
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// `NAME` or `NAME@authdb` (authentication database; default admin).
    pub user: String,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub db: Option<String>,
    /// An extended-JSON object, or a string holding one.
    pub command: Value,
}

/// The answer, as the proxy would give it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Allow,
    Deny {
        code: i32,
        code_name: &'static str,
        errmsg: String,
        missing: Vec<Value>,
        forbidden: Vec<Value>,
    },
}

impl Decision {
    fn from_refusal(r: &Refusal) -> Decision {
        let list = |v: &[crate::authz::authorize::MissingPrivilege]| {
            v.iter().map(|m| m.to_json()).collect::<Vec<_>>()
        };
        let (missing, forbidden) = match r.denial() {
            Some(d) => (list(&d.missing), list(&d.forbidden)),
            None => (Vec::new(), Vec::new()),
        };
        Decision::Deny {
            code: r.code(),
            code_name: r.code_name(),
            errmsg: r.errmsg(),
            missing,
            forbidden,
        }
    }

    /// The line printed for this decision.
    pub fn to_json(&self) -> Value {
        match self {
            Decision::Allow => json!({"decision": "allow"}),
            Decision::Deny {
                code,
                code_name,
                errmsg,
                missing,
                forbidden,
            } => {
                let mut v = json!({"decision": "deny", "code": code, "codeName": code_name,
                    "errmsg": errmsg, "missing": missing});
                // `forbidden` only arises for renameCollection's "must NOT hold" clause.
                if !forbidden.is_empty() {
                    v["forbidden"] = json!(forbidden);
                }
                v
            }
        }
    }

    /// 0 = allow, 1 = deny.
    pub fn exit_code(&self) -> u8 {
        match self {
            Decision::Allow => 0,
            Decision::Deny { .. } => 1,
        }
    }
}

/// The simulator over one loaded configuration.
pub struct Simulator<'c> {
    config: &'c Config,
    now: i64,
}

impl<'c> Simulator<'c> {
    pub fn new(config: &'c Config) -> Self {
        Simulator {
            config,
            now: now_unix(),
        }
    }

    /// Answers one question.
    pub fn check(&self, q: &Question) -> Result<Decision, InputError> {
        let user = self.resolve_user(&q.user, q.cluster.as_deref())?;
        let body = command_body(&q.command, q.db.as_deref())?;
        // The same Caller the session builds for its authenticated user (proxy::route).
        let caller = Caller {
            user: &user.user,
            db: &user.db,
            privileges: &user.privileges,
        };
        Ok(match decide(Some(caller), &body, &NoSequences) {
            Ok(_) => Decision::Allow,
            Err(r) => Decision::from_refusal(&r),
        })
    }

    /// `NAME[@authdb]` as the directory would find it on `cluster` (default: the first).
    pub fn resolve_user(&self, spec: &str, cluster: Option<&str>) -> Result<Arc<User>, InputError> {
        let cluster = self.cluster_name(cluster)?;
        // A name may itself contain '@' (e-mail style): try NAME@authdb first, then the
        // whole text as a user in admin.
        let mut candidates = Vec::with_capacity(2);
        if let Some((name, db)) = spec.rsplit_once('@') {
            candidates.push((db, name));
        }
        candidates.push(("admin", spec));
        let ctx = Context {
            cluster,
            // The simulator has no peer; client_source is handled below.
            peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
            now: self.now,
        };
        let users = &self.config.users;
        let (db, name) = candidates
            .iter()
            .copied()
            .find(|(db, name)| users.get(db, name).is_some())
            .unwrap_or(candidates[0]);
        match users.lookup(db, name, &ctx) {
            Ok(u) => Ok(u.clone()),
            // Where the client connects from is not the question asked here.
            Err(Absent::SourceRestricted) => users.get(db, name).cloned().ok_or(InputError::User {
                user: name.into(),
                db: db.into(),
                reason: Absent::Unknown.as_str(),
            }),
            Err(a) => Err(InputError::User {
                user: name.into(),
                db: db.into(),
                reason: a.as_str(),
            }),
        }
    }

    fn cluster_name(&self, wanted: Option<&str>) -> Result<&'c str, InputError> {
        let clusters = &self.config.clusters;
        match wanted {
            None => Ok(clusters.first().map(|(c, _)| c.name.as_str()).unwrap_or("")),
            Some(w) => clusters
                .iter()
                .find(|(c, _)| c.name == w)
                .map(|(c, _)| c.name.as_str())
                .ok_or_else(|| InputError::UnknownCluster(w.into())),
        }
    }

    /// `--batch`: one question per input line, one JSON answer per output line (bad lines
    /// get `{"decision":"error",...}`). Returns whether every line was answerable.
    pub fn run_batch(&self, input: impl BufRead, mut out: impl Write) -> std::io::Result<bool> {
        let mut all_ok = true;
        for line in input.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let answer = check_duplicates(&line)
                .and_then(|()| {
                    serde_json::from_str::<Question>(&line)
                        .map_err(|e| InputError::BadLine(e.to_string()))
                })
                .and_then(|q| self.check(&q));
            let v = match answer {
                Ok(d) => d.to_json(),
                Err(e) => {
                    all_ok = false;
                    json!({"decision": "error", "error": e.to_string()})
                }
            };
            writeln!(out, "{v}")?;
        }
        out.flush()?;
        Ok(all_ok)
    }
}

/// The command document as a client would send it: extended JSON in the given key
/// order, `$db` appended when absent.
pub fn command_body(command: &Value, db: Option<&str>) -> Result<RawDocumentBuf, InputError> {
    let owned;
    let value = match command {
        Value::String(text) => {
            check_duplicates(text)?;
            owned = serde_json::from_str::<Value>(text)
                .map_err(|e| InputError::BadJson(e.to_string()))?;
            &owned
        }
        v => v,
    };
    if !value.is_object() {
        return Err(InputError::NotADocument);
    }
    // serde_json keeps key order here (bson enables `preserve_order`; Cargo.toml says so
    // too): the first key must stay the command name.
    let bson =
        bson::Bson::try_from(value.clone()).map_err(|e| InputError::BadJson(e.to_string()))?;
    let mut doc: Document = match bson {
        bson::Bson::Document(d) if !d.is_empty() => d,
        _ => return Err(InputError::NotADocument),
    };
    if !doc.contains_key("$db") {
        doc.insert("$db", db.ok_or(InputError::NoDb)?);
    }
    RawDocumentBuf::from_document(&doc).map_err(|e| InputError::BadJson(e.to_string()))
}

/// serde_json silently keeps the last of duplicate keys, while the proxy refuses such a
/// command; report it instead of answering a different question.
fn check_duplicates(text: &str) -> Result<(), InputError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match DupCheck.deserialize(&mut de) {
        Ok(None) => Ok(()),
        Ok(Some(key)) => Err(InputError::DuplicateKey(key)),
        Err(e) => Err(InputError::BadJson(e.to_string())),
    }
}

/// Walks any JSON value; yields the first duplicate object key found.
struct DupCheck;

impl<'de> DeserializeSeed<'de> for DupCheck {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(DupCheck)
    }
}

impl<'de> Visitor<'de> for DupCheck {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = HashSet::new();
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let inner = map.next_value_seed(DupCheck)?;
            if found.is_none() {
                found = if seen.insert(key.clone()) {
                    inner
                } else {
                    Some(key)
                };
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(inner) = seq.next_element_seed(DupCheck)? {
            found = found.or(inner);
        }
        Ok(found)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
