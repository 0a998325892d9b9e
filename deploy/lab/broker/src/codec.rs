//! Kafka framing (4-byte big-endian size prefix) and an inter-broker client connection.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest frame accepted (`socket.request.max.bytes` default).
pub const MAX_FRAME: usize = 104_857_600;

/// Reads one frame; `Ok(None)` on a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Option<BytesMut>> {
    let mut size = [0u8; 4];
    match reader.read_exact(&mut size).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let size = i32::from_be_bytes(size);
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_FRAME)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("invalid frame size {size}"),
            )
        })?;
    let mut buf = BytesMut::zeroed(size);
    reader.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    writer.write_all(&out).await?;
    writer.flush().await
}

/// Why an inter-broker call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Connection problem.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding/decoding problem.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// A client connection from one broker to another (replica fetcher).
#[derive(Debug)]
pub struct BrokerConn {
    stream: TcpStream,
    next_correlation: i32,
    client_id: String,
}

impl BrokerConn {
    /// Connects to `host:port`.
    pub async fn connect(host: &str, port: u16, client_id: String) -> std::io::Result<Self> {
        let stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            next_correlation: 0,
            client_id,
        })
    }

    /// Sends `request` at `version` and waits for its response.
    pub async fn call<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, CallError> {
        let proto = |e: anyhow::Error| CallError::Protocol(e.to_string());
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = self.next_correlation;
        header.client_id = Some(StrBytes::from_string(self.client_id.clone()));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, R::header_version(version))
            .map_err(proto)?;
        request.encode(&mut buf, version).map_err(proto)?;
        write_frame(&mut self.stream, &buf).await?;
        let mut frame = read_frame(&mut self.stream).await?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed by peer",
            )
        })?;
        let response_header =
            ResponseHeader::decode(&mut frame, R::Response::header_version(version))
                .map_err(proto)?;
        if response_header.correlation_id != self.next_correlation {
            return Err(CallError::Protocol("correlation id mismatch".into()));
        }
        let mut body: Bytes = frame.freeze();
        R::Response::decode(&mut body, version).map_err(proto)
    }
}
