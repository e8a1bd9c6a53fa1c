//! Who may do what through the admin API: a pure function from (principal, operation,
//! resource) to a permit or a typed denial, with Atlas's role rules.
//!
//! Rules (Atlas documentation, `shared/control-plane/README.md` section 3):
//! - every project role includes Project Read Only;
//! - Organization Owner is Project Owner on every project of its organization;
//! - Organization Read Only sees every project of its organization read-only;
//! - Organization Member (and the billing roles) see only the projects they hold a role in;
//! - Project Owner includes every project role.
//!
//! The minimum role of each operation is `src/control/authz/min_roles.md` (copied from the
//! Atlas specification), and the table test checks every operation against every role.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
                 utoipa::ToSchema)]
        pub enum $name { $(#[serde(rename = $text)] $variant,)* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The Atlas API name.
            pub fn name(self) -> &'static str { match self { $($name::$variant => $text,)* } }
            /// Parses an Atlas API name (exact).
            pub fn from_name(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

named_enum!(
    /// Organization roles.
    OrgRole {
        Owner = "ORG_OWNER",
        GroupCreator = "ORG_GROUP_CREATOR",
        BillingAdmin = "ORG_BILLING_ADMIN",
        BillingReadOnly = "ORG_BILLING_READ_ONLY",
        ReadOnly = "ORG_READ_ONLY",
        Member = "ORG_MEMBER",
    }
);

named_enum!(
    /// Project ("group") roles. The Data Access and Observability roles exist as names
    /// (the admin API never reads data); they include Project Read Only like every role.
    GroupRole {
        Owner = "GROUP_OWNER",
        ClusterManager = "GROUP_CLUSTER_MANAGER",
        ClusterCreator = "GROUP_CLUSTER_CREATOR",
        DatabaseAccessAdmin = "GROUP_DATABASE_ACCESS_ADMIN",
        NetworkAccessManager = "GROUP_NETWORK_ACCESS_MANAGER",
        AccessManager = "GROUP_ACCESS_MANAGER",
        SupportAccessManager = "GROUP_SUPPORT_ACCESS_MANAGER",
        ReadOnly = "GROUP_READ_ONLY",
        DataAccessAdmin = "GROUP_DATA_ACCESS_ADMIN",
        DataAccessReadWrite = "GROUP_DATA_ACCESS_READ_WRITE",
        DataAccessReadOnly = "GROUP_DATA_ACCESS_READ_ONLY",
        ObservabilityViewer = "GROUP_OBSERVABILITY_VIEWER",
    }
);

/// What an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Any authenticated caller (the handler filters what it shows).
    Authenticated,
    /// An organization role on the organization addressed.
    Org(OrgNeed),
    /// A project role on the project addressed (Project Owner always suffices).
    Group(GroupNeed),
    /// Organization Owner of the project's organization (`:invite`).
    OrgOwnerOfGroup,
}

/// Organization-level needs, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgNeed {
    /// Any organization role.
    Member,
    /// Organization Read Only or Owner.
    ReadOnly,
    /// Organization Project Creator or Owner.
    GroupCreator,
    /// Organization Owner.
    Owner,
}

/// Project-level needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupNeed {
    /// Any project role.
    ReadOnly,
    /// Project Owner only.
    Owner,
    /// Project Owner or one of these roles.
    AnyOf(&'static [GroupRole]),
}

const CLUSTER_CREATOR: GroupNeed = GroupNeed::AnyOf(&[GroupRole::ClusterCreator]);
const CLUSTER_MANAGER: GroupNeed = GroupNeed::AnyOf(&[GroupRole::ClusterManager]);
const DB_ACCESS: GroupNeed = GroupNeed::AnyOf(&[GroupRole::DatabaseAccessAdmin]);
const NETWORK: GroupNeed = GroupNeed::AnyOf(&[GroupRole::NetworkAccessManager]);
const ACCESS: GroupNeed = GroupNeed::AnyOf(&[GroupRole::AccessManager]);
const SUPPORT: GroupNeed = GroupNeed::AnyOf(&[GroupRole::SupportAccessManager]);

macro_rules! operations {
    ($($variant:ident = $method:literal $path:literal => $req:expr;)*) => {
        /// Every operation of the admin API's role table (including those for people,
        /// teams, invitations and support access that later issues implement).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation { $($variant,)* }
        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)*];
            /// HTTP method.
            pub fn method(self) -> &'static str { match self { $(Operation::$variant => $method,)* } }
            /// Path template under `/api/atlas/v2`.
            pub fn path(self) -> &'static str { match self { $(Operation::$variant => $path,)* } }
            /// The minimum role.
            pub fn requirement(self) -> Requirement {
                use Requirement::*;
                use GroupNeed::{Owner as GOwner, ReadOnly as GRead};
                let _ = (GOwner, GRead);
                match self { $(Operation::$variant => $req,)* }
            }
        }
    };
}

