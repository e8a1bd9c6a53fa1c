//! Atlas spells mongod's privilege actions in upper snake case (`listCollections` ->
//! `LIST_COLLECTIONS`). The mongod names are the crate's table (`authz::actions::NAMES`,
//! translated from `shared/authz/actions.json`); the Atlas spelling is derived from them,
//! with the few names Atlas splits differently listed explicitly.

use crate::authz::actions::NAMES;

/// mongod names whose Atlas spelling is not the mechanical conversion.
const IRREGULAR: &[(&str, &str)] = &[("killop", "KILL_OP")];

/// The Atlas name of a mongod action (pure).
pub fn atlas_action(mongod: &str) -> String {
    if let Some((_, atlas)) = IRREGULAR.iter().find(|(m, _)| *m == mongod) {
        return (*atlas).to_string();
    }
    let chars: Vec<char> = mongod.chars().collect();
    let mut out = String::with_capacity(mongod.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            // A word starts at a capital after a lowercase letter or digit, or at the last
            // capital of an acronym that a lowercase word follows ("useUUID", "DBHash").
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The mongod action an Atlas action name stands for; `None` for names mongod does not
/// know (Atlas-only actions such as `OUT_TO_S3`), which a role compiler must refuse.
pub fn mongod_action(atlas: &str) -> Option<&'static str> {
    NAMES.iter().copied().find(|m| atlas_action(m) == atlas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn examples_from_the_atlas_api() {
        // Action names listed in the Atlas custom-role API (see shared/control-plane/README.md).
        for (atlas, mongod) in [
            ("FIND", "find"),
            ("INSERT", "insert"),
            ("REMOVE", "remove"),
            ("UPDATE", "update"),
            ("BYPASS_DOCUMENT_VALIDATION", "bypassDocumentValidation"),
            ("CREATE_COLLECTION", "createCollection"),
            ("CREATE_INDEX", "createIndex"),
            ("DROP_COLLECTION", "dropCollection"),
            ("CHANGE_STREAM", "changeStream"),
            ("LIST_COLLECTIONS", "listCollections"),
            ("LIST_INDEXES", "listIndexes"),
            ("LIST_DATABASES", "listDatabases"),
            ("KILL_OP", "killop"),
            ("KILL_CURSORS", "killCursors"),
            ("COLL_STATS", "collStats"),
            ("DB_STATS", "dbStats"),
            ("SERVER_STATUS", "serverStatus"),
            ("ENABLE_SHARDING", "enableSharding"),
            ("USE_UUID", "useUUID"),
            ("RENAME_COLLECTION_SAME_DB", "renameCollectionSameDB"),
            ("DB_HASH", "dbHash"),
            ("INPROG", "inprog"),
            ("GET_CMD_LINE_OPTS", "getCmdLineOpts"),
            ("REPL_SET_GET_STATUS", "replSetGetStatus"),
            ("BYPASS_DEFAULT_MAX_TIME_MS", "bypassDefaultMaxTimeMS"),
        ] {
            assert_eq!(atlas_action(mongod), atlas, "{mongod}");
            assert_eq!(mongod_action(atlas), Some(mongod), "{atlas}");
        }
    }

    #[test]
    fn every_action_round_trips_and_names_are_unique() {
        // All 173 actions of shared/authz/actions.json (authz::actions::NAMES).
        let mut seen = HashSet::new();
        for m in NAMES {
            let a = atlas_action(m);
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{a}"
            );
            assert!(seen.insert(a.clone()), "two actions spell {a}");
            assert_eq!(mongod_action(&a), Some(m));
        }
    }

    #[test]
    fn unknown_names_map_to_nothing() {
        for bad in ["OUT_TO_S3", "find", "FIND ", "", "ANY_ACTION_X"] {
            assert_eq!(mongod_action(bad), None, "{bad}");
        }
    }
}
