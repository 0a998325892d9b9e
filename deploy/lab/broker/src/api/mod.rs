//! Request dispatch: decodes a frame, checks the version against the broker's software
//! version, calls the API family's handler and encodes the response.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};

use crate::acl::Operation;
use crate::broker::Broker;
use crate::version::keys;

pub mod admin;
pub mod authz;
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
    /// Peer IP address (the `host` of ACLs).
    pub host: String,
    /// Who the connection is: `User:ANONYMOUS` on PLAINTEXT listeners, `User:<name>` after SASL.
    pub principal: String,
}

/// The principal of a connection on a PLAINTEXT listener (Kafka's `KafkaPrincipal.ANONYMOUS`).
pub const ANONYMOUS: &str = "User:ANONYMOUS";

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
        ApiKey::DescribeCluster => serve!(DescribeClusterRequest, |_r| {
            if authz::cluster(broker, conn, Operation::Describe) {
                metadata::describe_cluster(broker, conn)
            } else {
                DescribeClusterResponse::default()
                    .with_error_code(errors::CLUSTER_AUTHORIZATION_FAILED)
                    .with_error_message(Some(s("Cluster authorization failed.")))
            }
        }),
        ApiKey::Produce => {
            let r = ProduceRequest::decode(&mut body, v)?;
            let acks = r.acks;
            let (r, denied) = authz::produce(broker, conn, r);
            let mut response = produce::produce(broker, r, v).await;
            response.responses.extend(denied);
            (acks != 0).then(|| encode_response(api, id, v, &response))
        }
        ApiKey::Fetch => serve!(FetchRequest, |r| match authz::fetch(broker, conn, r, v) {
            Err(refused) => refused,
            Ok((r, denied)) => {
                let mut response = fetch::fetch(broker, r, v).await;
                response.responses.extend(denied);
                response
            }
        }),
        ApiKey::ListOffsets => serve!(ListOffsetsRequest, |r| {
            let (r, denied) = authz::list_offsets(broker, conn, r);
            let mut response = fetch::list_offsets(broker, r, v);
            response.topics.extend(denied);
            response
        }),
        ApiKey::OffsetForLeaderEpoch => serve!(OffsetForLeaderEpochRequest, |r| {
            fetch::offsets_for_leader_epoch(broker, r)
        }),
        ApiKey::InitProducerId => serve!(InitProducerIdRequest, |r| {
            if r.transactional_id.is_none() && !authz::idempotent_write(broker, conn) {
                InitProducerIdResponse::default()
                    .with_error_code(errors::CLUSTER_AUTHORIZATION_FAILED)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
            } else {
                produce::init_producer_id(broker, r).await
            }
        }),
        ApiKey::FindCoordinator => serve!(FindCoordinatorRequest, |r| group::find_coordinator(
            broker, conn, r, v
        )),
        ApiKey::JoinGroup => serve!(JoinGroupRequest, |r| {
            if authz::group(broker, conn, Operation::Read, &r.group_id.0) {
                group::join(
                    broker,
                    r,
                    v,
                    header.client_id.as_deref().unwrap_or("consumer"),
                )
                .await
            } else {
                JoinGroupResponse::default().with_error_code(errors::GROUP_AUTHORIZATION_FAILED)
            }
        }),
        ApiKey::SyncGroup => serve!(SyncGroupRequest, |r| {
            if authz::group(broker, conn, Operation::Read, &r.group_id.0) {
                group::sync(broker, r).await
            } else {
                SyncGroupResponse::default().with_error_code(errors::GROUP_AUTHORIZATION_FAILED)
            }
        }),
        ApiKey::Heartbeat => serve!(HeartbeatRequest, |r| {
            if authz::group(broker, conn, Operation::Read, &r.group_id.0) {
                group::heartbeat(broker, r)
            } else {
                HeartbeatResponse::default().with_error_code(errors::GROUP_AUTHORIZATION_FAILED)
            }
        }),
        ApiKey::LeaveGroup => serve!(LeaveGroupRequest, |r| {
            if authz::group(broker, conn, Operation::Read, &r.group_id.0) {
                group::leave(broker, r, v)
            } else {
                LeaveGroupResponse::default().with_error_code(errors::GROUP_AUTHORIZATION_FAILED)
            }
        }),
        ApiKey::ListGroups => serve!(ListGroupsRequest, |_r| group::list(broker)),
        ApiKey::OffsetCommit => serve!(OffsetCommitRequest, |r| {
            if authz::group(broker, conn, Operation::Read, &r.group_id.0) {
                let (r, denied) = authz::offset_commit_topics(broker, conn, r);
                let mut response = group::offset_commit(broker, r).await;
                response.topics.extend(denied);
                response
            } else {
                authz::offset_commit_group_denied(r)
            }
        }),
        ApiKey::OffsetFetch => serve!(OffsetFetchRequest, |r| {
            let groups: Vec<String> = if v >= 8 {
                r.groups.iter().map(|g| g.group_id.0.to_string()).collect()
            } else {
                vec![r.group_id.0.to_string()]
            };
            let mut response = group::offset_fetch(broker, r, v).await;
            authz::offset_fetch_filter(broker, conn, &groups, &mut response, v);
            response
        }),
        ApiKey::CreateTopics => serve!(CreateTopicsRequest, |r| {
            let (r, denied) = authz::create_topics(broker, conn, r);
            let mut response = admin::create_topics(broker, r, v).await;
            response.topics.extend(denied);
            response
        }),
        ApiKey::DescribeConfigs => serve!(DescribeConfigsRequest, |r| {
            let mut response = admin::describe_configs(broker, r, v).await;
            for result in &mut response.results {
                if let Some(code) = authz::describe_configs_denied(
                    broker,
                    conn,
                    result.resource_type,
                    &result.resource_name,
                ) {
                    result.error_code = code;
                    result.error_message = None;
                    result.configs.clear();
                }
            }
            response
        }),
        // Kafka answers these on an authenticated or PLAINTEXT connection with ILLEGAL_SASL_STATE
        // (re-authentication, KIP-368, is not served by the lab).
        ApiKey::SaslHandshake => {
            serve!(SaslHandshakeRequest, |_r| SaslHandshakeResponse::default()
                .with_error_code(errors::ILLEGAL_SASL_STATE))
        }
        ApiKey::SaslAuthenticate => serve!(SaslAuthenticateRequest, |_r| {
            SaslAuthenticateResponse::default()
                .with_error_code(errors::ILLEGAL_SASL_STATE)
                .with_error_message(Some(s(
                    "Unexpected SaslAuthenticate request with authentication already complete or not on a SASL listener",
                )))
        }),
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
