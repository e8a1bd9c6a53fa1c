//! The authorization decision for one command, shared by the live proxy and the
//! `authz-check` policy simulator so both take exactly the same path:
//! classify -> refuse what the proxy never forwards -> authorize.

use crate::error_code::ErrorCode;
use bson::RawDocument;

use super::authorize::{authorize, Denial};
use super::classify::{classify, Classified, ClassifyError, Kind, Sequences};
use super::privileges::UserPrivileges;

/// Why a command was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Not a command the proxy can read (unknown, malformed, admin-only elsewhere, ...).
    Classify(ClassifyError),
    /// Authentication is required first.
    Unauthenticated { name: String },
    /// Users and roles live in mongoward's configuration, not the data plane.
    UserManagement { name: String },
    /// The roles do not grant what the command needs.
    Denied {
        name: String,
        db: String,
        target: String,
        denial: Box<Denial>,
    },
}

impl Refusal {
    pub fn code(&self) -> i32 {
        self.error_code().code()
    }

    pub fn code_name(&self) -> &'static str {
        self.error_code().name()
    }

    /// The mongod error a refusal is reported as.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Refusal::Classify(e) => e.error_code(),
            _ => ErrorCode::Unauthorized,
        }
    }

    /// The client-facing message: what was refused and no more (never document contents).
    pub fn errmsg(&self) -> String {
        match self {
            Refusal::Classify(e) => e.to_string(),
            Refusal::Unauthenticated { name } => format!("command {name} requires authentication"),
            Refusal::UserManagement { name } => format!(
                "command {name} is not available through mongoward: database users and roles are managed in mongoward's configuration, not through the data plane"
            ),
            Refusal::Denied { name, db, target, .. } => {
                format!("not authorized on {db} to execute command {name} on {target}")
            }
        }
    }

    /// What was lacking, for the simulator's `missing` field.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Refusal::Denied { denial, .. } => Some(denial),
            _ => None,
        }
    }
}

/// The authenticated caller.
#[derive(Clone, Copy)]
pub struct Caller<'u> {
    pub user: &'u str,
    pub db: &'u str,
    pub privileges: &'u UserPrivileges,
}

/// Classifies `body` and decides for a caller (`None` = not authenticated).
pub fn decide<'a, S: Sequences<'a>>(
    caller: Option<Caller<'_>>,
    body: &'a RawDocument,
    seqs: &S,
) -> Result<Classified<'a>, Refusal> {
    let c = classify(body, seqs).map_err(Refusal::Classify)?;
    if !c.requires_auth {
        return Ok(c);
    }
    let Some(caller) = caller else {
        return Err(Refusal::Unauthenticated {
            name: c.name.to_string(),
        });
    };
    if c.kind == Kind::UserManagement {
        return Err(Refusal::UserManagement {
            name: c.name.to_string(),
        });
    }
    // As mongod: a user may always look itself up (usersInfo without viewUser).
    if c.kind == Kind::UsersInfo && asks_only_about(body, c.db, caller.user, caller.db) {
        return Ok(c);
    }
    match authorize(caller.privileges, &c.formula) {
        Ok(_) => Ok(c),
        Err(denial) => Err(Refusal::Denied {
            name: c.name.to_string(),
            db: c.db.to_string(),
            target: c.target.to_string(),
            denial: Box::new(denial),
        }),
    }
}

/// True when `usersInfo` names only the caller (`"name"` in the caller's db, or
/// `{user, db}` / arrays of those).
fn asks_only_about(body: &RawDocument, cmd_db: &str, user: &str, db: &str) -> bool {
    use bson::RawBsonRef;
    let is_self = |v: RawBsonRef<'_>| match v {
        RawBsonRef::String(name) => name == user && cmd_db == db,
        RawBsonRef::Document(d) => {
            d.get_str("user").ok() == Some(user) && d.get_str("db").ok() == Some(db)
        }
        _ => false,
    };
    match body.get("usersInfo") {
        Ok(Some(RawBsonRef::Array(list))) => {
            let mut any = false;
            for v in list {
                match v {
                    Ok(v) if is_self(v) => any = true,
                    _ => return false,
                }
            }
            any
        }
        Ok(Some(v)) => is_self(v),
        _ => false,
    }
}

/// Commands mongosh sends at startup to describe the server (prompt, warnings, version
/// banner, Atlas CLI detection), whether or not the user may run them. Their denials are
/// expected noise: the proxy audits them like any denial but logs them at debug.
/// `target` is the namespace or database the denial names.
pub fn is_shell_startup_probe(command: &str, target: &str) -> bool {
    const PROBES: [&str; 6] = [
        "getParameter",
        "getLog",
        "getCmdLineOpts",
        "atlasVersion",
        "hostInfo",
        "getFreeMonitoringStatus",
    ];
    PROBES.contains(&command) || (command == "aggregate" && target == "admin.atlascli")
}

#[cfg(test)]
mod probe_tests {
    use super::is_shell_startup_probe;

    #[test]
    fn shell_startup_probes_are_named_exactly() {
        assert!(is_shell_startup_probe("getParameter", "admin"));
        assert!(is_shell_startup_probe("getLog", "admin"));
        assert!(is_shell_startup_probe("aggregate", "admin.atlascli"));
        for (other, target) in [
            ("find", "admin"),
            ("insert", "shop.orders"),
            ("getparameter", "admin"),
            ("aggregate", "shop.atlascli"),
            ("aggregate", "admin.orders"),
            ("", ""),
        ] {
            assert!(!is_shell_startup_probe(other, target), "{other} {target}");
        }
    }
}
