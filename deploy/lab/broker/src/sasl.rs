//! SASL/PLAIN on SASL_PLAINTEXT listeners, as Kafka's `SaslServerAuthenticator` does it: a new
//! connection may send ApiVersions, then must send SaslHandshake (v0: raw SASL tokens follow;
//! v1: tokens wrapped in SaslAuthenticate v0–v2). Any other request before authentication closes
//! the connection; a wrong password gets SASL_AUTHENTICATION_FAILED with Kafka's message and the
//! connection is closed. The client side ([`client_login`]) is what the replica fetcher uses on a
//! SASL inter-broker listener. Passwords never reach a log line or an error message.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use crate::api::{encode_response, errors};
use crate::jaas::{Password, PlainCredentials};

/// The only mechanism the lab serves.
pub const PLAIN: &str = "PLAIN";

/// Kafka's message when the user is unknown or the password is wrong.
pub const INVALID_CREDENTIALS: &str = "Authentication failed: Invalid username or password";

/// Where a connection on a SASL listener is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for ApiVersions or SaslHandshake.
    Handshake,
    /// After SaslHandshake v0: the next frame is a raw PLAIN token.
    RawToken,
    /// After SaslHandshake v1: the next request is SaslAuthenticate.
    Authenticate,
    /// Authenticated as `User:<name>`.
    Done(String),
}

/// What the connection does with a frame received before authentication completed.
#[derive(Debug)]
pub enum Step {
    /// Hand the frame to the normal request handler (ApiVersions).
    Serve(BytesMut),
    /// Send this frame body and keep reading.
    Reply(Bytes),
    /// Authenticated: send this frame body; the principal is `User:<name>`.
    Authenticated(Bytes, String),
    /// Authentication failed: send this frame body (if any), then close.
    Fail(Option<Bytes>, String),
    /// Close without answering (what Kafka does for a request out of the SASL sequence).
    Close(String),
}

/// The server side of one connection's SASL exchange.
#[derive(Debug)]
pub struct Authenticator {
    creds: PlainCredentials,
    state: State,
}

impl Authenticator {
    /// A new exchange against `creds` (the listener's JAAS section).
    pub fn new(creds: PlainCredentials) -> Self {
        Self {
            creds,
            state: State::Handshake,
        }
    }

    /// The authenticated principal (`User:<name>`), once authentication succeeded.
    pub fn principal(&self) -> Option<String> {
        match &self.state {
            State::Done(user) => Some(format!("User:{user}")),
            _ => None,
        }
    }

