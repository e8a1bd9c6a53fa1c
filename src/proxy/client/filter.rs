//! Replies narrowed to what the user may see, as mongod does for `listDatabases`
//! (without the cluster-wide privilege) and `listCollections` with
//! `authorizedCollections`. The only replies the proxy re-encodes; both are small.

use bson::{RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use bytes::Bytes;
use tracing::warn;

use crate::authz::actions;
use crate::authz::model::{ActionSet, Resource};
use crate::authz::privileges::UserPrivileges;
use crate::error_code::ErrorCode;
use crate::proxy::client::conn::ReplyFilter;
use crate::proxy::client::replies::ErrorReply;
use crate::proxy::client::session::Session;
use crate::wire::{self, FLAG_MORE_TO_COME as MORE_TO_COME};

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

/// Why a reply could not be narrowed. The client then gets an error, never the reply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("the reply is not an OP_MSG the proxy can decode")]
    Undecodable,
    #[error("no authenticated user to filter the reply for")]
    NoUser,
    #[error("a successful reply without a cursor document")]
    NoCursor,
}

/// listCollections (authorizedCollections + nameOnly): keeps the collections the user
/// holds some privilege on, in the first batch and in every getMore's next batch. An
/// error reply (no cursor, ok not 1) lists nothing and passes as it is.
pub fn filter_collections(
    body: &RawDocument,
    db: &str,
    privs: &UserPrivileges,
) -> Result<RawDocumentBuf, FilterError> {
    let Ok(cursor) = body.get_document("cursor") else {
        if body.get("cursor").ok().flatten().is_none() && !is_ok(body) {
            return Ok(body.to_raw_document_buf());
        }
        return Err(FilterError::NoCursor);
    };
    let mut cur = RawDocumentBuf::new();
    for (key, value) in cursor.into_iter().flatten() {
        if key != "firstBatch" && key != "nextBatch" {
            cur.append(key, value.to_raw_bson());
            continue;
        }
        let mut kept = RawArrayBuf::new();
        if let RawBsonRef::Array(list) = value {
            for entry in list.into_iter().flatten() {
                let RawBsonRef::Document(e) = entry else {
                    continue;
                };
                // One `name` only: with two, the proxy and the driver could read
                // different ones.
                let names = e
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k == "name")
                    .count();
                let visible = names == 1
                    && e.get_str("name").is_ok_and(|coll| {
                        !privs
                            .actions_on(&Resource::Namespace { db, coll })
                            .is_empty()
                    });
                if visible {
                    kept.push(e.to_raw_document_buf());
                }
            }
        }
        cur.append(key, kept);
    }
    let mut out = RawDocumentBuf::new();
    for (key, value) in body.into_iter().flatten() {
        if key == "cursor" {
            out.append("cursor", cur.clone());
        } else {
            out.append(key, value.to_raw_bson());
        }
    }
    Ok(out)
}

fn is_ok(body: &RawDocument) -> bool {
    match body.get("ok") {
        Ok(Some(RawBsonRef::Double(f))) => f == 1.0,
        Ok(Some(RawBsonRef::Int32(i))) => i == 1,
        Ok(Some(RawBsonRef::Int64(i))) => i == 1,
        Ok(Some(RawBsonRef::Boolean(b))) => b,
        _ => false,
    }
}

/// The id of the cursor a listCollections reply opened (0 when exhausted or absent).
fn cursor_id(body: &RawDocument) -> i64 {
    body.get_document("cursor")
        .and_then(|c| c.get_i64("id"))
        .unwrap_or(0)
}

/// The filtered body of one reply (pure apart from the inputs).
pub fn filter_body(
    body: &RawDocument,
    filter: ReplyFilter,
    db: &str,
    privs: Option<&UserPrivileges>,
) -> Result<Option<RawDocumentBuf>, FilterError> {
    let privs = privs.ok_or(FilterError::NoUser)?;
    match filter {
        ReplyFilter::ListDatabases => Ok(Some(filter_databases(body, privs))),
        ReplyFilter::ListCollections => filter_collections(body, db, privs).map(Some),
        ReplyFilter::None => Ok(None),
    }
}

/// The error reply sent in place of a reply that could not be filtered, answering the
/// same request (`response_to` is read from the raw header).
fn unfilterable(frame: &[u8], e: &FilterError) -> Bytes {
    let word = |at: usize| {
        frame
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_le_bytes)
            .unwrap_or(0)
    };
    let err = ErrorReply::new(ErrorCode::InternalError, format!("reply withheld: {e}"));
    wire::encode_op_msg(word(4), word(8), 0, &err.to_doc())
}

