//! OP_COMPRESSED: the compressor registry, bounded decompression and compression.
//!
//! Layout after the 16-byte header (wire spec, OP_COMPRESSED): int32 originalOpcode,
//! int32 uncompressedSize (the original message without its header), uint8 compressorId,
//! then the compressed bytes.

use super::error::WireError;
use super::header::{check_frame, min_message_len, read_array, read_i32, Header};
use super::{HEADER_LEN, OP_COMPRESSED};
use bytes::Bytes;
use std::io::Write;

/// Offset of the compressed payload in an OP_COMPRESSED message.
const PAYLOAD_OFFSET: usize = HEADER_LEN + 9;

/// The compressors of the wire protocol, by their registered ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compressor {
    Noop,
    Snappy,
    Zlib,
    Zstd,
}

impl Compressor {
    pub fn id(self) -> u8 {
        match self {
            Compressor::Noop => 0,
            Compressor::Snappy => 1,
            Compressor::Zlib => 2,
            Compressor::Zstd => 3,
        }
    }

    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Compressor::Noop),
            1 => Some(Compressor::Snappy),
            2 => Some(Compressor::Zlib),
            3 => Some(Compressor::Zstd),
            _ => None,
        }
    }

    /// The name used in the `compression` field of `hello`.
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Noop => "noop",
            Compressor::Snappy => "snappy",
            Compressor::Zlib => "zlib",
            Compressor::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Noop, Self::Snappy, Self::Zlib, Self::Zstd]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// Decompresses an OP_COMPRESSED frame whose inner opcode is in `allowed`, returning the rebuilt
/// uncompressed message (header with the original opcode and length 16 + uncompressedSize, same
/// ids) and the compressor. The declared size is checked against `max_message_size` before any
/// allocation, and no decompressor may produce more than uncompressedSize + 1 bytes.
pub fn decompress(
    frame: &[u8],
    max_message_size: usize,
    allowed: &[i32],
) -> Result<(Bytes, Compressor), WireError> {
    let (rebuilt, size, compressor) = read_fields(frame, max_message_size, allowed)?;
    let payload = frame.get(PAYLOAD_OFFSET..).unwrap_or_default();
    precheck(compressor, payload, size)?;
    let total = HEADER_LEN + size;
    let mut out = Vec::with_capacity(total + 1);
    rebuilt.write_to(&mut out);
    // One spare byte so an over-long stream is detected rather than silently cut.
    out.resize(total + 1, 0);
    let dst = out.get_mut(HEADER_LEN..).unwrap_or_default();
    let written = inflate(compressor, payload, dst)?;
    if written != size {
        return Err(WireError::UncompressedSizeMismatch {
            expected: size,
            actual: written,
        });
    }
    out.truncate(total);
    Ok((Bytes::from(out), compressor))
}

/// Checks the OP_COMPRESSED fields; returns the header of the rebuilt message, the declared
/// uncompressedSize (already within limits) and the compressor.
fn read_fields(
    frame: &[u8],
    max_message_size: usize,
    allowed: &[i32],
) -> Result<(Header, usize, Compressor), WireError> {
    let header = check_frame(frame, max_message_size)?;
    if header.op_code != OP_COMPRESSED {
        return Err(WireError::UnexpectedOpCode {
            op_code: header.op_code,
            context: "decompress call",
        });
    }
    let original = read_i32(frame, HEADER_LEN, "originalOpcode")?;
    if original == OP_COMPRESSED || !allowed.contains(&original) {
        return Err(WireError::InvalidCompressedOpCode(original));
    }
    let declared = read_i32(frame, HEADER_LEN + 4, "uncompressedSize")?;
    let invalid = WireError::InvalidUncompressedSize(declared);
    let size = usize::try_from(declared).map_err(|_| invalid.clone())?;
    let total = size.checked_add(HEADER_LEN).ok_or(invalid.clone())?;
    if total > max_message_size {
        return Err(WireError::MessageTooLarge {
            size: total,
            max: max_message_size,
        });
    }
    if min_message_len(original).is_some_and(|min| total < min) {
        return Err(invalid);
    }
    let length = i32::try_from(total).map_err(|_| invalid)?;
    let id = read_array::<1>(frame, HEADER_LEN + 8, "compressorId")?[0];
    let compressor = Compressor::from_id(id).ok_or(WireError::UnknownCompressor(id))?;
    let rebuilt = Header {
        length,
        op_code: original,
        ..header
    };
    Ok((rebuilt, size, compressor))
}

/// Deflate cannot expand input more than 1032:1 (RFC 1951 block limits); zlib adds a few bytes.
const DEFLATE_MAX_RATIO: usize = 1032;

/// Cheap checks that refuse a payload which cannot produce `size` bytes, so that a tiny frame
/// declaring a large uncompressedSize does not make us allocate that size for nothing.
pub(super) fn precheck(c: Compressor, payload: &[u8], size: usize) -> Result<(), WireError> {
    let mismatch = |actual| WireError::UncompressedSizeMismatch {
        expected: size,
        actual,
    };
    match c {
        Compressor::Noop if payload.len() != size => Err(mismatch(payload.len())),
        Compressor::Snappy => match snap::raw::decompress_len(payload) {
            Ok(n) if n == size => Ok(()),
            Ok(n) => Err(mismatch(n)),
            Err(e) => Err(decompress_err(c, e)),
        },
        Compressor::Zlib
            if size
                > payload
                    .len()
                    .saturating_mul(DEFLATE_MAX_RATIO)
                    .saturating_add(64) =>
        {
            Err(decompress_err(
                c,
                "uncompressedSize exceeds what the payload can inflate to",
            ))
        }
        Compressor::Zstd => zstd_precheck(payload, size),
        _ => Ok(()),
    }
}

