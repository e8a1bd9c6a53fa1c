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

/// Reads one whole message. `Ok(None)` is a clean close between messages.
///
/// The header is read first and the declared length checked against `max` before the
/// body is read, so a peer cannot make us allocate more than the limit. `buf` is the
/// connection's reusable buffer: the frame is split off it, and once the caller drops
/// the frame the next `reserve` reuses the same allocation.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<(wire::Header, Bytes)>, FrameError> {
    let mut header = [0u8; wire::HEADER_LEN];
    let mut got = 0;
    while got < header.len() {
        let n = reader.read(&mut header[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        got += n;
    }
    let parsed = wire::Header::parse(&header)?;
    let len = match wire::frame_length(&header, max) {
        Ok(Some(len)) => len,
        Ok(None) => return Err(FrameError::Truncated),
        Err(error) => {
            return Err(FrameError::Rejected {
                header: parsed,
                error,
            })
        }
    };
    if buf.capacity() > 4 * 1024 * 1024 && len < 64 * 1024 {
        // A past large batch should not pin megabytes to an idle connection.
        *buf = BytesMut::new();
    }
    buf.clear();
    buf.reserve(len);
    buf.extend_from_slice(&header);
    buf.resize(len, 0);
    reader
        .read_exact(&mut buf[wire::HEADER_LEN..])
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(e),
        })?;
    Ok(Some((parsed, buf.split().freeze())))
}
