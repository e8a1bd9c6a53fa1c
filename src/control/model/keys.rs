//! The key layout of the store. Every key a record lives under is built here, and
//! [`parse_key`] reads one back (the follower uses it to see which project changed).

/// `orgs/{orgId}`
pub fn org_key(org_id: &str) -> String {
    format!("orgs/{org_id}")
}

/// `groups/{groupId}`
pub fn project_key(group_id: &str) -> String {
    format!("groups/{group_id}")
}

/// Prefix of everything a project owns (its record excluded).
pub fn project_prefix(group_id: &str) -> String {
    format!("groups/{group_id}/")
}

pub fn clusters_prefix(group_id: &str) -> String {
    format!("groups/{group_id}/clusters/")
}

pub fn cluster_key(group_id: &str, name: &str) -> String {
    format!("groups/{group_id}/clusters/{name}")
}

pub fn db_users_prefix(group_id: &str) -> String {
    format!("groups/{group_id}/databaseUsers/")
}

/// Database names never hold '/', so the user name is everything after the database.
pub fn db_user_key(group_id: &str, database: &str, username: &str) -> String {
    format!("groups/{group_id}/databaseUsers/{database}/{username}")
}

pub fn custom_roles_prefix(group_id: &str) -> String {
    format!("groups/{group_id}/customDBRoles/")
}

pub fn custom_role_key(group_id: &str, role: &str) -> String {
    format!("groups/{group_id}/customDBRoles/{role}")
}

pub fn access_list_prefix(group_id: &str) -> String {
    format!("groups/{group_id}/accessList/")
}

/// `entry` is an address or a CIDR block; its '/' becomes '_' so a key stays one segment.
pub fn access_entry_key(group_id: &str, entry: &str) -> String {
    format!("groups/{group_id}/accessList/{}", entry.replace('/', "_"))
}

/// `events/{orgId}/{created}-{eventId}`: `created` in RFC 3339 with milliseconds, so keys
/// sort by time.
pub fn event_key(org_id: &str, created_rfc3339_millis: &str, event_id: &str) -> String {
    format!("events/{org_id}/{created_rfc3339_millis}-{event_id}")
}

/// A 24-hex id (Atlas's ObjectId-shaped ids) from 12 bytes the caller chose.
pub fn id_from_bytes(bytes: [u8; 12]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random id.
pub fn new_id() -> String {
    id_from_bytes(rand::random())
}

/// Whether `s` looks like an Atlas id (24 lowercase hex).
pub fn is_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    Org(&'a str),
    Project(&'a str),
    Cluster {
        group: &'a str,
        name: &'a str,
    },
    DatabaseUser {
        group: &'a str,
        db: &'a str,
        username: &'a str,
    },
    CustomRole {
        group: &'a str,
        role: &'a str,
    },
    AccessEntry {
        group: &'a str,
        entry: &'a str,
    },
    /// Anything else under a project (cp-api's records, later features).
    OtherInProject(&'a str),
    Other,
}

impl<'a> KeyRef<'a> {
    /// The project a key belongs to, if any.
    pub fn project(&self) -> Option<&'a str> {
        match *self {
            KeyRef::Project(g) | KeyRef::OtherInProject(g) => Some(g),
            KeyRef::Cluster { group, .. }
            | KeyRef::DatabaseUser { group, .. }
            | KeyRef::CustomRole { group, .. }
            | KeyRef::AccessEntry { group, .. } => Some(group),
            KeyRef::Org(_) | KeyRef::Other => None,
        }
    }
}

pub fn parse_key(key: &str) -> KeyRef<'_> {
    if let Some(org) = key.strip_prefix("orgs/") {
        return if org.contains('/') {
            KeyRef::Other
        } else {
            KeyRef::Org(org)
        };
    }
    let Some(rest) = key.strip_prefix("groups/") else {
        return KeyRef::Other;
    };
    let Some((group, rest)) = rest.split_once('/') else {
        return KeyRef::Project(rest);
    };
    let Some((kind, name)) = rest.split_once('/') else {
        return KeyRef::OtherInProject(group);
    };
    match kind {
        "clusters" => KeyRef::Cluster { group, name },
        "customDBRoles" => KeyRef::CustomRole { group, role: name },
        "accessList" => KeyRef::AccessEntry { group, entry: name },
        "databaseUsers" => match name.split_once('/') {
            Some((db, username)) => KeyRef::DatabaseUser {
                group,
                db,
                username,
            },
            None => KeyRef::OtherInProject(group),
        },
        _ => KeyRef::OtherInProject(group),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "5f1a2b3c4d5e6f7a8b9c0d1e";

    #[test]
    fn keys_round_trip() {
        assert_eq!(parse_key(&org_key(G)), KeyRef::Org(G));
        assert_eq!(parse_key(&project_key(G)), KeyRef::Project(G));
        assert_eq!(
            parse_key(&cluster_key(G, "prod-app")),
            KeyRef::Cluster {
                group: G,
                name: "prod-app"
            }
        );
        assert_eq!(
            parse_key(&db_user_key(G, "admin", "a/b@c")),
            KeyRef::DatabaseUser {
                group: G,
                db: "admin",
                username: "a/b@c"
            }
        );
        assert_eq!(
            parse_key(&custom_role_key(G, "reader")),
            KeyRef::CustomRole {
                group: G,
                role: "reader"
            }
        );
        assert_eq!(
            parse_key(&access_entry_key(G, "10.0.0.0/8")),
            KeyRef::AccessEntry {
                group: G,
                entry: "10.0.0.0_8"
            }
        );
        assert_eq!(
            parse_key(&format!("groups/{G}/serviceAccounts/x")).project(),
            Some(G)
        );
        assert_eq!(
            parse_key(&event_key(G, "2026-01-01T00:00:00.000Z", G)),
            KeyRef::Other
        );
        assert_eq!(parse_key("tokens/abc"), KeyRef::Other);
    }

    #[test]
    fn ids_are_24_lowercase_hex() {
        let id = id_from_bytes([0xab; 12]);
        assert_eq!(id, "abababababababababababab");
        assert!(is_id(&id));
        assert!(is_id(&new_id()));
        assert!(!is_id("ABABABABABABABABABABABAB"));
        assert!(!is_id("abc"));
        assert_ne!(new_id(), new_id());
    }
}
