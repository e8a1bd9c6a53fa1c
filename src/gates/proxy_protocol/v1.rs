//! PROXY protocol v1: `PROXY TCP4|TCP6 src dst sport dport\r\n` or
//! `PROXY UNKNOWN[ anything]\r\n`, at most 107 bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{same_family, ProxyHeader, ProxyProtocolError};

pub(super) const SIGNATURE: &[u8; 6] = b"PROXY ";
pub(super) const MAX_LEN: usize = 107;
/// `PROXY UNKNOWN\r\n`.
pub(super) const MIN_LEN: usize = 15;

const MALFORMED: fn(&'static str) -> ProxyProtocolError = ProxyProtocolError::V1Malformed;

/// `buf` starts with the full signature.
pub(super) fn parse(buf: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyProtocolError> {
    let window = buf.get(..buf.len().min(MAX_LEN)).unwrap_or(buf);
    let Some(lf) = window.iter().position(|b| *b == b'\n') else {
        check_partial(window)?;
        return if buf.len() >= MAX_LEN {
            Err(ProxyProtocolError::V1TooLong)
        } else {
            Ok(None)
        };
    };
    let line = lf
        .checked_sub(1)
        .filter(|&cr| window.get(cr) == Some(&b'\r'))
        .and_then(|cr| window.get(..cr))
        .ok_or(MALFORMED("line must end with CRLF"))?;
    check_partial(line)?;
    let header = parse_line(line)?;
    Ok(Some((lf + 1, header)))
}

/// Rejects garbage before the CRLF arrives: only printable ASCII, and a CR only as
/// the very last byte received so far.
fn check_partial(seen: &[u8]) -> Result<(), ProxyProtocolError> {
    let body = match seen.split_last() {
        Some((b'\r', body)) => body,
        _ => seen,
    };
    if body.iter().all(|b| (0x20..=0x7e).contains(b)) {
        Ok(())
    } else {
        Err(MALFORMED("non-printable byte before CRLF"))
    }
}

fn parse_line(line: &[u8]) -> Result<ProxyHeader, ProxyProtocolError> {
    let text = std::str::from_utf8(line).map_err(|_| MALFORMED("not ASCII"))?;
    let rest = text
        .strip_prefix("PROXY ")
        .ok_or(MALFORMED("missing PROXY prefix"))?;
    let mut fields = rest.split(' ');
    let protocol = fields.next().unwrap_or_default();
    // The spec tells receivers to ignore whatever follows UNKNOWN.
    if protocol == "UNKNOWN" {
        return Ok(ProxyHeader::Local);
    }
    let v6 = match protocol {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Err(MALFORMED("protocol must be TCP4, TCP6 or UNKNOWN")),
    };
    let mut next = || fields.next().ok_or(MALFORMED("missing field"));
    let (src, dst) = (address(next()?, v6)?, address(next()?, v6)?);
    let (sport, dport) = (port(next()?)?, port(next()?)?);
    if fields.next().is_some() {
        return Err(MALFORMED("trailing fields"));
    }
    Ok(ProxyHeader::Proxied {
        source: SocketAddr::new(src, sport),
        destination: SocketAddr::new(dst, dport),
    })
}

fn address(text: &str, v6: bool) -> Result<IpAddr, ProxyProtocolError> {
    if v6 {
        text.parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| MALFORMED("bad IPv6 address"))
    } else {
        text.parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| MALFORMED("bad IPv4 address"))
    }
}

/// Decimal 0..=65535 without sign or leading zeros (spec: "no leading zeros").
fn port(text: &str) -> Result<u16, ProxyProtocolError> {
    let digits = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if !digits || leading_zero {
        return Err(MALFORMED("bad port"));
    }
    text.parse().map_err(|_| MALFORMED("port out of range"))
}

/// Further bytes that surely belong to an incomplete v1 header: the shortest header
/// is 15 bytes, and the line cannot end before a CR followed by LF.
pub(super) fn bytes_wanted(buf: &[u8]) -> usize {
    let until_crlf = if buf.last() == Some(&b'\r') { 1 } else { 2 };
    let wanted = MIN_LEN.saturating_sub(buf.len()).max(until_crlf);
    wanted.min(MAX_LEN.saturating_sub(buf.len())).max(1)
}

/// Encodes a v1 header (for tests and tools).
pub fn encode(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let protocol = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {protocol} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}