operations! {
    ListGroups = "GET" "/groups" => Authenticated;
    CreateGroup = "POST" "/groups" => Org(OrgNeed::GroupCreator);
    DeleteGroup = "DELETE" "/groups/{groupId}" => Group(GOwner);
    GetGroup = "GET" "/groups/{groupId}" => Group(GRead);
    UpdateGroup = "PATCH" "/groups/{groupId}" => Group(GOwner);
    ListAccessList = "GET" "/groups/{groupId}/accessList" => Group(GRead);
    CreateAccessList = "POST" "/groups/{groupId}/accessList" => Group(NETWORK);
    DeleteAccessEntry = "DELETE" "/groups/{groupId}/accessList/{entryValue}" => Group(NETWORK);
    GetAccessEntry = "GET" "/groups/{groupId}/accessList/{entryValue}" => Group(GRead);
    GetAccessEntryStatus = "GET" "/groups/{groupId}/accessList/{entryValue}/status" => Group(GRead);
    ListClusters = "GET" "/groups/{groupId}/clusters" => Group(GRead);
    CreateCluster = "POST" "/groups/{groupId}/clusters" => Group(CLUSTER_CREATOR);
    DeleteCluster = "DELETE" "/groups/{groupId}/clusters/{clusterName}" => Group(GOwner);
    GetCluster = "GET" "/groups/{groupId}/clusters/{clusterName}" => Group(GRead);
    UpdateCluster = "PATCH" "/groups/{groupId}/clusters/{clusterName}" => Group(CLUSTER_MANAGER);
    GrantEmployeeAccess = "POST" "/groups/{groupId}/clusters/{clusterName}:grantMongoDBEmployeeAccess" => Group(SUPPORT);
    RevokeEmployeeAccess = "POST" "/groups/{groupId}/clusters/{clusterName}:revokeMongoDBEmployeeAccess" => Group(SUPPORT);
    ListCustomRoles = "GET" "/groups/{groupId}/customDBRoles/roles" => Group(GRead);
    CreateCustomRole = "POST" "/groups/{groupId}/customDBRoles/roles" => Group(DB_ACCESS);
    DeleteCustomRole = "DELETE" "/groups/{groupId}/customDBRoles/roles/{roleName}" => Group(DB_ACCESS);
    GetCustomRole = "GET" "/groups/{groupId}/customDBRoles/roles/{roleName}" => Group(GRead);
    UpdateCustomRole = "PATCH" "/groups/{groupId}/customDBRoles/roles/{roleName}" => Group(DB_ACCESS);
    ListDatabaseUsers = "GET" "/groups/{groupId}/databaseUsers" => Group(GRead);
    CreateDatabaseUser = "POST" "/groups/{groupId}/databaseUsers" => Group(DB_ACCESS);
    DeleteDatabaseUser = "DELETE" "/groups/{groupId}/databaseUsers/{databaseName}/{username}" => Group(DB_ACCESS);
    GetDatabaseUser = "GET" "/groups/{groupId}/databaseUsers/{databaseName}/{username}" => Group(GRead);
    UpdateDatabaseUser = "PATCH" "/groups/{groupId}/databaseUsers/{databaseName}/{username}" => Group(DB_ACCESS);
    ListGroupEvents = "GET" "/groups/{groupId}/events" => Group(GRead);
    GetGroupEvent = "GET" "/groups/{groupId}/events/{eventId}" => Group(GRead);
    ListGroupInvites = "GET" "/groups/{groupId}/invites" => Group(GOwner);
    UpdateGroupInvites = "PATCH" "/groups/{groupId}/invites" => Group(GOwner);
    CreateGroupInvite = "POST" "/groups/{groupId}/invites" => Group(GOwner);
    DeleteGroupInvite = "DELETE" "/groups/{groupId}/invites/{invitationId}" => Group(GOwner);
    GetGroupInvite = "GET" "/groups/{groupId}/invites/{invitationId}" => Group(GOwner);
    UpdateGroupInvite = "PATCH" "/groups/{groupId}/invites/{invitationId}" => Group(GOwner);
    ListGroupServiceAccounts = "GET" "/groups/{groupId}/serviceAccounts" => Group(GRead);
    CreateGroupServiceAccount = "POST" "/groups/{groupId}/serviceAccounts" => Group(GOwner);
    DeleteGroupServiceAccount = "DELETE" "/groups/{groupId}/serviceAccounts/{clientId}" => Group(GOwner);
    GetGroupServiceAccount = "GET" "/groups/{groupId}/serviceAccounts/{clientId}" => Group(GRead);
    UpdateGroupServiceAccount = "PATCH" "/groups/{groupId}/serviceAccounts/{clientId}" => Group(GOwner);
    ListGroupSaAccessList = "GET" "/groups/{groupId}/serviceAccounts/{clientId}/accessList" => Group(GRead);
    CreateGroupSaAccessList = "POST" "/groups/{groupId}/serviceAccounts/{clientId}/accessList" => Group(ACCESS);
    DeleteGroupSaAccessEntry = "DELETE" "/groups/{groupId}/serviceAccounts/{clientId}/accessList/{ipAddress}" => Group(ACCESS);
    CreateGroupSaSecret = "POST" "/groups/{groupId}/serviceAccounts/{clientId}/secrets" => Group(GOwner);
    DeleteGroupSaSecret = "DELETE" "/groups/{groupId}/serviceAccounts/{clientId}/secrets/{secretId}" => Group(GOwner);
    InviteServiceAccount = "POST" "/groups/{groupId}/serviceAccounts/{clientId}:invite" => OrgOwnerOfGroup;
    GetGroupSettings = "GET" "/groups/{groupId}/settings" => Group(GRead);
    UpdateGroupSettings = "PATCH" "/groups/{groupId}/settings" => Group(GOwner);
    ListGroupTeams = "GET" "/groups/{groupId}/teams" => Group(GRead);
    AddGroupTeams = "POST" "/groups/{groupId}/teams" => Group(ACCESS);
    RemoveGroupTeam = "DELETE" "/groups/{groupId}/teams/{teamId}" => Group(ACCESS);
    GetGroupTeam = "GET" "/groups/{groupId}/teams/{teamId}" => Group(GRead);
    UpdateGroupTeam = "PATCH" "/groups/{groupId}/teams/{teamId}" => Group(ACCESS);
    ListGroupUsers = "GET" "/groups/{groupId}/users" => Group(GRead);
    AddGroupUser = "POST" "/groups/{groupId}/users" => Group(ACCESS);
    RemoveGroupUser = "DELETE" "/groups/{groupId}/users/{userId}" => Group(ACCESS);
    GetGroupUser = "GET" "/groups/{groupId}/users/{userId}" => Group(GRead);
    SetGroupUserRoles = "PUT" "/groups/{groupId}/users/{userId}/roles" => Group(GOwner);
    AddGroupUserRole = "POST" "/groups/{groupId}/users/{userId}:addRole" => Group(ACCESS);
    RemoveGroupUserRole = "POST" "/groups/{groupId}/users/{userId}:removeRole" => Group(ACCESS);
    DeleteOrg = "DELETE" "/orgs/{orgId}" => Org(OrgNeed::Owner);
    GetOrg = "GET" "/orgs/{orgId}" => Org(OrgNeed::Member);
    UpdateOrg = "PATCH" "/orgs/{orgId}" => Org(OrgNeed::Owner);
    ListOrgEvents = "GET" "/orgs/{orgId}/events" => Org(OrgNeed::Member);
    GetOrgEvent = "GET" "/orgs/{orgId}/events/{eventId}" => Org(OrgNeed::Member);
    ListOrgGroups = "GET" "/orgs/{orgId}/groups" => Org(OrgNeed::Member);
    ListOrgInvites = "GET" "/orgs/{orgId}/invites" => Org(OrgNeed::Owner);
    UpdateOrgInvites = "PATCH" "/orgs/{orgId}/invites" => Org(OrgNeed::Owner);
    CreateOrgInvite = "POST" "/orgs/{orgId}/invites" => Org(OrgNeed::Owner);
    DeleteOrgInvite = "DELETE" "/orgs/{orgId}/invites/{invitationId}" => Org(OrgNeed::Owner);
    GetOrgInvite = "GET" "/orgs/{orgId}/invites/{invitationId}" => Org(OrgNeed::Owner);
    UpdateOrgInvite = "PATCH" "/orgs/{orgId}/invites/{invitationId}" => Org(OrgNeed::Owner);
    ListOrgServiceAccounts = "GET" "/orgs/{orgId}/serviceAccounts" => Org(OrgNeed::ReadOnly);
    CreateOrgServiceAccount = "POST" "/orgs/{orgId}/serviceAccounts" => Org(OrgNeed::Owner);
    DeleteOrgServiceAccount = "DELETE" "/orgs/{orgId}/serviceAccounts/{clientId}" => Org(OrgNeed::Owner);
    GetOrgServiceAccount = "GET" "/orgs/{orgId}/serviceAccounts/{clientId}" => Org(OrgNeed::ReadOnly);
    UpdateOrgServiceAccount = "PATCH" "/orgs/{orgId}/serviceAccounts/{clientId}" => Org(OrgNeed::Owner);
    ListOrgSaAccessList = "GET" "/orgs/{orgId}/serviceAccounts/{clientId}/accessList" => Org(OrgNeed::ReadOnly);
    CreateOrgSaAccessList = "POST" "/orgs/{orgId}/serviceAccounts/{clientId}/accessList" => Org(OrgNeed::Owner);
    DeleteOrgSaAccessEntry = "DELETE" "/orgs/{orgId}/serviceAccounts/{clientId}/accessList/{ipAddress}" => Org(OrgNeed::Owner);
    ListOrgSaGroups = "GET" "/orgs/{orgId}/serviceAccounts/{clientId}/groups" => Org(OrgNeed::ReadOnly);
    CreateOrgSaSecret = "POST" "/orgs/{orgId}/serviceAccounts/{clientId}/secrets" => Org(OrgNeed::Owner);
    DeleteOrgSaSecret = "DELETE" "/orgs/{orgId}/serviceAccounts/{clientId}/secrets/{secretId}" => Org(OrgNeed::Owner);
    GetOrgSettings = "GET" "/orgs/{orgId}/settings" => Org(OrgNeed::Member);
    UpdateOrgSettings = "PATCH" "/orgs/{orgId}/settings" => Org(OrgNeed::Owner);
    ListOrgTeams = "GET" "/orgs/{orgId}/teams" => Org(OrgNeed::Member);
    CreateOrgTeam = "POST" "/orgs/{orgId}/teams" => Org(OrgNeed::Owner);
    DeleteOrgTeam = "DELETE" "/orgs/{orgId}/teams/{teamId}" => Org(OrgNeed::Owner);
    GetOrgTeam = "GET" "/orgs/{orgId}/teams/{teamId}" => Org(OrgNeed::Member);
    UpdateOrgTeam = "PATCH" "/orgs/{orgId}/teams/{teamId}" => Org(OrgNeed::Owner);
    ListTeamUsers = "GET" "/orgs/{orgId}/teams/{teamId}/users" => Org(OrgNeed::Member);
    AddTeamUsers = "POST" "/orgs/{orgId}/teams/{teamId}/users" => Org(OrgNeed::Owner);
    RemoveTeamUser = "DELETE" "/orgs/{orgId}/teams/{teamId}/users/{userId}" => Org(OrgNeed::Owner);
    TeamAddUser = "POST" "/orgs/{orgId}/teams/{teamId}:addUser" => Org(OrgNeed::Owner);
    TeamRemoveUser = "POST" "/orgs/{orgId}/teams/{teamId}:removeUser" => Org(OrgNeed::Owner);
    ListOrgUsers = "GET" "/orgs/{orgId}/users" => Org(OrgNeed::Member);
    AddOrgUser = "POST" "/orgs/{orgId}/users" => Org(OrgNeed::Owner);
    RemoveOrgUser = "DELETE" "/orgs/{orgId}/users/{userId}" => Org(OrgNeed::Owner);
    GetOrgUser = "GET" "/orgs/{orgId}/users/{userId}" => Org(OrgNeed::Member);
    UpdateOrgUser = "PATCH" "/orgs/{orgId}/users/{userId}" => Org(OrgNeed::Owner);
    SetOrgUserRoles = "PUT" "/orgs/{orgId}/users/{userId}/roles" => Org(OrgNeed::Owner);
    AddOrgUserRole = "POST" "/orgs/{orgId}/users/{userId}:addRole" => Org(OrgNeed::Owner);
    RemoveOrgUserRole = "POST" "/orgs/{orgId}/users/{userId}:removeRole" => Org(OrgNeed::Owner);
}

