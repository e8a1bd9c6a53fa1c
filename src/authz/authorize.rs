//! The authorization decision: does a user's privilege union satisfy a command's
//! [`Formula`] (model.rs), and if not, what was missing.
//!
//! The success path allocates nothing; only a denial builds its explanation.

use std::fmt;

use serde_json::{json, Value};

use super::model::{ActionSet, Formula, Requirement, Resource};
use super::privileges::UserPrivileges;

/// Zero-sized proof that authorization passed; only [`authorize`] can make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    _private: (),
}

/// Why a formula failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denial {
    /// What was lacking (for `Or`: the first branch's gaps).
    pub missing: Vec<MissingPrivilege>,
    /// `Lacks` clauses that failed: privileges the user holds but must not for this form.
    pub forbidden: Vec<MissingPrivilege>,
    /// The formula contains a `Never` (or an empty `Or`) on the failing path.
    pub never: bool,
}

/// Actions lacking on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrivilege {
    pub resource: OwnedResource,
    pub actions: ActionSet,
}

/// Owned copy of [`Resource`], so a denial can outlive the command bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedResource {
    Cluster,
    Database(String),
    Namespace { db: String, coll: String },
    AnyNormal,
    AnyResource,
}

impl From<&Resource<'_>> for OwnedResource {
    fn from(r: &Resource<'_>) -> Self {
        match *r {
            Resource::Cluster => OwnedResource::Cluster,
            Resource::Database(db) => OwnedResource::Database(db.to_string()),
            Resource::Namespace { db, coll } => OwnedResource::Namespace {
                db: db.to_string(),
                coll: coll.to_string(),
            },
            Resource::AnyNormal => OwnedResource::AnyNormal,
            Resource::AnyResource => OwnedResource::AnyResource,
        }
    }
}

impl OwnedResource {
    /// mongod's resource document shape.
    pub fn to_json(&self) -> Value {
        match self {
            OwnedResource::Cluster => json!({"cluster": true}),
            OwnedResource::Database(db) => json!({"db": db, "collection": ""}),
            OwnedResource::Namespace { db, coll } => json!({"db": db, "collection": coll}),
            OwnedResource::AnyNormal => json!({"db": "", "collection": ""}),
            OwnedResource::AnyResource => json!({"anyResource": true}),
        }
    }
}

impl MissingPrivilege {
    fn of(resource: &Resource<'_>, actions: ActionSet) -> Self {
        MissingPrivilege {
            resource: resource.into(),
            actions,
        }
    }

    /// `{"resource": {...}, "actions": ["find", ...]}`
    pub fn to_json(&self) -> Value {
        let actions: Vec<&str> = self.actions.iter().map(|a| a.name()).collect();
        json!({"resource": self.resource.to_json(), "actions": actions})
    }
}

impl Denial {
    /// `{"missing": [...], "forbidden": [...], "never": bool}` for the policy simulator;
    /// each entry is [`MissingPrivilege::to_json`].
    pub fn to_json(&self) -> Value {
        let list = |v: &[MissingPrivilege]| v.iter().map(|m| m.to_json()).collect::<Vec<_>>();
        json!({
            "missing": list(&self.missing),
            "forbidden": list(&self.forbidden),
            "never": self.never,
        })
    }
}

impl fmt::Display for MissingPrivilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.actions.iter().map(|a| a.name()).collect();
        write!(f, "[{}] on {}", names.join(", "), self.resource.to_json())
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.never {
            return f.write_str("not allowed for any user");
        }
        let parts = self.missing.iter().map(|m| format!("missing {m}"));
        let parts = parts.chain(self.forbidden.iter().map(|m| format!("holds {m}")));
        f.write_str(&parts.collect::<Vec<_>>().join("; "))
    }
}

/// Formulas nest (pipelines inside pipelines); beyond this depth the command is denied
/// rather than risking the stack. Far above what valid BSON nesting produces.
const MAX_DEPTH: usize = 256;

/// Decides `formula` for `user`: privileges are the union across all roles, `anyAction`
/// grants every action (both handled by [`UserPrivileges`]).
pub fn authorize(user: &UserPrivileges, formula: &Formula<'_>) -> Result<Permit, Denial> {
    if holds(user, formula, 0) {
        return Ok(Permit { _private: () });
    }
    let mut denial = Denial::default();
    explain(user, formula, 0, &mut denial);
    Err(denial)
}

fn holds(user: &UserPrivileges, f: &Formula<'_>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match f {
        Formula::Authenticated => true,
        Formula::All(reqs) => reqs.iter().all(|r| user.has(r)),
        Formula::And(fs) => fs.iter().all(|f| holds(user, f, depth + 1)),
        Formula::Or(fs) => fs.iter().any(|f| holds(user, f, depth + 1)),
        Formula::Lacks(r) => !user.has(r),
        Formula::Never => false,
    }
}

/// Records why `f` fails (only called on failing formulas and sub-formulas).
fn explain(user: &UserPrivileges, f: &Formula<'_>, depth: usize, out: &mut Denial) {
    if depth > MAX_DEPTH {
        out.never = true;
        return;
    }
    match f {
        Formula::Authenticated => {}
        Formula::All(reqs) => reqs.iter().for_each(|r| explain_req(user, r, out)),
        Formula::And(fs) => {
            for sub in fs.iter().filter(|sub| !holds(user, sub, depth + 1)) {
                explain(user, sub, depth + 1, out);
            }
        }
        Formula::Or(fs) => match fs.first() {
            Some(first) => explain(user, first, depth + 1, out),
            None => out.never = true,
        },
        Formula::Lacks(r) => {
            if user.has(r) {
                out.forbidden
                    .push(MissingPrivilege::of(&r.resource, r.actions));
            }
        }
        Formula::Never => out.never = true,
    }
}

fn explain_req(user: &UserPrivileges, r: &Requirement<'_>, out: &mut Denial) {
    let lacking = r.actions.minus(&user.actions_on(&r.resource));
    if !lacking.is_empty() {
        out.missing.push(MissingPrivilege::of(&r.resource, lacking));
    }
}

#[cfg(test)]
mod tests;
