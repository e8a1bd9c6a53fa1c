//! Framing over arbitrary read boundaries, clean and unclean closes, early refusal.

use super::*;
use bson::rawdoc;

/// Yields `data` in `chunk`-sized reads, then fails with `end`.
struct Chunks {
    data: Vec<u8>,
    chunk: usize,
    end: io::ErrorKind,
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.data.is_empty() {
            return Poll::Ready(Err(self.end.into()));
        }
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data.drain(..n);
        Poll::Ready(Ok(()))
    }
}

fn frame() -> Bytes {
    wire::encode_op_msg(1, 0, 0, &rawdoc! {"ping": 1, "$db": "admin"})
}

#[tokio::test]
async fn frames_split_anyhow_come_out_whole_and_in_order() {
    let two = [frame(), frame()].concat();
    for chunk in [1, 7, 16, 17, 1000] {
        let mut r = Chunks {
            data: two.clone(),
            chunk,
            end: io::ErrorKind::UnexpectedEof,
        };
        let mut buf = BytesMut::new();
        for _ in 0..2 {
            let (h, f) = read_frame(&mut r, &mut buf, 1 << 20)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((h.request_id, &f[..]), (1, &frame()[..]), "chunk {chunk}");
        }
        // A close without TLS close_notify between messages is a clean goodbye.
        assert!(read_frame(&mut r, &mut buf, 1 << 20)
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn a_close_inside_a_message_is_a_truncation() {
    let f = frame();
    let mut r = Chunks {
        data: f[..f.len() - 3].to_vec(),
        chunk: 5,
        end: io::ErrorKind::UnexpectedEof,
    };
    let mut buf = BytesMut::new();
    let err = read_frame(&mut r, &mut buf, 1 << 20).await.unwrap_err();
    assert!(matches!(err, FrameError::Truncated), "{err}");
    let mut r = Chunks {
        data: Vec::new(),
        chunk: 5,
        end: io::ErrorKind::ConnectionReset,
    };
    let err = read_frame(&mut r, &mut BytesMut::new(), 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, FrameError::Io(_)), "{err}");
}

#[tokio::test]
async fn an_oversized_header_is_refused_before_its_body_arrives() {
    let f = frame();
    let mut r = Chunks {
        data: f[..16].to_vec(),
        chunk: 16,
        end: io::ErrorKind::WouldBlock,
    };
    let err = read_frame(&mut r, &mut BytesMut::new(), 20)
        .await
        .unwrap_err();
    assert!(matches!(err, FrameError::Rejected { .. }), "{err}");
}

#[test]
fn hang_ups_are_told_apart_from_bad_messages() {
    assert!(FrameError::Truncated.is_hang_up());
    for kind in [
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::UnexpectedEof,
    ] {
        assert!(FrameError::Io(kind.into()).is_hang_up(), "{kind:?}");
    }
    assert!(!FrameError::Io(io::ErrorKind::PermissionDenied.into()).is_hang_up());
    assert!(!FrameError::Wire(WireError::UnsupportedOpCode(1)).is_hang_up());
}
