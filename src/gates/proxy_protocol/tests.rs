//! PROXY protocol tests: spec examples, truncations, garbage, round trips.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;

fn sock(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
}

fn proxied(src: &str, dst: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        source: sock(src),
        destination: sock(dst),
    }
}

/// Every strict prefix must ask for more bytes, and `bytes_wanted` must never point
/// past the end of the header.
fn assert_truncations_wait(header: &[u8]) {
    for cut in 0..header.len() {
        let prefix = header.get(..cut).unwrap_or_default();
        assert_eq!(parse(prefix), Ok(None), "prefix of {cut} bytes");
        let wanted = bytes_wanted(prefix);
        assert!(wanted >= 1, "prefix of {cut} bytes wants nothing");
        assert!(cut + wanted <= header.len(), "prefix {cut} wants {wanted}");
    }
}

#[test]
fn v1_tcp4_tcp6_and_unknown() {
    let with_tls = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 27017\r\n\x16\x03\x01";
    let expected = proxied("192.0.2.1:56324", "198.51.100.2:27017");
    assert_eq!(parse(with_tls), Ok(Some((with_tls.len() - 3, expected))));
    let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
    let expected = proxied("[2001:db8::1]:65535", "[2001:db8::2]:0");
    assert_eq!(parse(v6), Ok(Some((v6.len(), expected))));
    assert_eq!(
        parse(b"PROXY UNKNOWN\r\n"),
        Ok(Some((15, ProxyHeader::Local)))
    );
    let unknown = b"PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 65535 65535\r\nrest";
    assert_eq!(
        parse(unknown),
        Ok(Some((unknown.len() - 4, ProxyHeader::Local)))
    );
    assert_eq!(bytes_wanted(with_tls), 0);
}

#[test]
fn v1_worst_case_length_is_accepted_and_longer_refused() {
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    // The spec's worst case is UNKNOWN followed by two full IPv6 addresses.
    let longest = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
    assert_eq!(longest.len(), V1_MAX_LEN);
    assert_eq!(
        parse(longest.as_bytes()),
        Ok(Some((107, ProxyHeader::Local)))
    );
    assert_truncations_wait(longest.as_bytes());
    let tcp6 = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
    let expected = proxied(&format!("[{full}]:65535"), &format!("[{full}]:65535"));
    assert_eq!(parse(tcp6.as_bytes()), Ok(Some((104, expected))));
    let endless = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 200]].concat();
    assert_eq!(
        endless.get(..106).map(parse),
        Some(Ok(None)),
        "still possible at 106 bytes"
    );
    assert_eq!(parse(&endless), Err(ProxyProtocolError::V1TooLong));
}

