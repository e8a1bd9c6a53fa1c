//! HAProxy PROXY protocol v1 (text) and v2 (binary) header parser.
//!
//! A load balancer in front of the proxy prepends this header so that the access
//! list sees the real client address. The parser is incremental and exact: it
//! reports how many bytes the header occupies so the caller can hand everything after
//! it to TLS, and [`bytes_wanted`] says how many more bytes may be read without
//! risking reading past the header.
//!
//! Headers are only to be honoured from trusted peers ([`is_trusted`]); anybody else
//! could forge their source address.

#[cfg(test)]
mod tests;
mod v1;
mod v2;

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

pub use v1::encode as encode_v1;
pub use v2::encode as encode_v2;

/// Longest v1 header, CRLF included (spec section 2.1).
pub const V1_MAX_LEN: usize = v1::MAX_LEN;
/// Longest v2 header accepted: 16 fixed bytes + addresses + TLVs. The wire length field
/// allows 64 KiB; we refuse more than this to bound memory per pending connection.
pub const V2_MAX_LEN: usize = v2::HEADER_LEN + v2::MAX_PAYLOAD;

/// What the header says about the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// v2 LOCAL (health check by the balancer itself), v2 AF_UNSPEC or v1 UNKNOWN:
    /// the spec says to use the TCP peer's own address.
    Local,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProxyProtocolError {
    #[error("the connection does not start with a PROXY protocol header")]
    NotProxyHeader,
    #[error("PROXY v1 header has no CRLF within {V1_MAX_LEN} bytes")]
    V1TooLong,
    #[error("malformed PROXY v1 header: {0}")]
    V1Malformed(&'static str),
    #[error("PROXY v2 header has version {0:#x}, expected 2")]
    V2BadVersion(u8),
    #[error("PROXY v2 header has unknown command {0:#x}")]
    V2BadCommand(u8),
    #[error(
        "PROXY v2 address family/transport {0:#04x} is not supported (only TCP over IPv4/IPv6)"
    )]
    V2UnsupportedFamily(u8),
    #[error("PROXY v2 address block of {len} bytes is too short for family {family:#04x}")]
    V2TooShort { family: u8, len: usize },
    #[error("PROXY v2 header of {len} bytes exceeds the {max}-byte limit")]
    V2TooLong { len: usize, max: usize },
}

/// Parses a header at the start of `buf`.
///
/// `Ok(None)`: `buf` is a valid beginning, more bytes are needed. `Ok(Some((n, h)))`:
/// the header is the first `n` bytes. `Err`: not a header, malformed or oversize;
/// the connection should be closed.
pub fn parse(buf: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyProtocolError> {
    match Kind::detect(buf)? {
        Kind::Undecided => Ok(None),
        Kind::V1 => v1::parse(buf),
        Kind::V2 => v2::parse(buf),
    }
}

/// How many more bytes the caller can read with certainty that they all belong to
/// the header (0 once [`parse`] returns `Some` or `Err`). Reading exactly this many
/// each time never swallows the TLS ClientHello that follows the header.
pub fn bytes_wanted(buf: &[u8]) -> usize {
    match parse(buf) {
        Ok(None) => {}
        Ok(Some(_)) | Err(_) => return 0,
    }
    match Kind::detect(buf) {
        // The shortest header of either version is v1 "PROXY UNKNOWN\r\n".
        Ok(Kind::Undecided) => v1::MIN_LEN.saturating_sub(buf.len()).max(1),
        Ok(Kind::V1) => v1::bytes_wanted(buf),
        Ok(Kind::V2) => v2::bytes_wanted(buf),
        Err(_) => 0,
    }
}

/// Whether `peer` is one of the configured load balancers allowed to send headers.
/// IPv4-mapped IPv6 peers are compared as IPv4 too.
pub fn is_trusted(peer: IpAddr, trusted: &[ipnet::IpNet]) -> bool {
    let canonical = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        IpAddr::V4(_) => peer,
    };
    trusted
        .iter()
        .any(|net| net.contains(&canonical) || net.contains(&peer))
}

enum Kind {
    Undecided,
    V1,
    V2,
}

impl Kind {
    /// Decides the version from the signature, failing as soon as a byte rules both out.
    fn detect(buf: &[u8]) -> Result<Self, ProxyProtocolError> {
        let v1_sig = v1::SIGNATURE.as_slice();
        let v2_sig = v2::SIGNATURE.as_slice();
        for (sig, kind) in [(v1_sig, Kind::V1), (v2_sig, Kind::V2)] {
            let seen = buf.len().min(sig.len());
            if buf.get(..seen) == sig.get(..seen) && seen > 0 {
                return Ok(if seen == sig.len() {
                    kind
                } else {
                    Kind::Undecided
                });
            }
        }
        if buf.is_empty() {
            Ok(Kind::Undecided)
        } else {
            Err(ProxyProtocolError::NotProxyHeader)
        }
    }
}

/// Both ends in one family, as both versions require: an IPv4 end paired with an
/// IPv6 one is written as its IPv4-mapped IPv6 form.
fn same_family(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let widen = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    };
    if src.is_ipv4() == dst.is_ipv4() {
        (src, dst)
    } else {
        (widen(src), widen(dst))
    }
}

/// Fuzzing entry (`fuzz/fuzz_targets/proxy_protocol.rs`): v1 and v2 headers from
/// arbitrary bytes. Must never panic, and a parsed header never claims more bytes than
/// it was given.
pub fn fuzz_logic(data: &[u8]) {
    let _ = bytes_wanted(data);
    if let Ok(Some((used, _))) = parse(data) {
        assert!(used <= data.len(), "header longer than its input");
    }
}
