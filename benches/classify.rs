//! The authorization gate's cost per command: a find, an insert of 1,000 documents in a
//! kind-1 sequence (must not depend on the documents), and a 6-stage pipeline with
//! $lookup. Each is measured classify-only and as the live path runs it: `decide`
//! (classify + authorize) for a user holding 10 roles.

use bson::{rawdoc, RawDocument, RawDocumentBuf};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mongoward::authz::classify::{classify, NoSequences, Sequences};
use mongoward::authz::decide::{decide, Caller};
use mongoward::authz::privileges::{RoleCatalog, UserPrivileges};
use mongoward::authz::role_config::RoleRef;

/// A user with 10 roles: readWrite on the benched database plus nine others.
fn ten_roles() -> UserPrivileges {
    let mut refs = vec![RoleRef::Name("readWrite@shop".into())];
    refs.extend((1..10).map(|i| RoleRef::Name(format!("read@db{i}"))));
    RoleCatalog::build(&[])
        .and_then(|c| c.resolve(&refs))
        .expect("roles") // ok: bench setup
}

fn caller(p: &UserPrivileges) -> Option<Caller<'_>> {
    Some(Caller {
        user: "bench",
        db: "admin",
        privileges: p,
    })
}

/// Kind-1 sections held as slices, as the wire layer would borrow them.
struct Seqs<'a>(Vec<(&'a str, &'a [&'a RawDocument])>);

impl<'a> Sequences<'a> for Seqs<'a> {
    type Iter = std::iter::Copied<std::slice::Iter<'a, &'a RawDocument>>;
    fn documents(&self, identifier: &str) -> Option<Self::Iter> {
        self.0
            .iter()
            .find(|(k, _)| *k == identifier)
            .map(|(_, v)| v.iter().copied())
    }
}

fn bench_find(c: &mut Criterion) {
    let body = rawdoc! {
        "find": "orders", "filter": {"status": "open"}, "limit": 10,
        "lsid": {"id": 1}, "$clusterTime": {"t": 1}, "$db": "shop",
    };
    c.bench_function("classify find", |b| {
        b.iter(|| classify(black_box(&body), &NoSequences).map(|c| c.formula))
    });
    let user = ten_roles();
    assert!(
        decide(caller(&user), &body, &NoSequences).is_ok(),
        "benches the allow path"
    );
    c.bench_function("classify+authorize find (10 roles)", |b| {
        b.iter(|| decide(caller(&user), black_box(&body), &NoSequences).is_ok())
    });
}

fn bench_insert_1000(c: &mut Criterion) {
    let body = rawdoc! {"insert": "orders", "ordered": true, "lsid": {"id": 1}, "$db": "shop"};
    let docs: Vec<RawDocumentBuf> = (0..1000)
        .map(|i| rawdoc! {"_id": i, "item": "widget", "qty": i * 2, "tags": ["a", "b"]})
        .collect();
    let refs: Vec<&RawDocument> = docs.iter().map(|d| d.as_ref()).collect();
    let seqs = Seqs(vec![("documents", &refs)]);
    c.bench_function("classify insert 1000 docs (kind-1)", |b| {
        b.iter(|| classify(black_box(&body), &seqs).map(|c| c.formula))
    });
    let user = ten_roles();
    assert!(
        decide(caller(&user), &body, &seqs).is_ok(),
        "benches the allow path"
    );
    c.bench_function("classify+authorize insert 1000 docs (10 roles)", |b| {
        b.iter(|| decide(caller(&user), black_box(&body), &seqs).is_ok())
    });
}

fn bench_pipeline(c: &mut Criterion) {
    let body = rawdoc! {
        "aggregate": "orders",
        "pipeline": [
            {"$match": {"status": "open"}},
            {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}},
            {"$unwind": "$c"},
            {"$group": {"_id": "$c.region", "total": {"$sum": "$qty"}}},
            {"$sort": {"total": -1}},
            {"$limit": 10},
        ],
        "cursor": {},
        "$db": "shop",
    };
    c.bench_function("classify 6-stage pipeline with $lookup", |b| {
        b.iter(|| classify(black_box(&body), &NoSequences).map(|c| c.formula))
    });
    let user = ten_roles();
    assert!(
        decide(caller(&user), &body, &NoSequences).is_ok(),
        "benches the allow path"
    );
    c.bench_function("classify+authorize 6-stage pipeline (10 roles)", |b| {
        b.iter(|| decide(caller(&user), black_box(&body), &NoSequences).is_ok())
    });
}

criterion_group!(benches, bench_find, bench_insert_1000, bench_pipeline);
criterion_main!(benches);