impl Session {
    /// Rewrites a reply the user may only partly see (listDatabases / listCollections).
    /// Fails closed: a reply that cannot be decoded or filtered becomes an error reply.
    pub(crate) fn filter_reply(&mut self, frame: Bytes, filter: ReplyFilter, db: &str) -> Bytes {
        let limits = self.info.cluster.info().limits();
        let decoded = match wire::decode_reply(frame.clone(), &limits) {
            Ok(wire::Reply::Msg(m)) => Ok(m),
            _ => Err(FilterError::Undecodable),
        };
        let user = self.current_user();
        let filtered = decoded.and_then(|m| {
            let body = filter_body(
                m.body(),
                filter,
                db,
                user.as_deref().map(|u| &*u.privileges),
            )?;
            Ok((m, body))
        });
        match filtered {
            Ok((_, None)) => frame,
            Ok((m, Some(body))) => {
                if filter == ReplyFilter::ListCollections {
                    let id = cursor_id(&body);
                    if id != 0 {
                        // Every later batch of this cursor is filtered too (getMore).
                        self.services
                            .cursors
                            .mark_filtered(&self.conn.cluster_id, id);
                    }
                }
                let h = m.header();
                // Keep moreToCome so an exhaust stream stays one for the client.
                wire::encode_op_msg(h.request_id, h.response_to, m.flags() & MORE_TO_COME, &body)
            }
            Err(e) => {
                warn!(conn.id = self.info.id, error = %e, "reply could not be filtered; withheld");
                unfilterable(&frame, &e)
            }
        }
    }
}

/// Fuzzing entry (`fuzz/fuzz_targets/reply_filters.rs`): arbitrary bytes as an upstream
/// reply through the one-pass peek, the full decoder, the reply facts and both filters.
/// Must never panic, and a filtered listCollections batch only ever holds the one
/// collection the user may see.
pub fn fuzz_logic(data: &[u8]) {
    use crate::authz::model::{Privilege, ResourcePattern};
    use std::sync::LazyLock;
    static PRIVS: LazyLock<UserPrivileges> = LazyLock::new(|| {
        let p = Privilege {
            resource: ResourcePattern::Namespace {
                db: "shop".into(),
                coll: "visible".into(),
            },
            actions: ActionSet::of(&[actions::FIND]),
        };
        UserPrivileges::from_privileges(vec![p], Vec::new())
    });
    let _ = crate::proxy::upstream::inspect::peek(data);
    let frame = Bytes::copy_from_slice(data);
    let Ok(wire::Reply::Msg(m)) = wire::decode_reply(frame, &wire::Limits::default()) else {
        return;
    };
    let _ = crate::proxy::upstream::inspect::facts(m.body());
    let _ = filter_body(m.body(), ReplyFilter::ListDatabases, "shop", Some(&PRIVS));
    if let Ok(Some(out)) = filter_body(m.body(), ReplyFilter::ListCollections, "shop", Some(&PRIVS))
    {
        let cursor = out.get_document("cursor").ok();
        for key in ["firstBatch", "nextBatch"] {
            let Some(list) = cursor.and_then(|c| c.get_array(key).ok()) else {
                continue;
            };
            for entry in list.into_iter().flatten() {
                let name = entry.as_document().and_then(|d| d.get_str("name").ok());
                assert_eq!(name, Some("visible"), "a filtered batch leaked a name");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn no_user_or_no_cursor_is_an_error_never_the_reply() {
        let reply = rawdoc! {"cursor": {"id": 0_i64, "ns": "d.$cmd.listCollections", "firstBatch": [{"name": "secret"}]}, "ok": 1.0};
        let e = filter_body(&reply, ReplyFilter::ListCollections, "d", None);
        assert_eq!(e, Err(FilterError::NoUser));
        let e = filter_body(&reply, ReplyFilter::ListDatabases, "d", None);
        assert_eq!(e, Err(FilterError::NoUser));
        let privs = UserPrivileges::from_privileges(Vec::new(), Vec::new());
        let odd = rawdoc! {"ok": 1.0, "cursor": "not a document"};
        let e = filter_collections(&odd, "d", &privs);
        assert_eq!(e, Err(FilterError::NoCursor));
        // An error reply lists nothing and passes as it is.
        let err = rawdoc! {"ok": 0.0, "code": 13, "errmsg": "no"};
        assert_eq!(filter_collections(&err, "d", &privs), Ok(err.clone()));
        // The withheld answer replies to the same request.
        let frame = wire::encode_op_msg(77, 12, 0, &reply);
        let out = unfilterable(&frame, &FilterError::Undecodable);
        let Ok(wire::Reply::Msg(m)) = wire::decode_reply(out, &wire::Limits::default()) else {
            panic!("an OP_MSG");
        };
        assert_eq!(m.header().response_to, 12);
        assert_eq!(m.body().get_i32("code"), Ok(1));
    }

    #[test]
    fn a_batch_entry_with_two_names_is_dropped() {
        let p = crate::authz::model::Privilege {
            resource: crate::authz::model::ResourcePattern::Namespace {
                db: "d".into(),
                coll: "ok".into(),
            },
            actions: ActionSet::of(&[actions::FIND]),
        };
        let privs = UserPrivileges::from_privileges(vec![p], Vec::new());
        let mut twice = RawDocumentBuf::new();
        twice.append("name", "ok");
        twice.append("name", "secret");
        let mut batch = RawArrayBuf::new();
        batch.push(twice);
        batch.push(rawdoc! {"name": "ok"});
        let reply = rawdoc! {"cursor": {"id": 5_i64, "nextBatch": batch}, "ok": 1.0};
        let out = filter_collections(&reply, "d", &privs).expect("filtered");
        let kept = out
            .get_document("cursor")
            .and_then(|c| c.get_array("nextBatch"))
            .map(|b| b.into_iter().count());
        assert_eq!(kept, Ok(1));
    }
}
