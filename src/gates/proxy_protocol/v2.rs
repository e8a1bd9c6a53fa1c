//! PROXY protocol v2: 12-byte signature, version/command, family/transport, 16-bit
//! big-endian length, then addresses and TLVs (TLVs are skipped).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{same_family, ProxyHeader, ProxyProtocolError};

pub(super) const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
pub(super) const HEADER_LEN: usize = 16;
/// Addresses (at most 216 bytes for AF_UNIX) plus a generous TLV allowance.
pub(super) const MAX_PAYLOAD: usize = 2048;

const CMD_LOCAL: u8 = 0x0;
const CMD_PROXY: u8 = 0x1;
const FAM_UNSPEC: u8 = 0x00;
const FAM_TCP4: u8 = 0x11;
const FAM_TCP6: u8 = 0x21;
const TCP4_LEN: usize = 12;
const TCP6_LEN: usize = 36;

/// `buf` starts with the full signature.
pub(super) fn parse(buf: &[u8]) -> Result<Option<(usize, ProxyHeader)>, ProxyProtocolError> {
    // Check each fixed byte as soon as it arrives, so garbage fails early.
    let command = match buf.get(12) {
        Some(&ver_cmd) => Some(command(ver_cmd)?),
        None => None,
    };
    let family = buf.get(13).copied();
    if let (Some(CMD_PROXY), Some(fam)) = (command, family) {
        address_len(fam)?;
    }
    let (Some(command), Some(family), Some(&hi), Some(&lo)) =
        (command, family, buf.get(14), buf.get(15))
    else {
        return Ok(None);
    };
    let payload_len = usize::from(u16::from_be_bytes([hi, lo]));
    let total = HEADER_LEN + payload_len;
    if payload_len > MAX_PAYLOAD {
        return Err(ProxyProtocolError::V2TooLong {
            len: total,
            max: HEADER_LEN + MAX_PAYLOAD,
        });
    }
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    // LOCAL: the spec says to ignore the address block, family included.
    if command == CMD_LOCAL {
        return Ok(Some((total, ProxyHeader::Local)));
    }
    Ok(Some((total, addresses(family, payload)?)))
}

fn command(ver_cmd: u8) -> Result<u8, ProxyProtocolError> {
    if ver_cmd >> 4 != 2 {
        return Err(ProxyProtocolError::V2BadVersion(ver_cmd >> 4));
    }
    match ver_cmd & 0x0f {
        cmd @ (CMD_LOCAL | CMD_PROXY) => Ok(cmd),
        other => Err(ProxyProtocolError::V2BadCommand(other)),
    }
}

/// Address block size for a PROXY command's family. UDP and AF_UNIX are refused
/// rather than falling back to the TCP peer: that peer is the trusted balancer, and
/// treating its traffic as "local" could open the access list.
fn address_len(family: u8) -> Result<usize, ProxyProtocolError> {
    match family {
        FAM_UNSPEC => Ok(0),
        FAM_TCP4 => Ok(TCP4_LEN),
        FAM_TCP6 => Ok(TCP6_LEN),
        other => Err(ProxyProtocolError::V2UnsupportedFamily(other)),
    }
}

fn addresses(family: u8, payload: &[u8]) -> Result<ProxyHeader, ProxyProtocolError> {
    let needed = address_len(family)?;
    let short = || ProxyProtocolError::V2TooShort {
        family,
        len: payload.len(),
    };
    let block = payload.get(..needed).ok_or_else(short)?;
    let (src, dst, ports) = match family {
        FAM_TCP4 => {
            let (src, rest) = split::<4>(block).ok_or_else(short)?;
            let (dst, ports) = split::<4>(rest).ok_or_else(short)?;
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            (IpAddr::V4(src), IpAddr::V4(dst), ports)
        }
        FAM_TCP6 => {
            let (src, rest) = split::<16>(block).ok_or_else(short)?;
            let (dst, ports) = split::<16>(rest).ok_or_else(short)?;
            let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
            (IpAddr::V6(src), IpAddr::V6(dst), ports)
        }
        // AF_UNSPEC with PROXY: the spec says to use the real connection endpoints.
        _ => return Ok(ProxyHeader::Local),
    };
    let (sport, rest) = split::<2>(ports).ok_or_else(short)?;
    let (dport, _) = split::<2>(rest).ok_or_else(short)?;
    Ok(ProxyHeader::Proxied {
        source: SocketAddr::new(src, u16::from_be_bytes(sport)),
        destination: SocketAddr::new(dst, u16::from_be_bytes(dport)),
    })
}

fn split<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let head = bytes.get(..N)?;
    let tail = bytes.get(N..)?;
    Some((head.try_into().ok()?, tail))
}

/// Further bytes that surely belong to an incomplete v2 header: up to the fixed
/// 16 bytes, then up to the announced length.
pub(super) fn bytes_wanted(buf: &[u8]) -> usize {
    match (buf.get(14), buf.get(15)) {
        (Some(&hi), Some(&lo)) => {
            let total = HEADER_LEN + usize::from(u16::from_be_bytes([hi, lo]));
            total.saturating_sub(buf.len())
        }
        _ => HEADER_LEN.saturating_sub(buf.len()),
    }
}

/// Encodes a v2 PROXY/TCP header without TLVs (for tests and tools).
pub fn encode(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let mut out = Vec::with_capacity(HEADER_LEN + TCP6_LEN);
    out.extend_from_slice(SIGNATURE);
    out.push(0x20 | CMD_PROXY);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(FAM_TCP4);
            out.extend_from_slice(&(TCP4_LEN as u16).to_be_bytes());
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            // same_family made both IPv6 here; the V4 case only keeps the closure total.
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V6(v6) => v6,
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            };
            out.push(FAM_TCP6);
            out.extend_from_slice(&(TCP6_LEN as u16).to_be_bytes());
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out
}
