//! The stored records of the control plane (serde camelCase: the Atlas GET shape, minus
//! secrets), the key layout, and the Atlas <-> mongod action-name mapping.
//!
//! Records accept unknown fields on read, so an older instance can follow a store that a
//! newer one has written to during a rolling upgrade.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gates::credentials::CredentialConfig;

/// `orgs/{orgId}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub settings: OrgSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgSettings {
    #[serde(default)]
    pub api_access_list_required: bool,
    #[serde(default)]
    pub multi_factor_auth_required: bool,
    #[serde(default)]
    pub restrict_employee_access: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_service_account_secret_validity_in_hours: Option<u32>,
}

/// `groups/{groupId}` (Atlas calls projects groups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    pub org_id: String,
    /// RFC 3339.
    pub created: String,
}

/// `groups/{groupId}/clusters/{name}`. `upstream`, `listen` and `sni` are mongoward
/// extensions (Atlas provisions the cluster; mongoward fronts an existing one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    pub group_id: String,
    pub upstream: Upstream,
    /// TLS listeners of this cluster's own (`ip:port`).
    #[serde(default)]
    pub listen: Vec<String>,
    /// Names that route to this cluster on a shared listener (TLS SNI).
    #[serde(default)]
    pub sni: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upstream {
    /// `mongodb://[service_user@]host:port[,...]/?...` without a password.
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<String>,
}

/// `groups/{groupId}/databaseUsers/{db}/{username}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseUser {
    pub username: String,
    pub database_name: String,
    pub group_id: String,
    #[serde(default)]
    pub roles: Vec<RoleAssignment>,
    /// Empty: every cluster of the project (Atlas).
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// RFC 3339; the user stops existing then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Keyed by mechanism ("SCRAM-SHA-1", "SCRAM-SHA-256"); never a password. The API
    /// must not return it.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub role_name: String,
    pub database_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub name: String,
    /// `CLUSTER` (the only type mongoward serves; others scope to nothing).
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// `groups/{groupId}/customDBRoles/{roleName}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRole {
    pub role_name: String,
    pub group_id: String,
    #[serde(default)]
    pub actions: Vec<RoleAction>,
    #[serde(default)]
    pub inherited_roles: Vec<InheritedRole>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAction {
    /// Atlas spelling (`FIND`, `LIST_COLLECTIONS`); see [`mongod_action`].
    pub action: String,
    #[serde(default)]
    pub resources: Vec<RoleResource>,
}

/// `{db, collection}` or `{cluster: true}` (which ignores the other two). An empty `db`
/// means every database, an empty or absent `collection` every collection (mongod's
/// convention).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InheritedRole {
    pub role: String,
    pub db: String,
}

/// `groups/{groupId}/accessList/{entry}`: exactly one of `cidr_block` and `ip_address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// RFC 3339; the entry stops matching then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_date: Option<String>,
}

impl AccessEntry {
    /// The address or block this entry admits, as written.
    pub fn value(&self) -> Option<&str> {
        self.cidr_block.as_deref().or(self.ip_address.as_deref())
    }
}

pub mod keys;
pub use keys::*;

mod action_names;
pub use action_names::{atlas_action, mongod_action};

/// SCRAM-SHA-1 and SCRAM-SHA-256 credentials for a new password, keyed as
/// [`DatabaseUser::credentials`] stores them (the password itself is never stored).
pub fn scram_credentials(
    username: &str,
    password: &str,
) -> Result<BTreeMap<String, CredentialConfig>, crate::gates::credentials::CredentialError> {
    use crate::gates::credentials::{Mechanism, ScramCredential};
    let mut out = BTreeMap::new();
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let salt: Vec<u8> = (0..m.salt_len()).map(|_| rand::random::<u8>()).collect();
        let c = ScramCredential::derive(m, username, password, &salt, m.default_iterations())?;
        out.insert(m.name().to_string(), c.to_config());
    }
    Ok(out)
}

/// The op that fails a write unless project `group_id` still exists (404 from the API).
/// Every record created under a project carries it; a project delete removes its whole key
/// range in its own transaction, so whichever commits second loses and no child is left
/// without its project.
pub fn project_guard(group_id: &str) -> crate::control::store::Op {
    crate::control::store::Op::exists(project_key(group_id))
}
