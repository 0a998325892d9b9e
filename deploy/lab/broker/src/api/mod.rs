//! Request dispatch: decodes a frame, checks the version against the broker's software
//! version, calls the API family's handler and encodes the response.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};

use crate::broker::Broker;
use crate::version::keys;

pub mod admin;
pub mod errors;
pub mod fetch;
pub mod group;
pub mod metadata;
pub mod produce;

/// What the connection knows about itself.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    /// Listener the connection arrived on.
    pub listener: String,
    /// Peer address.
    pub peer: String,
}

/// Outcome of one request.
#[derive(Debug)]
pub enum Reply {
    /// Send this frame body.
    Send(Bytes),
    /// No response (Produce with acks=0).
    Nothing,
    /// Close the connection (what Kafka does for requests it cannot parse).
    Close(String),
}

/// Handles one request frame.
pub async fn handle(broker: &Arc<Broker>, conn: &ConnCtx, mut frame: BytesMut) -> Reply {
    if frame.len() < 8 {
        return Reply::Close("request shorter than a header".into());
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let Ok(api) = ApiKey::try_from(key) else {
        return Reply::Close(format!("unknown API key {key}"));
    };
    let header = match RequestHeader::decode(&mut frame, api.request_header_version(version)) {
        Ok(h) => h,
        Err(e) => return Reply::Close(format!("invalid request header: {e}")),
    };
    // Kafka's request logger (enabled with `KAFKA_LOG4J_LOGGERS=kafka.request.logger=DEBUG`):
    // one line per request, naming the client, so a benchmark can count what a client sends.
    tracing::debug!(
        target: "kafka.request.logger",
        "Received request:{{\"requestApiKey\":{key},\"requestApiVersion\":{version},\"correlationId\":{},\"clientId\":\"{}\",\"listener\":\"{}\",\"peer\":\"{}\"}}",
        header.correlation_id,
        header.client_id.as_deref().unwrap_or_default(),
        conn.listener,
        conn.peer
    );
    let mut body = frame.freeze();
    let supported = broker.version.api_range(key);
    let in_range = supported.is_some_and(|(lo, hi)| (lo..=hi).contains(&version));
    let result = if key == keys::API_VERSIONS && !in_range {
        Ok(Some(encode_response(
            api,
            header.correlation_id,
            0,
            &metadata::api_versions(broker, errors::UNSUPPORTED_VERSION),
        )))
    } else if !in_range {
        unsupported(api, &header, supported, &mut body)
    } else {
        dispatch(broker, conn, api, &header, body).await
    };
    match result {
        Ok(Some(bytes)) => Reply::Send(bytes),
        Ok(None) => Reply::Nothing,
        Err(e) => Reply::Close(format!(
            "error handling {api:?} v{version} from {}: {e}",
            conn.peer
        )),
    }
}

/// A request whose version this release does not support: Fetch gets an UNSUPPORTED_VERSION
/// response (what an old replica fetcher target answers); anything else closes the connection.
fn unsupported(
    api: ApiKey,
    header: &RequestHeader,
    supported: Option<(i16, i16)>,
    body: &mut Bytes,
) -> anyhow::Result<Option<Bytes>> {
    let version = header.request_api_version;
    tracing::warn!(target: "kafka.network.RequestChannel", "Unsupported version {version} of API {api:?} (this broker supports {supported:?}) from client {:?}.", header.client_id.as_deref());
    if api == ApiKey::Fetch && FetchRequest::decode(body, version).is_ok() {
        let response = FetchResponse::default().with_error_code(errors::UNSUPPORTED_VERSION);
        return Ok(Some(encode_response(
            api,
            header.correlation_id,
            version,
            &response,
        )));
    }
    anyhow::bail!("API {api:?} version {version} is not supported (supported: {supported:?})")
}

async fn dispatch(
    broker: &Arc<Broker>,
    conn: &ConnCtx,
    api: ApiKey,
    header: &RequestHeader,
    mut body: Bytes,
) -> anyhow::Result<Option<Bytes>> {
    let v = header.request_api_version;
    let id = header.correlation_id;
    macro_rules! serve {
        ($req:ty, |$r:ident| $call:expr) => {{
            let $r = <$req>::decode(&mut body, v)?;
            let response = $call;
            Some(encode_response(api, id, v, &response))
        }};
    }
    let out = match api {
        ApiKey::ApiVersions => serve!(ApiVersionsRequest, |_r| metadata::api_versions(
            broker,
            errors::NONE
        )),
        ApiKey::Metadata => serve!(MetadataRequest, |r| metadata::metadata(broker, conn, r, v)
            .await),
        ApiKey::DescribeCluster => serve!(DescribeClusterRequest, |_r| metadata::describe_cluster(
            broker, conn
        )),
        ApiKey::Produce => {
            let r = ProduceRequest::decode(&mut body, v)?;
            let acks = r.acks;
            let response = produce::produce(broker, r, v).await;
            (acks != 0).then(|| encode_response(api, id, v, &response))
        }
        ApiKey::Fetch => serve!(FetchRequest, |r| fetch::fetch(broker, r, v).await),
        ApiKey::ListOffsets => serve!(ListOffsetsRequest, |r| fetch::list_offsets(broker, r, v)),
        ApiKey::OffsetForLeaderEpoch => serve!(OffsetForLeaderEpochRequest, |r| {
            fetch::offsets_for_leader_epoch(broker, r)
        }),
        ApiKey::InitProducerId => serve!(InitProducerIdRequest, |r| produce::init_producer_id(
            broker, r
        )
        .await),
        ApiKey::FindCoordinator => serve!(FindCoordinatorRequest, |r| group::find_coordinator(
            broker, conn, r, v
        )),
        ApiKey::JoinGroup => serve!(JoinGroupRequest, |r| group::join(
            broker,
            r,
            v,
            header.client_id.as_deref().unwrap_or("consumer")
        )
        .await),
        ApiKey::SyncGroup => serve!(SyncGroupRequest, |r| group::sync(broker, r).await),
        ApiKey::Heartbeat => serve!(HeartbeatRequest, |r| group::heartbeat(broker, r)),
        ApiKey::LeaveGroup => serve!(LeaveGroupRequest, |r| group::leave(broker, r, v)),
        ApiKey::ListGroups => serve!(ListGroupsRequest, |_r| group::list(broker)),
        ApiKey::OffsetCommit => serve!(OffsetCommitRequest, |r| group::offset_commit(broker, r)
            .await),
        ApiKey::OffsetFetch => serve!(OffsetFetchRequest, |r| group::offset_fetch(broker, r, v)
            .await),
        ApiKey::CreateTopics => serve!(CreateTopicsRequest, |r| admin::create_topics(broker, r, v)
            .await),
        ApiKey::DescribeConfigs => serve!(DescribeConfigsRequest, |r| admin::describe_configs(
            broker, r, v
        )
        .await),
        other => anyhow::bail!("API {other:?} is not served by the lab broker"),
    };
    Ok(out)
}

/// Frames a response body with its header.
pub fn encode_response<R: Encodable + HeaderVersion>(
    api: ApiKey,
    correlation_id: i32,
    version: i16,
    response: &R,
) -> Bytes {
    let mut buf = BytesMut::new();
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = api.response_header_version(version);
    if let Err(e) = header
        .encode(&mut buf, header_version)
        .and_then(|_| response.encode(&mut buf, version))
    {
        tracing::error!(target: "kafka.network.RequestChannel", "Encoding {api:?} v{version} response failed: {e}.");
    }
    buf.freeze()
}

/// A Kafka string.
pub fn s(text: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(text.into())
}
