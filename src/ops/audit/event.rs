//! The audit message and one constructor per event type. Constructors take only names,
//! addresses and codes: there is deliberately no way to put a command's documents,
//! a password or a SCRAM proof into an event.

use std::net::SocketAddr;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

/// mongod error codes used as `result` (0 is success).
pub const UNAUTHORIZED: i32 = 13;
pub const AUTHENTICATION_FAILED: i32 = 18;
pub const SSL_HANDSHAKE_FAILED: i32 = 141;
pub const BAD_VALUE: i32 = 2;

/// `local` / `remote`: an address, or mongod's marker for events no client caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Addr(SocketAddr),
    System,
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        match self {
            Endpoint::Addr(a) => {
                m.serialize_entry("ip", &a.ip().to_string())?;
                m.serialize_entry("port", &a.port())?;
            }
            Endpoint::System => m.serialize_entry("isSystemUser", &true)?,
        }
        m.end()
    }
}

/// `{"$date": "<ISO-8601 UTC, milliseconds>"}` as mongod writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(bson::DateTime::now().timestamp_millis())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let text = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_default();
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("$date", &text)?;
        m.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRef {
    pub user: String,
    pub db: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRef {
    pub role: String,
    pub db: String,
}

/// Who is authenticated on the connection (mongod's `users` and `roles`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub users: Vec<UserRef>,
    pub roles: Vec<RoleRef>,
}

/// Where an event happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnCtx {
    /// The proxy's listening address the client reached.
    pub local: SocketAddr,
    /// The client (after PROXY protocol, if any).
    pub remote: SocketAddr,
    pub cluster: Option<String>,
    pub conn_id: Option<i64>,
}

/// Why a live connection was closed by policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RevokeReason {
    AccessEntryExpired,
    AccessEntryRemoved,
    UserExpired,
    UserRemoved,
    ScopeNarrowed,
    /// The cluster was deleted (control plane).
    ClusterRemoved,
}

/// What a reload produced (or would have, for a rejected file: the running counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub generation: u64,
    pub users: usize,
    pub roles: usize,
    pub access_list_entries: usize,
    /// Changes that cannot apply live (listeners, clusters).
    pub restart_required: Vec<String>,
}

/// One audit message. Field order is mongod's, then mongoward's additions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub atype: &'static str,
    pub ts: Timestamp,
    pub local: Endpoint,
    pub remote: Endpoint,
    pub users: Vec<UserRef>,
    pub roles: Vec<RoleRef>,
    pub param: Value,
    pub result: i32,
    pub cluster: Option<String>,
    #[serde(rename = "connId")]
    pub conn_id: Option<i64>,
}

impl AuditEvent {
    fn at(atype: &'static str, ctx: &ConnCtx, param: Value, result: i32) -> AuditEvent {
        AuditEvent {
            atype,
            ts: Timestamp::now(),
            local: Endpoint::Addr(ctx.local),
            remote: Endpoint::Addr(ctx.remote),
            users: Vec::new(),
            roles: Vec::new(),
            param,
            result,
            cluster: ctx.cluster.clone(),
            conn_id: ctx.conn_id,
        }
    }

    fn by(mut self, who: &Principal) -> AuditEvent {
        self.users = who.users.clone();
        self.roles = who.roles.clone();
        self
    }

    /// Fixes the timestamp (tests compare whole lines).
    pub fn with_ts(mut self, millis: i64) -> AuditEvent {
        self.ts = Timestamp(millis);
        self
    }

    /// Refused by the IP access list before TLS. `reason` is the gate's (e.g. "notListed").
    pub fn network_access_denied(ctx: &ConnCtx, reason: &str) -> AuditEvent {
        AuditEvent::at(
            "networkAccessDenied",
            ctx,
            json!({ "reason": reason }),
            UNAUTHORIZED,
        )
    }

    /// The TLS handshake failed or timed out; `error` is the TLS library's message.
    pub fn tls_failure(ctx: &ConnCtx, error: &str) -> AuditEvent {
        AuditEvent::at(
            "tlsHandshakeFailed",
            ctx,
            json!({ "error": error }),
            SSL_HANDSHAKE_FAILED,
        )
    }

    /// A finished SCRAM conversation. `outcome` carries the real failure reason, which is
    /// for the audit log only (the client is told just "Authentication failed.").
    pub fn authenticate(
        ctx: &ConnCtx,
        user: &str,
        db: &str,
        mechanism: &str,
        outcome: Result<(), &str>,
    ) -> AuditEvent {
        let mut param = json!({ "user": user, "db": db, "mechanism": mechanism });
        match outcome {
            Ok(()) => {
                let who = Principal {
                    users: vec![UserRef {
                        user: user.into(),
                        db: db.into(),
                    }],
                    roles: Vec::new(),
                };
                AuditEvent::at("authenticate", ctx, param, 0).by(&who)
            }
            Err(reason) => {
                param["reason"] = Value::from(reason);
                AuditEvent::at("authenticate", ctx, param, AUTHENTICATION_FAILED)
            }
        }
    }

    /// An authorization decision: `allowed = false` is a denial (result 13), `true` is
    /// logged only with `audit.log_allowed`. Names only: never the command's arguments.
    pub fn auth_check(
        ctx: &ConnCtx,
        who: &Principal,
        command: &str,
        ns: &str,
        allowed: bool,
    ) -> AuditEvent {
        let result = if allowed { 0 } else { UNAUTHORIZED };
        AuditEvent::at(
            "authCheck",
            ctx,
            json!({ "command": command, "ns": ns }),
            result,
        )
        .by(who)
    }

    /// The proxy closed a live connection because policy no longer admits it.
    pub fn connection_revoked(ctx: &ConnCtx, who: &Principal, reason: RevokeReason) -> AuditEvent {
        AuditEvent::at("connectionRevoked", ctx, json!({ "reason": reason }), 0).by(who)
    }

    /// A configuration reload. On error the summary describes the policy kept running.
    pub fn config_reload(summary: &ReloadSummary, outcome: Result<(), &str>) -> AuditEvent {
        let mut param = json!({
            "generation": summary.generation,
            "users": summary.users,
            "roles": summary.roles,
            "accessListEntries": summary.access_list_entries,
            "restartRequired": summary.restart_required,
        });
        let result = match outcome {
            Ok(()) => 0,
            Err(e) => {
                param["error"] = Value::from(e);
                BAD_VALUE
            }
        };
        AuditEvent {
            atype: "configReload",
            ts: Timestamp::now(),
            local: Endpoint::System,
            remote: Endpoint::System,
            users: Vec::new(),
            roles: Vec::new(),
            param,
            result,
            cluster: None,
            conn_id: None,
        }
    }

    /// The JSON line (no trailing newline).
    pub fn to_line(&self) -> String {
        // Serialising plain strings and numbers cannot fail; an empty object is a safe floor.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
