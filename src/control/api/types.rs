//! Request and response bodies of the admin API (the Atlas shapes; mongoward extensions are
//! marked). Requests refuse unknown fields.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::paging::Link;
use super::schemas::{whole, whole_opt, GroupRoleName, OrgRoleName, RoleName};

/// `POST /groups`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroup {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub org_id: String,
}

/// `PATCH /groups/{groupId}` and `PATCH /orgs/{orgId}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rename {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
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
    #[serde(
        default,
        deserialize_with = "whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 8, maximum = 8760)]
    pub max_service_account_secret_validity_in_hours: Option<i64>,
}

/// mongoward extension: the existing deployment a cluster fronts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamBody {
    /// `mongodb://[service_user@]host:port[,...]/?...`, without a password.
    #[schema(pattern = "^mongodb://")]
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub password_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
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
    #[schema(schema_with = super::schemas::role_name)]
    pub role_name: String,
    #[schema(schema_with = super::schemas::name)]
    pub database_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub collection_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    #[schema(pattern = "^[a-zA-Z0-9][a-zA-Z0-9-]*$", max_length = 64)]
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
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub key: String,
    #[schema(max_length = 255, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
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
    #[schema(schema_with = super::schemas::name)]
    pub username: String,
    /// `admin` (SCRAM users).
    #[schema(schema_with = super::schemas::admin_only)]
    pub database_name: String,
    /// Write-only, 8 to 1024 characters.
    #[schema(write_only, min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(min_items = 1)]
    pub roles: Vec<RoleBody>,
    #[serde(default)]
    pub scopes: Vec<ScopeBody>,
    /// Within one week from now.
    #[schema(format = DateTime)]
    pub delete_after_date: Option<String>,
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
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
    #[schema(write_only, min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    #[schema(min_items = 1)]
    pub roles: Option<Vec<RoleBody>>,
    pub scopes: Option<Vec<ScopeBody>>,
    /// Within one week from now.
    #[schema(format = DateTime)]
    pub delete_after_date: Option<String>,
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
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
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub db: Option<String>,
    #[schema(max_length = 255, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub collection: Option<String>,
    /// `true`: the cluster resource (db and collection are ignored).
    pub cluster: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Atlas upper-snake action name (`FIND`, `LIST_COLLECTIONS`, ...).
    #[schema(schema_with = super::schemas::atlas_actions)]
    pub action: String,
    #[serde(default)]
    #[schema(min_items = 1)]
    pub resources: Vec<RoleResourceBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InheritedRoleBody {
    #[schema(schema_with = super::schemas::role_name)]
    pub role: String,
    #[schema(schema_with = super::schemas::name)]
    pub db: String,
}

/// `POST /groups/{groupId}/customDBRoles/roles` (and its GET shape).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomRoleBody {
    #[schema(schema_with = super::schemas::custom_role_name)]
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

/// Entries one access-list POST may carry (Atlas's per-request limit).
pub const MAX_ENTRIES: usize = 200;

/// The array body of an access-list POST: 1 to [`MAX_ENTRIES`] entries of `$entry`.
macro_rules! entries {
    ($(#[$doc:meta])* $name:ident, $entry:ty) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Vec<$entry>);

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(<$entry>::name()))
                    .min_items(Some(1))
                    .max_items(Some(MAX_ENTRIES))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((<$entry>::name().into_owned(), <$entry>::schema()));
            }
        }
    };
}

entries!(
    /// `POST /groups/{groupId}/accessList`
    AccessEntries, AccessEntryBody
);
entries!(
    /// `POST .../serviceAccounts/{clientId}/accessList`
    SaAccessEntries, SaAccessEntryBody
);

/// One entry of `POST /groups/{groupId}/accessList` (an array) and the GET shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntryBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 80, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub comment: Option<String>,
    /// Within one week from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
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

/// `POST /orgs/{orgId}/serviceAccounts` (`R` = [`OrgRoleName`]) and
/// `POST /groups/{groupId}/serviceAccounts` (`R` = [`GroupRoleName`]): the schema lists the
/// role names of the level from the same table the server parses them with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceAccount<R> {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[schema(
        min_length = 1,
        max_length = 250,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub description: String,
    #[schema(min_items = 1)]
    pub roles: Vec<R>,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 8, maximum = 8760)]
    pub secret_expires_after_hours: i64,
}

/// `PATCH .../serviceAccounts/{clientId}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateServiceAccount<R> {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 250,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub description: Option<String>,
    #[schema(min_items = 1)]
    pub roles: Option<Vec<R>>,
}

pub type CreateOrgServiceAccount = CreateServiceAccount<OrgRoleName>;
pub type CreateGroupServiceAccount = CreateServiceAccount<GroupRoleName>;
pub type UpdateOrgServiceAccount = UpdateServiceAccount<OrgRoleName>;
pub type UpdateGroupServiceAccount = UpdateServiceAccount<GroupRoleName>;

fn names<R: RoleName>(roles: &[R]) -> Vec<String> {
    roles.iter().map(|r| r.role_name().to_string()).collect()
}

impl<R: RoleName> CreateServiceAccount<R> {
    /// The same body with the roles by name (what `service_accounts.rs` works on).
    pub fn named(self) -> CreateServiceAccount<String> {
        CreateServiceAccount {
            roles: names(&self.roles),
            name: self.name,
            description: self.description,
            secret_expires_after_hours: self.secret_expires_after_hours,
        }
    }
}

impl<R: RoleName> UpdateServiceAccount<R> {
    pub fn named(self) -> UpdateServiceAccount<String> {
        UpdateServiceAccount {
            roles: self.roles.as_deref().map(names),
            name: self.name,
            description: self.description,
        }
    }
}

/// `POST .../serviceAccounts/{clientId}/secrets`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecret {
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 8, maximum = 8760)]
    pub secret_expires_after_hours: i64,
}

/// `POST /groups/{groupId}/serviceAccounts/{clientId}:invite`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteServiceAccount {
    #[schema(min_items = 1)]
    pub roles: Vec<GroupRoleName>,
}

impl InviteServiceAccount {
    pub fn named(self) -> Vec<String> {
        names(&self.roles)
    }
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
