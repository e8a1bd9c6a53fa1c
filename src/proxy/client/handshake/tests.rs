use super::*;
use bson::oid::ObjectId;

#[test]
fn hello_is_a_mongos_and_hides_topology() {
    let req = HelloRequest::parse(
        &rawdoc! {"hello": 1, "helloOk": true, "compression": ["zstd", "lz4", "zlib"]},
        "hello",
    );
    let neg = negotiate(&req.compression);
    assert_eq!(neg, vec![Compressor::Zstd, Compressor::Zlib]);
    let id = Identity {
        service_id: ObjectId::new(),
    };
    let doc = finish(hello_reply(&req, &UpstreamInfo::default(), &id, 7, &neg, 0));
    assert_eq!(doc.get_str("msg").unwrap(), "isdbgrid");
    assert!(doc.get_bool("isWritablePrimary").unwrap());
    assert!(doc.get("hosts").unwrap().is_none());
    assert!(doc.get("setName").unwrap().is_none());
    assert!(doc.get("serviceId").unwrap().is_none());
    assert_eq!(doc.get_i64("connectionId").unwrap(), 7);
}

#[test]
fn load_balanced_mode_has_service_id() {
    let req = HelloRequest::parse(&rawdoc! {"isMaster": 1, "loadBalanced": true}, "isMaster");
    let id = Identity {
        service_id: ObjectId::new(),
    };
    let doc = hello_reply(&req, &UpstreamInfo::default(), &id, 1, &[], 0);
    assert_eq!(doc.get_object_id("serviceId").unwrap(), id.service_id);
    assert!(doc.get_bool("ismaster").unwrap());
}

#[test]
fn min_wire_version_is_zero_whatever_the_upstream_requires() {
    let req = HelloRequest::parse(&rawdoc! {"isMaster": 1}, "isMaster");
    let id = Identity {
        service_id: ObjectId::new(),
    };
    let info = UpstreamInfo {
        min_wire_version: 17,
        max_wire_version: 21,
        ..UpstreamInfo::default()
    };
    let doc = hello_reply(&req, &info, &id, 1, &[], 0);
    assert_eq!(doc.get_i32("minWireVersion").unwrap(), 0);
    assert_eq!(doc.get_i32("maxWireVersion").unwrap(), 21);
}

#[test]
fn build_info_version_array_has_four_entries() {
    for (given, want) in [
        (vec![7, 0, 14, 0], [7, 0, 14, 0]),
        (vec![6, 0], [6, 0, 0, 0]),
        (vec![], [0, 0, 0, 0]),
        (vec![8, 0, 1, 0, 9], [8, 0, 1, 0]),
    ] {
        let info = UpstreamInfo {
            version_array: given.clone(),
            ..UpstreamInfo::default()
        };
        let doc = build_info(&info);
        let got: Vec<i32> = doc
            .get_array("versionArray")
            .unwrap()
            .into_iter()
            .map(|v| v.unwrap().as_i32().unwrap())
            .collect();
        assert_eq!(got, want, "{given:?}");
    }
}