#[test]
fn v1_malformed_lines_are_errors() {
    let bad: [&[u8]; 13] = [
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
        b"PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",
        b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
        b"PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
        b"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
        b"PROXY TCP4 192.0.2.1\r198.51.100.2 1 2\r\n",
        b"PROXY \x00",
    ];
    for line in bad {
        assert!(
            matches!(parse(line), Err(ProxyProtocolError::V1Malformed(_))),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn v2_spec_layout_ipv4() {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    header.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x69, 0x89]);
    let expected = proxied("192.0.2.1:56324", "198.51.100.2:27017");
    assert_eq!(parse(&header), Ok(Some((28, expected))));
    assert_eq!(
        encode_v2(sock("192.0.2.1:56324"), sock("198.51.100.2:27017")),
        header
    );
    assert_truncations_wait(&header);
}

#[test]
fn v2_tlvs_are_skipped_and_local_ignores_addresses() {
    let mut header = encode_v2(sock("[2001:db8::1]:1"), sock("[2001:db8::2]:2"));
    // Append a TLV (type 0x05 UNIQUE_ID, 3 bytes) and fix the length field.
    header.extend_from_slice(&[0x05, 0x00, 0x03, b'a', b'b', b'c']);
    let len = (header.len() - 16) as u16;
    header.splice(14..16, len.to_be_bytes());
    header.extend_from_slice(b"\x16\x03\x01 TLS");
    let expected = proxied("[2001:db8::1]:1", "[2001:db8::2]:2");
    assert_eq!(parse(&header), Ok(Some((16 + 36 + 6, expected))));

    let local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    assert_eq!(parse(local), Ok(Some((16, ProxyHeader::Local))));
    // LOCAL with junk in the family/address block is still LOCAL (spec 2.2).
    let local_junk = b"\r\n\r\n\0\r\nQUIT\n\x20\x31\x00\x02xx";
    assert_eq!(parse(local_junk), Ok(Some((18, ProxyHeader::Local))));
    let unspec = b"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x00";
    assert_eq!(parse(unspec), Ok(Some((16, ProxyHeader::Local))));
}

#[test]
fn v2_bad_headers_are_errors() {
    let sig = b"\r\n\r\n\0\r\nQUIT\n";
    let with = |rest: &[u8]| [sig.as_slice(), rest].concat();
    assert_eq!(
        parse(&with(b"\x11")),
        Err(ProxyProtocolError::V2BadVersion(1))
    );
    assert_eq!(
        parse(&with(b"\x22")),
        Err(ProxyProtocolError::V2BadCommand(2))
    );
    for fam in [0x12u8, 0x22, 0x31, 0x32, 0x41, 0x13] {
        assert_eq!(
            parse(&with(&[0x21, fam])),
            Err(ProxyProtocolError::V2UnsupportedFamily(fam))
        );
    }
    assert_eq!(
        parse(&with(b"\x21\x11\x00\x04abcd")),
        Err(ProxyProtocolError::V2TooShort {
            family: 0x11,
            len: 4
        })
    );
    assert!(matches!(
        parse(&with(b"\x21\x11\x08\x01")),
        Err(ProxyProtocolError::V2TooLong { len: 2065, .. })
    ));
    assert_eq!(parse(&with(b"\x21\x11\x08\x00")), Ok(None));
}

#[test]
fn garbage_and_tls_client_hello_are_not_headers() {
    for input in [
        &b"\x16\x03\x01\x02\x00"[..],
        b"GET / HTTP/1.1\r\n",
        b"PROXZ",
        b"\r\n\r\n\0\r\nQUIX",
    ] {
        assert_eq!(
            parse(input),
            Err(ProxyProtocolError::NotProxyHeader),
            "{input:?}"
        );
        assert_eq!(bytes_wanted(input), 0);
    }
    assert_eq!(parse(b""), Ok(None));
    assert_eq!(bytes_wanted(b""), 15);
}

#[test]
fn mixed_families_are_encoded_as_mapped_ipv6() {
    let src = sock("192.0.2.1:5");
    let dst = sock("[2001:db8::2]:6");
    let mapped = SocketAddr::new(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()), 5);
    let expected = ProxyHeader::Proxied {
        source: mapped,
        destination: dst,
    };
    for encoded in [encode_v1(src, dst), encode_v2(src, dst)] {
        assert_eq!(
            parse(&encoded).map(|h| h.map(|(_, h)| h)),
            Ok(Some(expected))
        );
    }
}

#[test]
fn trusted_balancers_match_by_network_and_mapped_form() {
    let trusted: Vec<ipnet::IpNet> = ["10.0.0.0/8", "2001:db8::/32"]
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect();
    assert_eq!(trusted.len(), 2);
    assert!(is_trusted(
        "10.1.2.3"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        &trusted
    ));
    assert!(is_trusted(
        IpAddr::V6(Ipv4Addr::new(10, 9, 9, 9).to_ipv6_mapped()),
        &trusted
    ));
    assert!(is_trusted(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        &trusted
    ));
    assert!(!is_trusted(
        IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1)),
        &trusted
    ));
    assert!(!is_trusted(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), &[]));
}

fn socket_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    let v4 = (any::<u32>(), any::<u16>())
        .prop_map(|(a, p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p));
    let v6 = (any::<u128>(), any::<u16>())
        .prop_map(|(a, p)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), p));
    prop_oneof![(v4.clone(), v4), (v6.clone(), v6)]
}

proptest! {
    #[test]
    fn round_trip_and_truncations(
        (src, dst) in socket_pair(),
        v2 in any::<bool>(),
        trailer in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let header = if v2 { encode_v2(src, dst) } else { encode_v1(src, dst) };
        assert_truncations_wait(&header);
        let stream = [header.as_slice(), &trailer].concat();
        let expected = ProxyHeader::Proxied { source: src, destination: dst };
        prop_assert_eq!(parse(&stream), Ok(Some((header.len(), expected))));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_consume_within_bounds(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in prop_oneof![Just(b"".to_vec()), Just(b"PROXY ".to_vec()), Just(b"\r\n\r\n\0\r\nQUIT\n".to_vec())],
    ) {
        let input = [prefix.as_slice(), &bytes].concat();
        match parse(&input) {
            Ok(Some((consumed, _))) => prop_assert!(consumed <= input.len() && consumed <= V2_MAX_LEN),
            Ok(None) => {
                prop_assert!(input.len() < V2_MAX_LEN);
                prop_assert!(bytes_wanted(&input) >= 1);
            }
            Err(_) => prop_assert_eq!(bytes_wanted(&input), 0),
        }
    }
}
