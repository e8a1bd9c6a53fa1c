//! Socket plumbing shared by the client and upstream sides: one stream type that is
//! either plain TCP or TLS, and frame reading with the size check before allocation.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::wire::{self, WireError};

/// A stream that is plain TCP or TLS (client or server side).
pub enum Stream {
    Plain(TcpStream),
    ServerTls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    ClientTls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Stream::ServerTls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
            Stream::ClientTls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        dispatch!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        dispatch!(self, s => s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, s => s.poll_shutdown(cx))
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed in the middle of a message")]
    Truncated,
    #[error("{0}")]
    Wire(#[from] WireError),
    /// The header was readable but the message is refused (e.g. too large): the caller
    /// can still answer in the request's opcode before closing.
    #[error("{error}")]
    Rejected {
        header: wire::Header,
        error: WireError,
    },
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// The client went away (mid-message, reset, broken pipe): routine, logged at debug.
    pub fn is_hang_up(&self) -> bool {
        use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
        match self {
            FrameError::Truncated => true,
            FrameError::Io(e) => matches!(
                e.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ),
            FrameError::Wire(_) | FrameError::Rejected { .. } => false,
        }
    }
}

/// Bytes asked of the socket when no frame is under way: enough for the commands and
/// replies of a typical request loop in one read, small enough that an idle connection's
/// buffer stays cheap.
const MIN_READ: usize = 1024;

/// Reads one whole message. `Ok(None)` is a clean close between messages.
///
/// `buf` is the connection's reusable buffer and may hold bytes of the next message when
/// this returns (pipelined or exhaust replies). The declared length is checked against
/// `max` as soon as the header is in, before anything the size of the body is reserved,
/// so a peer cannot make us allocate more than the limit. Reading the header and body in
/// one call saves a system call per message on plain sockets. Cancel-safe: bytes read
/// before a cancellation stay in `buf`.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<(wire::Header, Bytes)>, FrameError> {
    loop {
        let need = match take_frame(buf, max)? {
            Ready::Frame(header, frame) => return Ok(Some((header, frame))),
            Ready::Need(n) => n,
        };
        if buf.is_empty() && buf.capacity() > 4 * 1024 * 1024 && need < 64 * 1024 {
            // A past large batch should not pin megabytes to an idle connection.
            *buf = BytesMut::new();
        }
        buf.reserve(need.max(MIN_READ));
        let n = match reader.read_buf(buf).await {
            Ok(n) => n,
            // Many drivers close the socket without a TLS close_notify; between messages
            // that is an ordinary goodbye, not an error.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
    }
}

enum Ready {
    Frame(wire::Header, Bytes),
    /// At least this many more bytes are needed.
    Need(usize),
}

/// Splits a complete message off the front of `buf`, or says how much is missing.
fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Ready, FrameError> {
    if buf.len() < wire::HEADER_LEN {
        return Ok(Ready::Need(wire::HEADER_LEN - buf.len()));
    }
    let header = wire::Header::parse(&buf[..wire::HEADER_LEN])?;
    let len = match wire::frame_length(&buf[..wire::HEADER_LEN], max) {
        Ok(Some(len)) => len,
        Ok(None) => return Err(FrameError::Truncated),
        Err(error) => return Err(FrameError::Rejected { header, error }),
    };
    if buf.len() < len {
        return Ok(Ready::Need(len - buf.len()));
    }
    Ok(Ready::Frame(header, buf.split_to(len).freeze()))
}

#[cfg(test)]
mod tests;