    /// Processes one frame received before authentication completed.
    pub fn on_frame(&mut self, frame: BytesMut) -> Step {
        if self.state == State::RawToken {
            return match verify_plain(&self.creds, &frame) {
                Ok(user) => {
                    self.state = State::Done(user.clone());
                    Step::Authenticated(Bytes::new(), user)
                }
                Err(reason) => Step::Fail(None, reason),
            };
        }
        if frame.len() < 4 {
            return Step::Close("request shorter than a header".into());
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let api = ApiKey::try_from(key).ok();
        match (&self.state, api) {
            (State::Handshake, Some(ApiKey::ApiVersions)) => Step::Serve(frame),
            (State::Handshake, Some(ApiKey::SaslHandshake)) if (0..=1).contains(&version) => {
                self.handshake(frame, version)
            }
            (State::Authenticate, Some(ApiKey::SaslAuthenticate)) if (0..=2).contains(&version) => {
                self.authenticate(frame, version)
            }
            (_, api) => Step::Close(format!(
                "Unexpected Kafka request of type {} (version {version}) during SASL handshake.",
                api.map_or_else(|| format!("key {key}"), |a| format!("{a:?}"))
            )),
        }
    }

    fn handshake(&mut self, mut frame: BytesMut, version: i16) -> Step {
        let Some((header, mut body)) = decode_header(&mut frame, ApiKey::SaslHandshake, version)
        else {
            return Step::Close("invalid SaslHandshake request header".into());
        };
        let Ok(request) = SaslHandshakeRequest::decode(&mut body, version) else {
            return Step::Close("invalid SaslHandshake request".into());
        };
        let mechanism = request.mechanism.to_string();
        let ok = mechanism == PLAIN;
        let response = SaslHandshakeResponse::default()
            .with_error_code(if ok {
                errors::NONE
            } else {
                errors::UNSUPPORTED_SASL_MECHANISM
            })
            .with_mechanisms(vec![StrBytes::from_static_str(PLAIN)]);
        let reply = encode_response(
            ApiKey::SaslHandshake,
            header.correlation_id,
            version,
            &response,
        );
        if !ok {
            return Step::Fail(
                Some(reply),
                format!("Unsupported SASL mechanism {mechanism} (enabled: {PLAIN})"),
            );
        }
        self.state = if version == 0 {
            State::RawToken
        } else {
            State::Authenticate
        };
        Step::Reply(reply)
    }

    fn authenticate(&mut self, mut frame: BytesMut, version: i16) -> Step {
        let Some((header, mut body)) = decode_header(&mut frame, ApiKey::SaslAuthenticate, version)
        else {
            return Step::Close("invalid SaslAuthenticate request header".into());
        };
        let Ok(request) = SaslAuthenticateRequest::decode(&mut body, version) else {
            return Step::Close("invalid SaslAuthenticate request".into());
        };
        let outcome = verify_plain(&self.creds, &request.auth_bytes);
        let response = match &outcome {
            Ok(_) => SaslAuthenticateResponse::default(),
            Err(reason) => SaslAuthenticateResponse::default()
                .with_error_code(errors::SASL_AUTHENTICATION_FAILED)
                .with_error_message(Some(StrBytes::from_string(reason.clone()))),
        };
        let reply = encode_response(
            ApiKey::SaslAuthenticate,
            header.correlation_id,
            version,
            &response,
        );
        match outcome {
            Ok(user) => {
                self.state = State::Done(user.clone());
                Step::Authenticated(reply, user)
            }
            Err(reason) => Step::Fail(Some(reply), reason),
        }
    }
}

fn decode_header(
    frame: &mut BytesMut,
    api: ApiKey,
    version: i16,
) -> Option<(RequestHeader, Bytes)> {
    let header = RequestHeader::decode(frame, api.request_header_version(version)).ok()?;
    Some((header, frame.split().freeze()))
}

/// Checks a SASL/PLAIN token (`authzid NUL authcid NUL password`, RFC 4616) against the
/// listener's users, with the messages of Kafka's `PlainSaslServer`. Returns the user name.
pub fn verify_plain(creds: &PlainCredentials, token: &[u8]) -> Result<String, String> {
    let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
    let [authzid, user, password] = parts.as_slice() else {
        // Kafka answers a malformed token with the generic failure of its authenticator.
        return Err(format!(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism {PLAIN}"
        ));
    };
    let user = String::from_utf8_lossy(user).to_string();
    if user.is_empty() {
        return Err("Authentication failed: username not specified".into());
    }
    if password.is_empty() {
        return Err("Authentication failed: password not specified".into());
    }
    if !authzid.is_empty() && *authzid != user.as_bytes() {
        return Err(
            "Authentication failed: Client requested an authorization id that is different from username"
                .into(),
        );
    }
    match creds.users.get(&user) {
        Some(expected) if expected.matches(password) => Ok(user),
        _ => Err(INVALID_CREDENTIALS.into()),
    }
}

/// The PLAIN token a client sends for `user` / `password`.
pub fn plain_token(user: &str, password: &Password) -> Bytes {
    let mut token = Vec::with_capacity(user.len() + password.expose().len() + 2);
    token.push(0);
    token.extend_from_slice(user.as_bytes());
    token.push(0);
    token.extend_from_slice(password.expose().as_bytes());
    Bytes::from(token)
}

/// Client side, on an open connection: SaslHandshake v1 + SaslAuthenticate v1 with PLAIN.
pub async fn client_login(
    conn: &mut crate::codec::BrokerConn,
    user: &str,
    password: &Password,
) -> Result<(), crate::codec::CallError> {
    use crate::codec::CallError;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(PLAIN));
    let response = conn.call(&handshake, 1).await?;
    if response.error_code != errors::NONE {
        return Err(CallError::Protocol(format!(
            "SaslHandshake refused mechanism {PLAIN} (error {}, enabled: {:?})",
            response.error_code, response.mechanisms
        )));
    }
    let auth = SaslAuthenticateRequest::default().with_auth_bytes(plain_token(user, password));
    let response = conn.call(&auth, 1).await?;
    if response.error_code != errors::NONE {
        return Err(CallError::Protocol(format!(
            "SASL authentication as User:{user} failed: {}",
            response.error_message.as_deref().unwrap_or("no message")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::BufMut;
    use kafka_protocol::protocol::{Encodable, HeaderVersion};

    use super::*;

    fn creds() -> PlainCredentials {
        PlainCredentials {
            users: BTreeMap::from([
                ("admin".to_string(), Password::new("admin-secret")),
                ("kroll".to_string(), Password::new("kroll-secret")),
            ]),
            client: None,
            section: "KafkaServer".into(),
        }
    }

    fn request<R: Encodable + HeaderVersion>(key: ApiKey, version: i16, body: &R) -> BytesMut {
        let mut buf = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .encode(&mut buf, key.request_header_version(version))
            .expect("header");
        body.encode(&mut buf, version).expect("body");
        buf
    }

    fn handshake(version: i16, mechanism: &'static str) -> BytesMut {
        request(
            ApiKey::SaslHandshake,
            version,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
        )
    }

    fn authenticate(version: i16, user: &str, password: &str) -> BytesMut {
        request(
            ApiKey::SaslAuthenticate,
            version,
            &SaslAuthenticateRequest::default()
                .with_auth_bytes(plain_token(user, &Password::new(password))),
        )
    }

    fn decode_auth(mut reply: Bytes, version: i16) -> SaslAuthenticateResponse {
        let _ = kafka_protocol::messages::ResponseHeader::decode(
            &mut reply,
            ApiKey::SaslAuthenticate.response_header_version(version),
        )
        .expect("header");
        SaslAuthenticateResponse::decode(&mut reply, version).expect("response")
    }

    #[test]
    fn plain_tokens_are_checked_with_kafkas_messages() {
        let c = creds();
        let cases: &[(&[u8], Result<&str, &str>)] = &[
            (b"\0kroll\0kroll-secret", Ok("kroll")),
            (b"kroll\0kroll\0kroll-secret", Ok("kroll")),
            (b"\0kroll\0wrong", Err(INVALID_CREDENTIALS)),
            (b"\0nobody\0kroll-secret", Err(INVALID_CREDENTIALS)),
            (b"\0kroll\0kroll-secret-and-more", Err(INVALID_CREDENTIALS)),
            (
                b"\0\0x",
                Err("Authentication failed: username not specified"),
            ),
            (
                b"\0kroll\0",
                Err("Authentication failed: password not specified"),
            ),
            (
                b"admin\0kroll\0kroll-secret",
                Err(
                    "Authentication failed: Client requested an authorization id that is different from username",
                ),
            ),
            (
                b"kroll-secret",
                Err(
                    "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN",
                ),
            ),
        ];
        for (token, want) in cases {
            let got = verify_plain(&c, token);
            assert_eq!(
                got.as_deref().map_err(String::as_str),
                *want,
                "{}",
                String::from_utf8_lossy(token)
            );
            if let Err(e) = got {
                assert!(!e.contains("secret"), "{e}");
            }
        }
    }

    #[test]
    fn handshake_v1_then_authenticate_gives_the_principal() {
        for auth_version in 0..=2 {
            let mut a = Authenticator::new(creds());
            assert!(matches!(a.on_frame(handshake(1, "PLAIN")), Step::Reply(_)));
            assert_eq!(a.principal(), None);
            match a.on_frame(authenticate(auth_version, "kroll", "kroll-secret")) {
                Step::Authenticated(reply, user) => {
                    assert_eq!(user, "kroll");
                    assert_eq!(decode_auth(reply, auth_version).error_code, errors::NONE);
                }
                other => panic!("v{auth_version}: {other:?}"),
            }
            assert_eq!(a.principal().as_deref(), Some("User:kroll"));
        }
    }

    #[test]
    fn a_wrong_password_fails_with_sasl_authentication_failed() {
        let mut a = Authenticator::new(creds());
        assert!(matches!(a.on_frame(handshake(1, "PLAIN")), Step::Reply(_)));
        match a.on_frame(authenticate(2, "kroll", "wrong")) {
            Step::Fail(Some(reply), reason) => {
                let r = decode_auth(reply, 2);
                assert_eq!(r.error_code, errors::SASL_AUTHENTICATION_FAILED);
                assert_eq!(r.error_message.as_deref(), Some(INVALID_CREDENTIALS));
                assert_eq!(reason, INVALID_CREDENTIALS);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(a.principal(), None);
    }

    #[test]
    fn handshake_v0_takes_a_raw_token() {
        let mut a = Authenticator::new(creds());
        assert!(matches!(a.on_frame(handshake(0, "PLAIN")), Step::Reply(_)));
        let token = plain_token("admin", &Password::new("admin-secret"));
        match a.on_frame(BytesMut::from(&token[..])) {
            Step::Authenticated(reply, user) => {
                assert!(reply.is_empty());
                assert_eq!(user, "admin");
            }
            other => panic!("{other:?}"),
        }
        let mut a = Authenticator::new(creds());
        a.on_frame(handshake(0, "PLAIN"));
        assert!(matches!(
            a.on_frame(BytesMut::from(&b"\0admin\0no"[..])),
            Step::Fail(None, _)
        ));
    }

    #[test]
    fn requests_out_of_the_sasl_sequence_close_the_connection() {
        let mut a = Authenticator::new(creds());
        let md = request(
            ApiKey::Metadata,
            9,
            &kafka_protocol::messages::MetadataRequest::default(),
        );
        assert!(matches!(a.on_frame(md.clone()), Step::Close(_)));
        let mut versions = BytesMut::new();
        versions.put_i16(ApiKey::ApiVersions as i16);
        versions.put_i16(3);
        assert!(matches!(a.on_frame(versions), Step::Serve(_)));
        assert!(matches!(
            a.on_frame(authenticate(1, "kroll", "kroll-secret")),
            Step::Close(_)
        ));
        let mut a = Authenticator::new(creds());
        a.on_frame(handshake(1, "PLAIN"));
        assert!(matches!(a.on_frame(md), Step::Close(_)));
        let mut a = Authenticator::new(creds());
        match a.on_frame(handshake(1, "SCRAM-SHA-512")) {
            Step::Fail(Some(_), reason) => assert!(reason.contains("SCRAM-SHA-512"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
