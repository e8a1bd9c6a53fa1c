use super::*;

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