/// An authenticated caller: its organization and its roles there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    pub org_id: String,
    pub org_roles: BTreeSet<OrgRole>,
    /// Project roles by project id.
    pub group_roles: BTreeMap<String, BTreeSet<GroupRole>>,
}

/// What an operation addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource<'a> {
    /// No particular organization or project (`GET /groups`).
    Global,
    /// An organization (for `POST /groups`, the one the new project joins).
    Org(&'a str),
    /// A project and the organization that owns it.
    Group { org_id: &'a str, group_id: &'a str },
}

/// Why the operation was allowed (for logs and events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit {
    pub operation: Operation,
}

/// Why the operation was refused. Every variant answers 403 (nothing is changed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("the caller belongs to another organization")]
    OtherOrg,
    #[error("the caller holds no role in this project")]
    NotInGroup,
    #[error("the operation needs {needed}")]
    RoleTooLow { needed: &'static str },
    #[error("the operation does not apply to this resource")]
    WrongResource,
}

impl Principal {
    /// The project roles that apply on `group_id`, with the organization roles' grants.
    pub fn effective_group_roles(&self, group_id: &str) -> BTreeSet<GroupRole> {
        let mut roles = self.group_roles.get(group_id).cloned().unwrap_or_default();
        if self.org_roles.contains(&OrgRole::Owner) {
            roles.insert(GroupRole::Owner);
        }
        if self.org_roles.contains(&OrgRole::ReadOnly) {
            roles.insert(GroupRole::ReadOnly);
        }
        roles
    }

