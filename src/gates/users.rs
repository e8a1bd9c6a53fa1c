//! Database users as configured (`[[users]]`, mirroring mongod's `system.users`), compiled
//! into a directory the authentication gate looks users up in.
//!
//! A user that is out of scope for the connection's cluster, past its `delete_after`, or
//! connecting from outside its `client_source` does not exist for that connection. The
//! lookup says why, for the log; the client only ever sees "Authentication failed.".

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Deserialize;

use super::access_list::canonical;
use super::credentials::{CredentialConfig, Mechanism, ScramCredential};
use crate::authz::privileges::{RoleCatalog, UserPrivileges};
use crate::authz::role_config::RoleRef;

fn default_auth_db() -> String {
    "admin".into()
}

/// One `[[users]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub user: String,
    /// The authentication database.
    #[serde(default = "default_auth_db")]
    pub db: String,
    #[serde(default)]
    pub roles: Vec<RoleRef>,
    /// Clusters this user exists on; omitted = all.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// RFC 3339; the user stops existing then.
    #[serde(default)]
    pub delete_after: Option<String>,
    /// Addresses the user may authenticate from (mongod's authenticationRestrictions).
    #[serde(default)]
    pub client_source: Vec<String>,
    /// Keyed by mechanism name: "SCRAM-SHA-256", "SCRAM-SHA-1".
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialConfig>,
}

/// A compiled user.
#[derive(Debug)]
pub struct User {
    pub user: String,
    pub db: String,
    pub sha1: Option<ScramCredential>,
    pub sha256: Option<ScramCredential>,
    pub privileges: Arc<UserPrivileges>,
    pub scopes: Option<Vec<String>>,
    pub delete_after: Option<i64>,
    pub client_source: Vec<IpNet>,
}

impl User {
    pub fn credential(&self, m: Mechanism) -> Option<&ScramCredential> {
        match m {
            Mechanism::ScramSha1 => self.sha1.as_ref(),
            Mechanism::ScramSha256 => self.sha256.as_ref(),
        }
    }

    /// Mechanism names this user can authenticate with (for `saslSupportedMechs`).
    pub fn mechanisms(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.sha1.is_some() {
            out.push(Mechanism::ScramSha1.name());
        }
        if self.sha256.is_some() {
            out.push(Mechanism::ScramSha256.name());
        }
        out
    }

    /// Whether the user still exists at `now` (unix seconds).
    pub fn alive(&self, now: i64) -> bool {
        self.delete_after.is_none_or(|t| now < t)
    }
}

/// Why a lookup found no usable user (logged and audited, never sent to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent {
    Unknown,
    OutOfScope,
    Expired,
    SourceRestricted,
}

impl Absent {
    pub fn as_str(self) -> &'static str {
        match self {
            Absent::Unknown => "unknown user",
            Absent::OutOfScope => "user not scoped to this cluster",
            Absent::Expired => "user expired (delete_after)",
            Absent::SourceRestricted => "client address not in the user's client_source",
        }
    }
}

/// Where the connection is, for lookups.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub cluster: &'a str,
    pub peer: IpAddr,
    pub now: i64,
}

/// All users, keyed by (authentication db, user name).
#[derive(Debug, Default)]
pub struct Directory {
    users: HashMap<(String, String), Arc<User>>,
}

impl Directory {
    /// Compiles `[[users]]`. Errors name the user's index and field.
    pub fn build(
        users: &[UserConfig],
        catalog: &RoleCatalog,
        clusters: &[String],
    ) -> Result<Directory, String> {
        let mut out = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            let user = compile(u, catalog, clusters).map_err(|e| match e.split_once(": ") {
                // One key-path style everywhere: users[0].roles[1] ("name"): reason.
                Some((field, reason)) => format!("users[{i}].{field} ({:?}): {reason}", u.user),
                None => format!("users[{i}] ({:?}): {e}", u.user),
            })?;
            let key = (u.db.clone(), u.user.clone());
            if out.insert(key, Arc::new(user)).is_some() {
                return Err(format!(
                    "users[{i}] ({:?}): duplicate user {}@{}",
                    u.user, u.user, u.db
                ));
            }
        }
        Ok(Directory { users: out })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// The user as configured, regardless of scope or expiry.
    pub fn get(&self, db: &str, user: &str) -> Option<&Arc<User>> {
        self.users.get(&(db.to_string(), user.to_string()))
    }

    /// The user, if it exists for this connection.
    pub fn lookup(&self, db: &str, user: &str, ctx: &Context<'_>) -> Result<&Arc<User>, Absent> {
        let u = self.get(db, user).ok_or(Absent::Unknown)?;
        if let Some(scopes) = &u.scopes {
            if !scopes.iter().any(|s| s == ctx.cluster) {
                return Err(Absent::OutOfScope);
            }
        }
        if !u.alive(ctx.now) {
            return Err(Absent::Expired);
        }
        let peer = canonical(ctx.peer);
        if !u.client_source.is_empty() && !u.client_source.iter().any(|n| n.contains(&peer)) {
            return Err(Absent::SourceRestricted);
        }
        Ok(u)
    }
}

fn compile(u: &UserConfig, catalog: &RoleCatalog, clusters: &[String]) -> Result<User, String> {
    if u.user.is_empty() {
        return Err("user: must not be empty".into());
    }
    let (sha1, sha256) = credentials(&u.credentials)?;
    let privileges = catalog.resolve(&u.roles).map_err(|e| match e.to_string() {
        s if s.starts_with("roles[") => s,
        s => format!("roles: {s}"),
    })?;
    if let Some(scopes) = &u.scopes {
        for (j, s) in scopes.iter().enumerate() {
            if !clusters.contains(s) {
                return Err(format!("scopes[{j}]: no cluster named {s:?}"));
            }
        }
    }
    let delete_after = match &u.delete_after {
        None => None,
        Some(t) => Some(parse_rfc3339(t).map_err(|e| format!("delete_after: {e}"))?),
    };
    let client_source = u
        .client_source
        .iter()
        .enumerate()
        .map(|(j, t)| parse_net(t).map_err(|e| format!("client_source[{j}]: {e}")))
        .collect::<Result<_, _>>()?;
    Ok(User {
        user: u.user.clone(),
        db: u.db.clone(),
        sha1,
        sha256,
        privileges: Arc::new(privileges),
        scopes: u.scopes.clone(),
        delete_after,
        client_source,
    })
}

type Creds = (Option<ScramCredential>, Option<ScramCredential>);

fn credentials(map: &BTreeMap<String, CredentialConfig>) -> Result<Creds, String> {
    let (mut sha1, mut sha256) = (None, None);
    for (name, c) in map {
        let m = Mechanism::from_name(name).ok_or_else(|| {
            format!("credentials: unknown mechanism {name:?} (SCRAM-SHA-256 or SCRAM-SHA-1)")
        })?;
        let cred = ScramCredential::from_config(m, c)
            .map_err(|e| format!("credentials.\"{name}\".{e}"))?;
        match m {
            Mechanism::ScramSha1 => sha1 = Some(cred),
            Mechanism::ScramSha256 => sha256 = Some(cred),
        }
    }
    if sha1.is_none() && sha256.is_none() {
        return Err("credentials: at least one of SCRAM-SHA-256 / SCRAM-SHA-1 is required (see mongoward hash-password)".into());
    }
    Ok((sha1, sha256))
}

/// RFC 3339 to unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e})"))
}

fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|e| {
            let reason = crate::gates::access_list::cidr_reason(text, e.to_string());
            format!("{text:?}: {reason}")
        })
}

#[cfg(test)]
mod tests;