/// The first frame's declared content size (if any) cannot exceed the whole, and must equal it
/// when that frame is the entire payload (the usual case: one frame, size recorded).
fn zstd_precheck(payload: &[u8], size: usize) -> Result<(), WireError> {
    let c = Compressor::Zstd;
    let content = zstd::zstd_safe::get_frame_content_size(payload)
        .map_err(|_| decompress_err(c, "invalid zstd frame header"))?;
    let Some(n) = content.and_then(|n| usize::try_from(n).ok()) else {
        return Ok(()); // size not recorded: the bounded decompression decides
    };
    let single_frame = zstd::zstd_safe::find_frame_compressed_size(payload) == Ok(payload.len());
    if n > size || (single_frame && n != size) {
        return Err(WireError::UncompressedSizeMismatch {
            expected: size,
            actual: n,
        });
    }
    Ok(())
}

fn decompress_err(c: Compressor, reason: impl ToString) -> WireError {
    WireError::Decompress {
        compressor: c.name(),
        reason: reason.to_string(),
    }
}

/// Decompresses `payload` into `dst` (uncompressedSize + 1 bytes); returns the bytes produced.
fn inflate(c: Compressor, payload: &[u8], dst: &mut [u8]) -> Result<usize, WireError> {
    match c {
        Compressor::Noop => {
            let slot = dst
                .get_mut(..payload.len())
                .ok_or_else(|| decompress_err(c, "payload longer than uncompressedSize"))?;
            slot.copy_from_slice(payload);
            Ok(payload.len())
        }
        Compressor::Snappy => {
            // The raw format states its length up front: refuse before writing anything.
            let claimed = snap::raw::decompress_len(payload).map_err(|e| decompress_err(c, e))?;
            let slot = dst
                .get_mut(..claimed)
                .ok_or_else(|| decompress_err(c, "stated length exceeds uncompressedSize"))?;
            snap::raw::Decoder::new()
                .decompress(payload, slot)
                .map_err(|e| decompress_err(c, e))
        }
        Compressor::Zlib => inflate_zlib(payload, dst),
        Compressor::Zstd => zstd::bulk::Decompressor::new()
            .and_then(|mut d| d.decompress_to_buffer(payload, dst))
            .map_err(|e| decompress_err(c, e)),
    }
}

/// zlib (RFC 1950) into a bounded buffer; the stream must end exactly at the payload's end.
fn inflate_zlib(payload: &[u8], dst: &mut [u8]) -> Result<usize, WireError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let c = Compressor::Zlib;
    let mut z = Decompress::new(true);
    loop {
        let (in_pos, out_pos) = (z.total_in() as usize, z.total_out() as usize);
        let input = payload.get(in_pos..).unwrap_or_default();
        let output = dst.get_mut(out_pos..).unwrap_or_default();
        let status = z
            .decompress(input, output, FlushDecompress::Finish)
            .map_err(|e| decompress_err(c, e))?;
        let progressed = z.total_in() as usize != in_pos || z.total_out() as usize != out_pos;
        match status {
            Status::StreamEnd => break,
            _ if progressed => continue,
            _ => {
                let reason = if z.total_out() as usize >= dst.len() {
                    "output exceeds uncompressedSize"
                } else {
                    "truncated stream"
                };
                return Err(decompress_err(c, reason));
            }
        }
    }
    if z.total_in() as usize != payload.len() {
        return Err(decompress_err(c, "trailing bytes after the zlib stream"));
    }
    Ok(z.total_out() as usize)
}

/// Wraps an uncompressed message (header included) into OP_COMPRESSED with `compressor`,
/// keeping its requestID/responseTo.
pub fn compress(message: &[u8], compressor: Compressor) -> Result<Bytes, WireError> {
    let header = check_frame(message, usize::MAX)?;
    if header.op_code == OP_COMPRESSED {
        return Err(WireError::InvalidCompressedOpCode(header.op_code));
    }
    let body = message.get(HEADER_LEN..).unwrap_or_default();
    let err = |reason: String| WireError::Compress {
        compressor: compressor.name(),
        reason,
    };
    let packed: Vec<u8> = match compressor {
        Compressor::Noop => body.to_vec(),
        Compressor::Snappy => snap::raw::Encoder::new()
            .compress_vec(body)
            .map_err(|e| err(e.to_string()))?,
        Compressor::Zlib => {
            let mut enc =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(body).map_err(|e| err(e.to_string()))?;
            enc.finish().map_err(|e| err(e.to_string()))?
        }
        Compressor::Zstd => zstd::bulk::compress(body, 0).map_err(|e| err(e.to_string()))?,
    };
    let total = PAYLOAD_OFFSET + packed.len();
    let length = i32::try_from(total).map_err(|_| err("compressed message too large".into()))?;
    let size = i32::try_from(body.len()).map_err(|_| err("message too large".into()))?;
    let mut out = Vec::with_capacity(total);
    Header {
        length,
        op_code: OP_COMPRESSED,
        ..header
    }
    .write_to(&mut out);
    out.extend_from_slice(&header.op_code.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.push(compressor.id());
    out.extend_from_slice(&packed);
    Ok(Bytes::from(out))
}