    /// Whether a project of the caller's organization is visible in lists.
    pub fn sees_group(&self, org_id: &str, group_id: &str) -> bool {
        org_id == self.org_id && !self.effective_group_roles(group_id).is_empty()
    }

    fn org_satisfies(&self, need: OrgNeed) -> bool {
        let has = |r| self.org_roles.contains(&r);
        match need {
            OrgNeed::Member => !self.org_roles.is_empty(),
            OrgNeed::ReadOnly => has(OrgRole::ReadOnly) || has(OrgRole::Owner),
            OrgNeed::GroupCreator => has(OrgRole::GroupCreator) || has(OrgRole::Owner),
            OrgNeed::Owner => has(OrgRole::Owner),
        }
    }
}

fn org_need_name(need: OrgNeed) -> &'static str {
    match need {
        OrgNeed::Member => "an organization role",
        OrgNeed::ReadOnly => "ORG_READ_ONLY or ORG_OWNER",
        OrgNeed::GroupCreator => "ORG_GROUP_CREATOR or ORG_OWNER",
        OrgNeed::Owner => "ORG_OWNER",
    }
}

fn group_need_met(roles: &BTreeSet<GroupRole>, need: GroupNeed) -> bool {
    if roles.contains(&GroupRole::Owner) {
        return true;
    }
    match need {
        GroupNeed::ReadOnly => !roles.is_empty(),
        GroupNeed::Owner => false,
        GroupNeed::AnyOf(list) => list.iter().any(|r| roles.contains(r)),
    }
}

