//! Replies narrowed to what the user may see, as mongod does for `listDatabases`
//! (without the cluster-wide privilege) and `listCollections` with
//! `authorizedCollections`. The only replies the proxy re-encodes; both are small.

use bson::{RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};

use super::replies::ErrorReply;
use super::route::{ReplyFilter, Route};
use super::session::Session;
use crate::authz::actions;
use crate::authz::model::{ActionSet, Requirement, Resource};
use crate::authz::privileges::UserPrivileges;

/// listDatabases: keeps the databases the user holds any privilege in; totals are
/// recomputed from what is kept so they do not reveal the rest.
pub fn filter_databases(body: &RawDocument, privs: &UserPrivileges) -> RawDocumentBuf {
    let mut kept = RawArrayBuf::new();
    let mut total: i64 = 0;
    if let Ok(list) = body.get_array("databases") {
        for d in list.into_iter().flatten() {
            let RawBsonRef::Document(d) = d else { continue };
            let Ok(name) = d.get_str("name") else {
                continue;
            };
            if privs.has_any_in_db(name) {
                total += number(d.get("sizeOnDisk").ok().flatten());
                kept.push(d.to_raw_document_buf());
            }
        }
    }
    let mut out = RawDocumentBuf::new();
    for (key, value) in body.into_iter().flatten() {
        match key {
            "databases" => out.append("databases", kept.clone()),
            "totalSize" => out.append("totalSize", total),
            "totalSizeMb" => out.append("totalSizeMb", total / (1024 * 1024)),
            _ => out.append(key, value.to_raw_bson()),
        }
    }
    out
}

fn number(v: Option<RawBsonRef<'_>>) -> i64 {
    match v {
        Some(RawBsonRef::Int32(i)) => i64::from(i),
        Some(RawBsonRef::Int64(i)) => i,
        Some(RawBsonRef::Double(f)) => f as i64,
        _ => 0,
    }
}

/// listCollections (authorizedCollections + nameOnly): keeps the collections the user
/// holds some privilege on.
pub fn filter_collections(body: &RawDocument, db: &str, privs: &UserPrivileges) -> RawDocumentBuf {
    let Ok(cursor) = body.get_document("cursor") else {
        return body.to_raw_document_buf();
    };
    let mut cur = RawDocumentBuf::new();
    for (key, value) in cursor.into_iter().flatten() {
        if key != "firstBatch" {
            cur.append(key, value.to_raw_bson());
            continue;
        }
        let mut kept = RawArrayBuf::new();
        if let RawBsonRef::Array(list) = value {
            for entry in list.into_iter().flatten() {
                let RawBsonRef::Document(e) = entry else {
                    continue;
                };
                let visible = e.get_str("name").is_ok_and(|coll| {
                    !privs
                        .actions_on(&Resource::Namespace { db, coll })
                        .is_empty()
                });
                if visible {
                    kept.push(e.to_raw_document_buf());
                }
            }
        }
        cur.append("firstBatch", kept);
    }
    let mut out = RawDocumentBuf::new();
    for (key, value) in body.into_iter().flatten() {
        if key == "cursor" {
            out.append("cursor", cur.clone());
        } else {
            out.append(key, value.to_raw_bson());
        }
    }
    out
}

impl Session {
    /// Whether a listDatabases reply must be filtered: always with
    /// `authorizedDatabases: true`; when unspecified, unless the user may list all.
    pub(super) fn list_databases_filter(
        &mut self,
        body: &RawDocument,
        filter: bool,
    ) -> ReplyFilter {
        if !filter {
            return ReplyFilter::None;
        }
        if body.get_bool("authorizedDatabases").unwrap_or(false) {
            return ReplyFilter::ListDatabases;
        }
        let all = Requirement {
            resource: Resource::Cluster,
            actions: ActionSet::of(&[actions::LIST_DATABASES]),
        };
        match self.current_user() {
            Some(u) if u.privileges.has(&all) => ReplyFilter::None,
            _ => ReplyFilter::ListDatabases,
        }
    }

    /// The authorizedCollections form needs some privilege in the database (mongod's
    /// rule); the reply is then filtered.
    pub(super) fn list_collections_filtered(&mut self, db: &str) -> Route {
        match self.current_user() {
            Some(u) if u.privileges.has_any_in_db(db) => {
                Route::Forward(ReplyFilter::ListCollections)
            }
            _ => Route::Refuse(ErrorReply::unauthorized(format!(
                "not authorized on {db} to execute command listCollections on {db}"
            ))),
        }
    }
}
