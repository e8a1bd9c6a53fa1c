//! A raw TLS client for sending hand-made (and malformed) wire messages.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bson::RawDocument;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

pub struct RawClient {
    pub stream: TlsStream<TcpStream>,
    next_id: i32,
}

pub fn tls_connector(ca: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in mongoward::tls::load_certs(ca).expect("ca") {
        roots.add(c).expect("add ca");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

impl RawClient {
    pub async fn connect(addr: SocketAddr, ca: &Path) -> RawClient {
        let tcp = TcpStream::connect(addr).await.expect("tcp connect");
        RawClient::over(tcp, ca).await
    }

    /// Connects from a chosen loopback source address (Linux routes all of 127/8 to lo).
    pub async fn connect_from(source: IpAddr, addr: SocketAddr, ca: &Path) -> RawClient {
        RawClient::over(tcp_from(source, addr).await, ca).await
    }

    /// Runs the TLS handshake over an already connected socket (e.g. after a PROXY header).
    pub async fn over(tcp: TcpStream, ca: &Path) -> RawClient {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let stream = tls_connector(ca)
            .connect(name, tcp)
            .await
            .expect("tls handshake");
        RawClient {
            stream,
            next_id: 100,
        }
    }

    /// Wraps an established TLS stream (e.g. one from a chosen source address).
    pub fn from_stream(stream: TlsStream<TcpStream>) -> RawClient {
        RawClient {
            stream,
            next_id: 100,
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
        self.stream.flush().await.expect("flush");
    }

    pub fn next_id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a command as OP_MSG and returns the reply body.
    pub async fn command(&mut self, body: &RawDocument) -> bson::RawDocumentBuf {
        let id = self.next_id();
        self.send(&mongoward::wire::encode_op_msg(id, 0, 0, body))
            .await;
        let frame = self.read_frame().await.expect("a reply");
        match mongoward::wire::decode_reply(frame.into(), &Default::default()).expect("valid reply")
        {
            mongoward::wire::Reply::Msg(m) => m.body().to_raw_document_buf(),
            mongoward::wire::Reply::Reply(r) => {
                r.first_document().expect("doc").to_raw_document_buf()
            }
        }
    }

    /// Sends a command as OP_QUERY on `collection` (e.g. "admin.$cmd"), as drivers before
    /// OP_MSG do; returns the OP_REPLY's responseFlags and first document.
    pub async fn query(
        &mut self,
        collection: &str,
        query: &RawDocument,
    ) -> (i32, bson::RawDocumentBuf) {
        let id = self.next_id();
        let mut body = Vec::new();
        body.extend_from_slice(&0i32.to_le_bytes()); // flags
        body.extend_from_slice(collection.as_bytes());
        body.push(0);
        body.extend_from_slice(&0i32.to_le_bytes()); // numberToSkip
        body.extend_from_slice(&(-1i32).to_le_bytes()); // numberToReturn
        body.extend_from_slice(query.as_bytes());
        let mut msg = Vec::new();
        msg.extend_from_slice(&((16 + body.len()) as i32).to_le_bytes());
        msg.extend_from_slice(&id.to_le_bytes());
        msg.extend_from_slice(&0i32.to_le_bytes());
        msg.extend_from_slice(&2004i32.to_le_bytes());
        msg.extend_from_slice(&body);
        self.send(&msg).await;
        let frame = self.read_frame().await.expect("a reply");
        match mongoward::wire::decode_reply(frame.into(), &Default::default()).expect("valid reply")
        {
            mongoward::wire::Reply::Reply(r) => {
                assert_eq!(r.header().response_to, id, "responseTo");
                let doc = r.first_document().expect("one document");
                (r.response_flags(), doc.to_raw_document_buf())
            }
            mongoward::wire::Reply::Msg(_) => panic!("an OP_QUERY must get an OP_REPLY"),
        }
    }

    /// Reads one whole message, or None when the proxy closed the connection (within 10 s).
    pub async fn read_frame(&mut self) -> Option<Vec<u8>> {
        let fut = async {
            let mut header = [0u8; 16];
            self.stream.read_exact(&mut header).await.ok()?;
            let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let mut buf = header.to_vec();
            buf.resize(len.max(16), 0);
            self.stream.read_exact(&mut buf[16..]).await.ok()?;
            Some(buf)
        };
        tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .expect("proxy answered or closed in time")
    }

    /// True when the proxy has closed the connection (EOF or reset) within 10 s.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// A TCP connection to `addr` whose local end is bound to `source` first.
pub async fn tcp_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .expect("socket");
    socket
        .bind(SocketAddr::new(source, 0))
        .expect("bind the source address");
    socket.connect(addr).await.expect("tcp connect")
}

/// The bytes of a real TLS ClientHello for "localhost", as rustls would send them.
pub fn client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("serialise ClientHello");
    }
    assert_eq!(out.first(), Some(&0x16), "a TLS handshake record");
    out
}

/// Sends `prefix` (e.g. a PROXY header) and a ClientHello, then returns how many bytes the
/// proxy sent back before closing the connection (a socket still open after 5 s fails).
pub async fn bytes_before_close(mut tcp: TcpStream, prefix: &[u8]) -> usize {
    let mut hello = prefix.to_vec();
    hello.extend_from_slice(&client_hello());
    // The proxy may already have closed: a failed write is part of the expected outcome.
    let _ = tcp.write_all(&hello).await;
    let mut got = 0;
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(5), read_all).await;
    assert!(
        closed.is_ok(),
        "still open after 5 s; {got} bytes came back"
    );
    got
}
