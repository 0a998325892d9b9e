//! SASL on SASL_PLAINTEXT and SASL_SSL listeners, as Kafka's `SaslServerAuthenticator` does it:
//! a new connection may send ApiVersions, then must send SaslHandshake (v0: raw SASL tokens
//! follow; v1: tokens wrapped in SaslAuthenticate v0–v2). Any other request before
//! authentication closes the connection; a failed login gets SASL_AUTHENTICATION_FAILED with
//! Kafka's message and the connection is closed. Mechanisms: PLAIN against the JAAS file's
//! users, SCRAM-SHA-256 / SCRAM-SHA-512 ([`crate::scram`]) against the credentials ZooKeeper
//! holds, read at each login ([`ScramStore`]). The client side ([`client_login`], PLAIN) is what
//! the replica fetcher uses on a SASL inter-broker listener. Passwords never reach a log line or
//! an error message.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use crate::api::{encode_response, errors};
use crate::jaas::{Password, PlainCredentials};
use crate::scram::{self, ClientFirst, ScramCredential, ScramMechanism, ServerFirst};

/// The PLAIN mechanism's name.
pub const PLAIN: &str = "PLAIN";

/// Kafka's message when the user is unknown or the password is wrong.
pub const INVALID_CREDENTIALS: &str = "Authentication failed: Invalid username or password";

