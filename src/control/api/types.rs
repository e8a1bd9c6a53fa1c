//! Request and response bodies of the admin API (the Atlas shapes; mongoward extensions are
//! marked). Requests refuse unknown fields.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::paging::Link;

/// `POST /groups`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroup {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub org_id: String,
}

/// `PATCH /groups/{groupId}` and `PATCH /orgs/{orgId}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rename {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub created: String,
    pub cluster_count: usize,
    pub links: Vec<Link>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub is_deleted: bool,
    pub links: Vec<Link>,
}

/// Organization settings (GET answers all; PATCH sets those given).
#[derive(Debug, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgSettingsBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_access_list_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_factor_auth_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restrict_employee_access: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 8, maximum = 8760)]
    pub max_service_account_secret_validity_in_hours: Option<i64>,
}

/// mongoward extension: the existing deployment a cluster fronts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamBody {
    /// `mongodb://[service_user@]host:port[,...]/?...`, without a password.
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<String>,
}

/// `POST /groups/{groupId}/clusters`. `upstream`, `listen` and `sni` are mongoward
/// extensions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCluster {
    #[schema(pattern = "^[a-zA-Z0-9][a-zA-Z0-9-]*$", max_length = 64)]
    pub name: String,
    pub upstream: UpstreamBody,
    /// Listeners of this cluster's own (`ip:port`).
    #[serde(default)]
    pub listen: Vec<String>,
    /// Server names routed to this cluster on a shared listener.
    #[serde(default)]
    pub sni: Vec<String>,
}

/// `PATCH /groups/{groupId}/clusters/{clusterName}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCluster {
    pub upstream: Option<UpstreamBody>,
    pub listen: Option<Vec<String>>,
    pub sni: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionStrings {
    /// The `mongodb://` URI clients use to reach this cluster through mongoward.
    pub standard: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub name: String,
    pub group_id: String,
    pub upstream: UpstreamBody,
    pub listen: Vec<String>,
    pub sni: Vec<String>,
    pub connection_strings: ConnectionStrings,
    pub state_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    pub role_name: String,
    pub database_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    #[schema(pattern = "^[a-zA-Z0-9][a-zA-Z0-9-]*$")]
    pub name: String,
    /// `CLUSTER` (the only scope type mongoward serves).
    #[serde(rename = "type")]
    pub kind: ScopeType,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum ScopeType {
    #[serde(rename = "CLUSTER")]
    Cluster,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelBody {
    pub key: String,
    pub value: String,
}

/// The authentication-type fields Atlas accepts; mongoward serves SCRAM only (`NONE`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum NoneOnly {
    #[serde(rename = "NONE")]
    None,
}

/// `POST /groups/{groupId}/databaseUsers`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDatabaseUser {
    #[schema(min_length = 1, max_length = 1024)]
    pub username: String,
    /// `admin` (SCRAM users).
    pub database_name: String,
    /// Write-only, at least 8 characters.
    #[schema(write_only, min_length = 8)]
    pub password: String,
    pub roles: Vec<RoleBody>,
    #[serde(default)]
    pub scopes: Vec<ScopeBody>,
    /// Within one week from now.
    pub delete_after_date: Option<String>,
    #[schema(max_length = 100)]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Vec<LabelBody>,
    /// Atlas sends the project id in the body too; it must match the path.
    pub group_id: Option<String>,
    pub x509_type: Option<NoneOnly>,
    #[serde(rename = "awsIAMType")]
    pub aws_iam_type: Option<NoneOnly>,
    pub ldap_auth_type: Option<NoneOnly>,
    pub oidc_auth_type: Option<NoneOnly>,
}

/// `PATCH /groups/{groupId}/databaseUsers/{databaseName}/{username}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDatabaseUser {
    #[schema(write_only, min_length = 8)]
    pub password: Option<String>,
    pub roles: Option<Vec<RoleBody>>,
    pub scopes: Option<Vec<ScopeBody>>,
    pub delete_after_date: Option<String>,
    #[schema(max_length = 100)]
    pub description: Option<String>,
    pub labels: Option<Vec<LabelBody>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseUserView {
    pub username: String,
    pub database_name: String,
    pub group_id: String,
    pub roles: Vec<RoleBody>,
    pub scopes: Vec<ScopeBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_after_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub labels: Vec<LabelBody>,
    pub x509_type: NoneOnly,
    #[serde(rename = "awsIAMType")]
    pub aws_iam_type: NoneOnly,
    pub ldap_auth_type: NoneOnly,
    pub oidc_auth_type: NoneOnly,
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleResourceBody {
    pub db: Option<String>,
    pub collection: Option<String>,
    /// `true`: the cluster resource (db and collection are ignored).
    pub cluster: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Atlas upper-snake action name (`FIND`, `LIST_COLLECTIONS`, ...).
    pub action: String,
    #[serde(default)]
    pub resources: Vec<RoleResourceBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InheritedRoleBody {
    pub role: String,
    pub db: String,
}

/// `POST /groups/{groupId}/customDBRoles/roles` (and its GET shape).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomRoleBody {
    pub role_name: String,
    #[serde(default)]
    pub actions: Vec<ActionBody>,
    #[serde(default)]
    pub inherited_roles: Vec<InheritedRoleBody>,
}

/// `PATCH /groups/{groupId}/customDBRoles/roles/{roleName}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCustomRole {
    pub actions: Option<Vec<ActionBody>>,
    pub inherited_roles: Option<Vec<InheritedRoleBody>>,
}

/// One entry of `POST /groups/{groupId}/accessList` (an array) and the GET shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntryBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 80)]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_after_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessStatus {
    /// `ACTIVE` once every instance enforces it (mongoward enforces on the next feed poll).
    #[serde(rename = "STATUS")]
    pub status: String,
}

/// `POST /orgs/{orgId}/serviceAccounts` and `POST /groups/{groupId}/serviceAccounts`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceAccount {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    #[schema(min_length = 1, max_length = 250)]
    pub description: String,
    /// Organization roles (`ORG_*`) at org level, project roles (`GROUP_*`) at project level.
    pub roles: Vec<String>,
    #[schema(minimum = 8, maximum = 8760)]
    pub secret_expires_after_hours: i64,
}

/// `PATCH .../serviceAccounts/{clientId}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateServiceAccount {
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 250)]
    pub description: Option<String>,
    pub roles: Option<Vec<String>>,
}

/// `POST .../serviceAccounts/{clientId}/secrets`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecret {
    #[schema(minimum = 8, maximum = 8760)]
    pub secret_expires_after_hours: i64,
}

/// `POST /groups/{groupId}/serviceAccounts/{clientId}:invite`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteServiceAccount {
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    pub id: String,
    pub created_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    pub masked_secret_value: String,
    /// Only in the answer that creates the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountView {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub created_at: String,
    pub roles: Vec<String>,
    pub secrets: Vec<SecretView>,
}

/// One entry of a service account's API access list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaAccessEntryBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}
