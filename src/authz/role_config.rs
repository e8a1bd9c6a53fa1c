//! Configuration shapes for custom roles and role references (TOML via serde).
//!
//! Custom roles follow mongod's privilege documents (`{db, collection}`, `{db,
//! system_buckets}`, `{cluster: true}`, `{anyResource: true}`; `""` means "any", as in
//! mongod -- see `builtin_roles.json` `_meta.resource_notation`). They are defined once,
//! like Atlas custom roles, which all live in admin. Users name roles as `name@db`,
//! `name@db.collection` (Atlas CLI syntax), a bare custom role name, or a table.

use serde::{Deserialize, Serialize};

use super::model::ResourcePattern;
use super::privileges::Problem;

/// One `[[roles]]` entry: a custom role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub role: String,
    #[serde(default)]
    pub privileges: Vec<PrivilegeConfig>,
    /// Inherited roles, built-in or custom.
    #[serde(default)]
    pub roles: Vec<RoleRef>,
}

/// `{ resource = {...}, actions = [...] }`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivilegeConfig {
    pub resource: ResourceConfig,
    pub actions: Vec<String>,
}

/// A resource document with mongod's field names; which combination is present decides
/// the pattern ([`ResourceConfig::to_pattern`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_buckets: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<bool>,
    #[serde(
        default,
        rename = "anyResource",
        skip_serializing_if = "Option::is_none"
    )]
    pub any_resource: Option<bool>,
}

/// A reference to a role: `"read@archive"`, `"read@reporting.daily_sales"`,
/// `"dailySalesReader"`, or `{ role = "readWrite", db = "ecommerce", collection = "orders" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoleRef {
    Name(String),
    Table(RoleRefTable),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRefTable {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// A role reference split into its parts, borrowing from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedRef<'a> {
    pub role: &'a str,
    pub db: Option<&'a str>,
    pub collection: Option<&'a str>,
}

impl RoleRef {
    /// Splits `name@db[.collection]` at the first `@` and the first `.` after it
    /// (database names cannot contain `.`, collection names can).
    pub fn parse(&self) -> Result<ParsedRef<'_>, Problem> {
        let parsed = match self {
            RoleRef::Name(text) => match text.split_once('@') {
                None => ParsedRef {
                    role: text,
                    db: None,
                    collection: None,
                },
                Some((role, rest)) => {
                    let (db, collection) = match rest.split_once('.') {
                        Some((db, coll)) => (db, Some(coll)),
                        None => (rest, None),
                    };
                    ParsedRef {
                        role,
                        db: Some(db),
                        collection,
                    }
                }
            },
            RoleRef::Table(t) => ParsedRef {
                role: &t.role,
                db: t.db.as_deref(),
                collection: t.collection.as_deref(),
            },
        };
        if parsed.role.is_empty() {
            return Err(Problem::BadRef("empty role name".into()));
        }
        if let Some(db) = parsed.db {
            check_db_name(db).map_err(Problem::BadRef)?;
        }
        if parsed.collection.is_some_and(|c| c.is_empty()) {
            return Err(Problem::BadRef("empty collection name".into()));
        }
        Ok(parsed)
    }
}

impl ResourceConfig {
    /// The pattern this document denotes; mongod's shapes only, anything else is an error.
    pub fn to_pattern(&self) -> Result<ResourcePattern, String> {
        let named = self.db.is_some() || self.collection.is_some() || self.system_buckets.is_some();
        match (self.cluster, self.any_resource) {
            (None, None) => self.named_pattern(),
            (Some(_), Some(_)) => Err("cluster and anyResource are exclusive".into()),
            _ if named => Err(
                "cluster/anyResource cannot be combined with db, collection or system_buckets"
                    .into(),
            ),
            (Some(true), None) => Ok(ResourcePattern::Cluster),
            (None, Some(true)) => Ok(ResourcePattern::AnyResource),
            (Some(false), None) => Err("cluster must be true".into()),
            (None, Some(false)) => Err("anyResource must be true".into()),
        }
    }

    /// `{db, collection}` or `{db, system_buckets}`.
    fn named_pattern(&self) -> Result<ResourcePattern, String> {
        let db = self
            .db
            .as_deref()
            .ok_or("db is required (\"\" = any database)")?;
        if !db.is_empty() {
            check_db_name(db)?;
        }
        match (self.collection.as_deref(), self.system_buckets.as_deref()) {
            (Some(_), Some(_)) => Err("collection and system_buckets are exclusive".into()),
            (None, None) => Err("collection or system_buckets is required (\"\" = any)".into()),
            (Some(coll), None) => {
                check_coll_name(coll)?;
                Ok(collection_pattern(db, coll))
            }
            (None, Some(bucket)) => {
                check_coll_name(bucket)?;
                Ok(ResourcePattern::SystemBuckets {
                    db: non_empty(db),
                    coll: non_empty(bucket),
                })
            }
        }
    }
}

fn collection_pattern(db: &str, coll: &str) -> ResourcePattern {
    match (db.is_empty(), coll.is_empty()) {
        (true, true) => ResourcePattern::AnyNormal,
        (false, true) => ResourcePattern::Database(db.to_string()),
        (true, false) => ResourcePattern::CollectionInAnyDb(coll.to_string()),
        (false, false) => ResourcePattern::Namespace {
            db: db.to_string(),
            coll: coll.to_string(),
        },
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// mongod's database-name rule: non-empty and none of `/\. "$` or NUL.
pub fn check_db_name(db: &str) -> Result<(), String> {
    if db.is_empty() {
        return Err("empty database name".into());
    }
    match db
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '.' | ' ' | '"' | '$' | '\0'))
    {
        Some(c) => Err(format!("database name {db:?} contains {c:?}")),
        None => Ok(()),
    }
}

fn check_coll_name(coll: &str) -> Result<(), String> {
    if coll.contains('\0') {
        return Err(format!("collection name {coll:?} contains NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