/// A SASL mechanism the lab serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616), users from the JAAS file.
    Plain,
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`, credentials from ZooKeeper.
    Scram(ScramMechanism),
}

impl Mechanism {
    /// The mechanism's SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => PLAIN,
            Self::Scram(m) => m.name(),
        }
    }

    /// The mechanism named `name`, if the lab serves it.
    pub fn parse(name: &str) -> Option<Self> {
        if name == PLAIN {
            return Some(Self::Plain);
        }
        ScramMechanism::parse(name).map(Self::Scram)
    }
}

/// Where SCRAM credentials come from: ZooKeeper's `/config/users/<user>` in the broker.
pub trait ScramStore {
    /// `user`'s credential for `mechanism`; `None` when it has none.
    fn credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> impl Future<Output = Result<Option<ScramCredential>, String>> + Send;
}

impl ScramStore for crate::zk::Zk {
    async fn credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<Option<ScramCredential>, String> {
        let path = scram::user_config_path(user);
        match self.get_raw(&path).await {
            Ok(None) => Ok(None),
            Ok(Some((data, _))) => scram::credential_from_user_config(&data, mechanism)
                .map_err(|e| format!("znode {path}: {e}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Where a connection on a SASL listener is.
#[derive(Debug, Clone)]
enum State {
    /// Waiting for ApiVersions or SaslHandshake.
    Handshake,
    /// After SaslHandshake: tokens of `mechanism` follow, raw (v0) or in SaslAuthenticate (v1);
    /// a SCRAM exchange keeps its server-first between its two rounds.
    Token {
        raw: bool,
        mechanism: Mechanism,
        scram: Option<Box<ServerFirst>>,
    },
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

/// The outcome of one SASL token.
enum Exchange {
    /// Send this token, wait for the next.
    Continue(Bytes),
    /// Authenticated as the user; send this last token.
    Done(Bytes, String),
    /// Refused: `message` to the client, `reason` to the log.
    Fail { reason: String, message: String },
}

/// The server side of one connection's SASL exchange.
#[derive(Debug)]
pub struct Authenticator {
    creds: PlainCredentials,
    mechanisms: Vec<Mechanism>,
    chosen: Option<Mechanism>,
    state: State,
}

impl Authenticator {
    /// A new exchange offering `mechanisms`; PLAIN logins are checked against `creds` (the
    /// listener's JAAS section).
    pub fn new(creds: PlainCredentials, mechanisms: Vec<Mechanism>) -> Self {
        Self {
            creds,
            mechanisms,
            chosen: None,
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

    /// The mechanism the client chose, once it sent SaslHandshake.
    pub fn mechanism(&self) -> Option<&'static str> {
        self.chosen.map(Mechanism::name)
    }

    /// Processes one frame received before authentication completed; SCRAM credentials are
    /// read from `store`.
    pub async fn on_frame(&mut self, frame: BytesMut, store: &impl ScramStore) -> Step {
        if let State::Token { raw: true, .. } = self.state {
            return match self.exchange(&frame, store).await {
                Exchange::Continue(token) => Step::Reply(token),
                Exchange::Done(token, user) => Step::Authenticated(token, user),
                Exchange::Fail { reason, .. } => Step::Fail(None, reason),
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
            (State::Token { raw: false, .. }, Some(ApiKey::SaslAuthenticate))
                if (0..=2).contains(&version) =>
            {
                self.authenticate(frame, version, store).await
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
        let name = request.mechanism.to_string();
        let chosen = Mechanism::parse(&name).filter(|m| self.mechanisms.contains(m));
        let enabled: Vec<&'static str> = self.mechanisms.iter().map(|m| m.name()).collect();
        let response = SaslHandshakeResponse::default()
            .with_error_code(if chosen.is_some() {
                errors::NONE
            } else {
                errors::UNSUPPORTED_SASL_MECHANISM
            })
            .with_mechanisms(
                enabled
                    .iter()
                    .map(|m| StrBytes::from_static_str(m))
                    .collect(),
            );
        let reply = encode_response(
            ApiKey::SaslHandshake,
            header.correlation_id,
            version,
            &response,
        );
        let Some(mechanism) = chosen else {
            return Step::Fail(
                Some(reply),
                format!(
                    "Unsupported SASL mechanism {name} (enabled: {})",
                    enabled.join(", ")
                ),
            );
        };
        self.chosen = Some(mechanism);
        self.state = State::Token {
            raw: version == 0,
            mechanism,
            scram: None,
        };
        Step::Reply(reply)
    }

    async fn authenticate(
        &mut self,
        mut frame: BytesMut,
        version: i16,
        store: &impl ScramStore,
    ) -> Step {
        let Some((header, mut body)) = decode_header(&mut frame, ApiKey::SaslAuthenticate, version)
        else {
            return Step::Close("invalid SaslAuthenticate request header".into());
        };
        let Ok(request) = SaslAuthenticateRequest::decode(&mut body, version) else {
            return Step::Close("invalid SaslAuthenticate request".into());
        };
        let outcome = self.exchange(&request.auth_bytes, store).await;
        let response = match &outcome {
            Exchange::Continue(token) | Exchange::Done(token, _) => {
                SaslAuthenticateResponse::default().with_auth_bytes(token.clone())
            }
            Exchange::Fail { message, .. } => SaslAuthenticateResponse::default()
                .with_error_code(errors::SASL_AUTHENTICATION_FAILED)
                .with_error_message(Some(StrBytes::from_string(message.clone()))),
        };
        let reply = encode_response(
            ApiKey::SaslAuthenticate,
            header.correlation_id,
            version,
            &response,
        );
        match outcome {
            Exchange::Continue(_) => Step::Reply(reply),
            Exchange::Done(_, user) => Step::Authenticated(reply, user),
            Exchange::Fail { reason, .. } => Step::Fail(Some(reply), reason),
        }
    }

    /// One token of the chosen mechanism; on success the state becomes `Done`.
    async fn exchange(&mut self, token: &[u8], store: &impl ScramStore) -> Exchange {
        let State::Token {
            mechanism, scram, ..
        } = &mut self.state
        else {
            let reason = "a SASL token outside the exchange".to_owned();
            return Exchange::Fail {
                message: reason.clone(),
                reason,
            };
        };
        let outcome = match (*mechanism, scram.take()) {
            (Mechanism::Plain, _) => match verify_plain(&self.creds, token) {
                Ok(user) => Exchange::Done(Bytes::new(), user),
                Err(reason) => Exchange::Fail {
                    message: reason.clone(),
                    reason,
                },
            },
            (Mechanism::Scram(m), None) => match scram_first(m, token, store).await {
                Ok(first) => {
                    let reply = Bytes::copy_from_slice(first.message());
                    *scram = Some(Box::new(first));
                    Exchange::Continue(reply)
                }
                Err(reason) => scram_failure(m, reason),
            },
            (Mechanism::Scram(m), Some(first)) => match first.verify_final(token) {
                Ok(last) => Exchange::Done(Bytes::from(last), first.user().to_owned()),
                Err(reason) => scram_failure(m, reason),
            },
        };
        if let Exchange::Done(_, user) = &outcome {
            self.state = State::Done(user.clone());
        }
        outcome
    }
}

/// The server-first answer to a SCRAM client-first, with the user's stored credential.
async fn scram_first(
    m: ScramMechanism,
    token: &[u8],
    store: &impl ScramStore,
) -> Result<ServerFirst, String> {
    let client = ClientFirst::parse(token)?;
    let credential = store
        .credential(&client.user, m)
        .await
        .map_err(|e| format!("Authentication failed: Credentials could not be obtained ({e})"))?
        .ok_or("Authentication failed: Invalid user credentials")?;
    ServerFirst::new(m, client, credential, &scram::server_nonce()?)
}

/// Kafka answers a SCRAM `SaslException` with its generic message; only the authorization-id
/// refusal (a `SaslAuthenticationException`) reaches the client as it is.
fn scram_failure(m: ScramMechanism, reason: String) -> Exchange {
    let message = if reason.starts_with("Authentication failed: Client requested") {
        reason.clone()
    } else {
        scram::failure_message(m)
    };
    Exchange::Fail { reason, message }
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

    /// SCRAM credentials in memory: `kroll` / `kroll-secret` for both mechanisms.
    struct Store;

    impl ScramStore for Store {
        async fn credential(
            &self,
            user: &str,
            m: ScramMechanism,
        ) -> Result<Option<ScramCredential>, String> {
            Ok((user == "kroll").then(|| ScramCredential::new(m, "kroll-secret", b"salt", 4096)))
        }
    }

    fn step(a: &mut Authenticator, frame: BytesMut) -> Step {
        futures::executor::block_on(a.on_frame(frame, &Store))
    }

    fn plain_only() -> Authenticator {
        Authenticator::new(creds(), vec![Mechanism::Plain])
    }

    fn all_mechanisms() -> Authenticator {
        let scram = ScramMechanism::ALL.map(Mechanism::Scram);
        Authenticator::new(creds(), [Mechanism::Plain, scram[0], scram[1]].to_vec())
    }

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
        token(version, plain_token(user, &Password::new(password)))
    }

    fn token(version: i16, bytes: Bytes) -> BytesMut {
        request(
            ApiKey::SaslAuthenticate,
            version,
            &SaslAuthenticateRequest::default().with_auth_bytes(bytes),
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
            let mut a = plain_only();
            assert!(matches!(
                step(&mut a, handshake(1, "PLAIN")),
                Step::Reply(_)
            ));
            assert_eq!(a.principal(), None);
            match step(&mut a, authenticate(auth_version, "kroll", "kroll-secret")) {
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
        let mut a = plain_only();
        assert!(matches!(
            step(&mut a, handshake(1, "PLAIN")),
            Step::Reply(_)
        ));
        match step(&mut a, authenticate(2, "kroll", "wrong")) {
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
        let mut a = plain_only();
        assert!(matches!(
            step(&mut a, handshake(0, "PLAIN")),
            Step::Reply(_)
        ));
        let token = plain_token("admin", &Password::new("admin-secret"));
        match step(&mut a, BytesMut::from(&token[..])) {
            Step::Authenticated(reply, user) => {
                assert!(reply.is_empty());
                assert_eq!(user, "admin");
            }
            other => panic!("{other:?}"),
        }
        let mut a = plain_only();
        step(&mut a, handshake(0, "PLAIN"));
        assert!(matches!(
            step(&mut a, BytesMut::from(&b"\0admin\0no"[..])),
            Step::Fail(None, _)
        ));
    }

    #[test]
    fn requests_out_of_the_sasl_sequence_close_the_connection() {
        let mut a = plain_only();
        let md = request(
            ApiKey::Metadata,
            9,
            &kafka_protocol::messages::MetadataRequest::default(),
        );
        assert!(matches!(step(&mut a, md.clone()), Step::Close(_)));
        let mut versions = BytesMut::new();
        versions.put_i16(ApiKey::ApiVersions as i16);
        versions.put_i16(3);
        assert!(matches!(step(&mut a, versions), Step::Serve(_)));
        assert!(matches!(
            step(&mut a, authenticate(1, "kroll", "kroll-secret")),
            Step::Close(_)
        ));
        let mut a = plain_only();
        step(&mut a, handshake(1, "PLAIN"));
        assert!(matches!(step(&mut a, md), Step::Close(_)));
        let mut a = plain_only();
        match step(&mut a, handshake(1, "SCRAM-SHA-512")) {
            Step::Fail(Some(_), reason) => assert!(reason.contains("SCRAM-SHA-512"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    /// A SCRAM login through SaslHandshake v1 + two SaslAuthenticate rounds; the last answer.
    fn scram_login(a: &mut Authenticator, m: ScramMechanism, user: &str, password: &str) -> Step {
        assert!(matches!(step(a, handshake(1, m.name())), Step::Reply(_)));
        let bare = format!("n={user},r=fyko+d2lbbFgONRv9qkxdawL");
        let first = match step(a, token(2, Bytes::from(format!("n,,{bare}")))) {
            Step::Reply(reply) => decode_auth(reply, 2),
            other => return other,
        };
        assert_eq!(first.error_code, errors::NONE);
        let server_first = String::from_utf8_lossy(&first.auth_bytes).into_owned();
        assert!(
            server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"),
            "{server_first}"
        );
        assert!(server_first.ends_with(",i=4096"), "{server_first}");
        let last = scram::client_final(m, password, &bare, &server_first).expect("client-final");
        step(a, token(2, Bytes::from(last)))
    }

    #[test]
    fn scram_logins_give_the_principal_and_the_server_signature() {
        for m in ScramMechanism::ALL {
            let mut a = all_mechanisms();
            match scram_login(&mut a, m, "kroll", "kroll-secret") {
                Step::Authenticated(reply, user) => {
                    assert_eq!(user, "kroll");
                    let last = decode_auth(reply, 2);
                    assert_eq!(last.error_code, errors::NONE);
                    assert!(last.auth_bytes.starts_with(b"v="), "{m:?}");
                }
                other => panic!("{m:?}: {other:?}"),
            }
            assert_eq!(a.principal().as_deref(), Some("User:kroll"));
        }
    }

    #[test]
    fn a_wrong_scram_password_or_user_gets_kafkas_message() {
        for (user, password, reason) in [
            ("kroll", "wrong", "Invalid client credentials"),
            (
                "nobody",
                "kroll-secret",
                "Authentication failed: Invalid user credentials",
            ),
        ] {
            let mut a = all_mechanisms();
            match scram_login(&mut a, ScramMechanism::Sha256, user, password) {
                Step::Fail(Some(reply), why) => {
                    let r = decode_auth(reply, 2);
                    assert_eq!(r.error_code, errors::SASL_AUTHENTICATION_FAILED);
                    assert_eq!(
                        r.error_message.as_deref(),
                        Some(
                            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
                        )
                    );
                    assert_eq!(why, reason);
                }
                other => panic!("{user}: {other:?}"),
            }
            assert_eq!(a.principal(), None);
        }
        // Not enabled: PLAIN only.
        let mut a = plain_only();
        match step(&mut a, handshake(1, "SCRAM-SHA-256")) {
            Step::Fail(Some(_), reason) => assert!(reason.contains("enabled: PLAIN"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
