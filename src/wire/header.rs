//! The 16-byte standard message header, little-endian readers, and frame-length checking.

use super::error::WireError;
use super::{HEADER_LEN, OP_COMPRESSED, OP_MSG, OP_QUERY, OP_REPLY};

/// The standard message header that starts every wire-protocol message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub length: i32,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

impl Header {
    /// Reads the header from the first 16 bytes of `b` (extra bytes are ignored).
    pub fn parse(b: &[u8]) -> Result<Header, WireError> {
        Ok(Header {
            length: read_i32(b, 0, "message header")?,
            request_id: read_i32(b, 4, "message header")?,
            response_to: read_i32(b, 8, "message header")?,
            op_code: read_i32(b, 12, "message header")?,
        })
    }

    /// Appends the 16 header bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.response_to.to_le_bytes());
        out.extend_from_slice(&self.op_code.to_le_bytes());
    }
}

/// Smallest whole message (header included) each opcode can have, so that a peer cannot make us
/// wait for or allocate a frame that could never be valid.
/// OP_MSG: flagBits + kind byte + empty document (5). OP_QUERY: flags + empty cstring + skip +
/// return + empty document. OP_REPLY: flags + cursorID + startingFrom + numberReturned.
/// OP_COMPRESSED: originalOpcode + uncompressedSize + compressorId.
pub fn min_message_len(op_code: i32) -> Option<usize> {
    let body = match op_code {
        OP_MSG => 4 + 1 + 5,
        OP_QUERY => 4 + 1 + 4 + 4 + 5,
        OP_REPLY => 4 + 8 + 4 + 4,
        OP_COMPRESSED => 4 + 4 + 1,
        _ => return None,
    };
    Some(HEADER_LEN + body)
}

/// Called on the bytes buffered so far. `Ok(None)`: fewer than 16 bytes yet. `Ok(Some(n))`: the
/// whole message is `n` bytes, already checked to be at least the minimum for its opcode and at
/// most `max_message_size`, so the caller may allocate `n` bytes. Unknown opcodes are refused here
/// because the proxy never forwards them (legacy OP_INSERT etc. were removed from mongod).
pub fn frame_length(buf: &[u8], max_message_size: usize) -> Result<Option<usize>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let header = Header::parse(buf)?;
    let min =
        min_message_len(header.op_code).ok_or(WireError::UnsupportedOpCode(header.op_code))?;
    let invalid = || WireError::InvalidMessageLength {
        length: header.length,
        op_code: header.op_code,
        min,
    };
    let n = usize::try_from(header.length).map_err(|_| invalid())?;
    if n < min {
        return Err(invalid());
    }
    if n > max_message_size {
        return Err(WireError::MessageTooLarge {
            size: n,
            max: max_message_size,
        });
    }
    Ok(Some(n))
}

/// Reads `N` bytes at `pos`, reporting `what` was being read when the input is too short.
pub(crate) fn read_array<const N: usize>(
    b: &[u8],
    pos: usize,
    what: &'static str,
) -> Result<[u8; N], WireError> {
    let truncated = || WireError::Truncated {
        what,
        need: pos.saturating_add(N),
        have: b.len(),
    };
    let end = pos.checked_add(N).ok_or_else(truncated)?;
    let slice = b.get(pos..end).ok_or_else(truncated)?;
    <[u8; N]>::try_from(slice).map_err(|_| truncated())
}

pub(crate) fn read_i32(b: &[u8], pos: usize, what: &'static str) -> Result<i32, WireError> {
    read_array::<4>(b, pos, what).map(i32::from_le_bytes)
}

pub(crate) fn read_u32(b: &[u8], pos: usize, what: &'static str) -> Result<u32, WireError> {
    read_array::<4>(b, pos, what).map(u32::from_le_bytes)
}

pub(crate) fn read_i64(b: &[u8], pos: usize, what: &'static str) -> Result<i64, WireError> {
    read_array::<8>(b, pos, what).map(i64::from_le_bytes)
}

/// Reads a NUL-terminated UTF-8 string starting at `pos` that must end before `end`.
/// Returns the string's byte range (without the NUL); the next field starts at `range.end + 1`.
pub(crate) fn read_cstring(
    b: &[u8],
    pos: usize,
    end: usize,
    what: &'static str,
) -> Result<std::ops::Range<usize>, WireError> {
    let err = || WireError::InvalidCString { what, offset: pos };
    let region = b.get(pos..end).ok_or_else(err)?;
    let nul = region.iter().position(|&c| c == 0).ok_or_else(err)?;
    let text = region.get(..nul).ok_or_else(err)?;
    std::str::from_utf8(text).map_err(|_| err())?;
    Ok(pos..pos + nul)
}

/// Checks that the frame's header length equals the frame, and that the frame is within limits.
pub(crate) fn check_frame(frame: &[u8], max_message_size: usize) -> Result<Header, WireError> {
    let header = Header::parse(frame)?;
    if frame.len() > max_message_size {
        return Err(WireError::MessageTooLarge {
            size: frame.len(),
            max: max_message_size,
        });
    }
    if usize::try_from(header.length).ok() != Some(frame.len()) {
        return Err(WireError::LengthMismatch {
            header: header.length,
            actual: frame.len(),
        });
    }
    if let Some(min) = min_message_len(header.op_code) {
        if frame.len() < min {
            return Err(WireError::InvalidMessageLength {
                length: header.length,
                op_code: header.op_code,
                min,
            });
        }
    }
    Ok(header)
}
