use super::*;

#[test]
fn parses_replica_set_uri() {
    let u = UpstreamUri::parse(
        "mongodb://proxy_svc@10.0.0.5:27017,10.0.0.6/?replicaSet=rs0&authSource=admin&tls=true",
    )
    .unwrap();
    assert_eq!(
        u.hosts,
        vec![("10.0.0.5".into(), 27017), ("10.0.0.6".into(), 27017)]
    );
    assert_eq!(u.user.as_deref(), Some("proxy_svc"));
    assert_eq!(u.replica_set.as_deref(), Some("rs0"));
    assert!(u.tls);
}

#[test]
fn rejects_inline_password_and_unknown_options() {
    assert_eq!(
        UpstreamUri::parse("mongodb://a:b@h:1"),
        Err(UriError::InlinePassword)
    );
    assert!(matches!(
        UpstreamUri::parse("mongodb://h:1/?tlsInsecure=true"),
        Err(UriError::UnknownOption(_))
    ));
    assert_eq!(UpstreamUri::parse("mongodb+srv://h"), Err(UriError::Scheme));
    assert!(UpstreamUri::parse("mongodb://h:notaport").is_err());
    assert_eq!(
        UpstreamUri::parse("mongodb://[::1]:27019").unwrap().hosts[0].1,
        27019
    );
}