fn group_need_name(need: GroupNeed) -> &'static str {
    match need {
        GroupNeed::ReadOnly => "a project role",
        GroupNeed::Owner => "GROUP_OWNER",
        GroupNeed::AnyOf([GroupRole::ClusterCreator]) => "GROUP_CLUSTER_CREATOR or GROUP_OWNER",
        GroupNeed::AnyOf([GroupRole::ClusterManager]) => "GROUP_CLUSTER_MANAGER or GROUP_OWNER",
        GroupNeed::AnyOf([GroupRole::DatabaseAccessAdmin]) => {
            "GROUP_DATABASE_ACCESS_ADMIN or GROUP_OWNER"
        }
        GroupNeed::AnyOf([GroupRole::NetworkAccessManager]) => {
            "GROUP_NETWORK_ACCESS_MANAGER or GROUP_OWNER"
        }
        GroupNeed::AnyOf([GroupRole::AccessManager]) => "GROUP_ACCESS_MANAGER or GROUP_OWNER",
        GroupNeed::AnyOf([GroupRole::SupportAccessManager]) => {
            "GROUP_SUPPORT_ACCESS_MANAGER or GROUP_OWNER"
        }
        GroupNeed::AnyOf(_) => "a higher project role",
    }
}

/// Decides whether `principal` may run `operation` on `resource`.
pub fn authorize(
    principal: &Principal,
    operation: Operation,
    resource: Resource<'_>,
) -> Result<Permit, Denial> {
    let permit = Permit { operation };
    match (operation.requirement(), resource) {
        (Requirement::Authenticated, _) => Ok(permit),
        (Requirement::Org(need), Resource::Org(org_id)) => {
            if org_id != principal.org_id {
                Err(Denial::OtherOrg)
            } else if principal.org_satisfies(need) {
                Ok(permit)
            } else {
                Err(Denial::RoleTooLow {
                    needed: org_need_name(need),
                })
            }
        }
        (Requirement::Group(need), Resource::Group { org_id, group_id }) => {
            if org_id != principal.org_id {
                return Err(Denial::OtherOrg);
            }
            let roles = principal.effective_group_roles(group_id);
            if roles.is_empty() {
                Err(Denial::NotInGroup)
            } else if group_need_met(&roles, need) {
                Ok(permit)
            } else {
                Err(Denial::RoleTooLow {
                    needed: group_need_name(need),
                })
            }
        }
        (Requirement::OrgOwnerOfGroup, Resource::Group { org_id, .. }) => {
            if org_id != principal.org_id {
                Err(Denial::OtherOrg)
            } else if principal.org_roles.contains(&OrgRole::Owner) {
                Ok(permit)
            } else {
                Err(Denial::RoleTooLow {
                    needed: "ORG_OWNER",
                })
            }
        }
        _ => Err(Denial::WrongResource),
    }
}
