//! Decoder throughput: a small `find` OP_MSG (the common case on the authorization path) and an
//! `insert` carrying a 1,000-document kind-1 sequence (framing-only checks must keep this cheap).

use bson::{doc, RawDocument, RawDocumentBuf};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mongoward::wire::{
    decode_request, encode_op_msg, encode_op_msg_with_sequences, Limits, Request,
};

fn raw(d: bson::Document) -> RawDocumentBuf {
    RawDocumentBuf::from_document(&d).unwrap_or_default()
}

fn find_frame() -> bytes::Bytes {
    let body = raw(doc! {
        "find": "orders",
        "filter": { "status": "open", "total": { "$gt": 100 } },
        "projection": { "_id": 1, "total": 1 },
        "limit": 50,
        "lsid": { "id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![7; 16] } },
        "$db": "shop",
    });
    encode_op_msg(1, 0, 0, &body)
}

fn insert_frame(n: i32) -> bytes::Bytes {
    let body = raw(doc! { "insert": "orders", "ordered": true, "$db": "shop" });
    let docs: Vec<RawDocumentBuf> = (0..n)
        .map(|i| raw(doc! { "_id": i, "status": "open", "total": f64::from(i) * 1.5, "items": [1, 2, 3] }))
        .collect();
    let refs: Vec<&RawDocument> = docs.iter().map(|d| d.as_ref()).collect();
    encode_op_msg_with_sequences(2, 0, 0, &body, &[("documents", refs.as_slice())])
}

fn bench_decode(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("decode_request");

    let find = find_frame();
    group.throughput(Throughput::Bytes(find.len() as u64));
    group.bench_function("find_op_msg", |b| {
        b.iter(|| match decode_request(black_box(find.clone()), &limits) {
            Ok(Request::Msg(m)) => black_box(m.command_name().len()),
            _ => 0,
        })
    });

    let insert = insert_frame(1_000);
    group.throughput(Throughput::Bytes(insert.len() as u64));
    group.bench_function("insert_1000_docs", |b| {
        b.iter(
            || match decode_request(black_box(insert.clone()), &limits) {
                Ok(Request::Msg(m)) => black_box(m.sequences().map(|s| s.len()).sum::<usize>()),
                _ => 0,
            },
        )
    });
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
