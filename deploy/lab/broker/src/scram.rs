//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side as Kafka's
//! `ScramSaslServer` runs it, and the credentials as Kafka keeps them in ZooKeeper.
//!
//! The exchange: client-first `n,,n=<user>,r=<client nonce>` → server-first
//! `r=<client nonce><server nonce>,s=<salt>,i=<iterations>` → client-final
//! `c=biws,r=<nonce>,p=<proof>` → server-final `v=<server signature>`. Kafka accepts only the
//! GS2 header `n,` (no channel binding), an authorization id only when it is the user, and at
//! least 4096 iterations. Any failure is a `SaslException` in Kafka, which its authenticator
//! answers with [`failure_message`].
//!
//! Credentials live at `/config/users/<user>` (under the chroot) as
//! `{"version":1,"config":{"SCRAM-SHA-256":"salt=…,stored_key=…,server_key=…,iterations=4096"}}`
//! (standard base64, Kafka's `ScramCredentialUtils`). [`ScramCredential::new`] derives them
//! from a password (what `kafka-configs --alter --add-config 'SCRAM-SHA-256=[password=…]'`
//! does); the lab's orchestration writes them with it. HMAC, PBKDF2 and digests are `ring`'s.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};

/// Kafka's minimum (and default) iteration count for both mechanisms.
pub const MIN_ITERATIONS: u32 = 4096;

/// One of the two SCRAM mechanisms Kafka serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`.
    Sha256,
    /// `SCRAM-SHA-512`.
    Sha512,
}

impl ScramMechanism {
    /// Both, in Kafka's order.
    pub const ALL: [Self; 2] = [Self::Sha256, Self::Sha512];

    /// The SASL mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha512 => &digest::SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn len(self) -> usize {
        self.digest().output_len()
    }

    fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac(), key), data)
            .as_ref()
            .to_vec()
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest(), data).as_ref().to_vec()
    }
}

/// What the server keeps of a password (RFC 5802 §3): never the password itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys are as good as the password against this server: not shown.
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// The credential of `password` with `salt` and `iterations` (at least 1).
    pub fn new(mechanism: ScramMechanism, password: &str, salt: &[u8], iterations: u32) -> Self {
        let mut salted = vec![0u8; mechanism.len()];
        pbkdf2::derive(
            mechanism.pbkdf2(),
            NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN),
            salt,
            password.as_bytes(),
            &mut salted,
        );
        let client_key = mechanism.mac(&salted, b"Client Key");
        Self {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.mac(&salted, b"Server Key"),
            iterations,
        }
    }

    /// Kafka's text form: `salt=…,stored_key=…,server_key=…,iterations=N`.
    pub fn to_config_value(&self) -> String {
        format!(
            "salt={},stored_key={},server_key={},iterations={}",
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key),
            self.iterations
        )
    }

    /// Parses [`ScramCredential::to_config_value`]'s form.
    pub fn from_config_value(text: &str) -> Option<Self> {
        let mut fields = BTreeMap::new();
        for part in text.split(',') {
            let (k, v) = part.split_once('=')?;
            fields.insert(k.trim(), v.trim());
        }
        let bytes = |k: &str| B64.decode(fields.get(k)?).ok();
        Some(Self {
            salt: bytes("salt")?,
            stored_key: bytes("stored_key")?,
            server_key: bytes("server_key")?,
            iterations: fields.get("iterations")?.parse().ok()?,
        })
    }
}

/// The JSON of `/config/users/<user>` holding `credentials`, as Kafka writes it.
pub fn user_config_json(credentials: &[(ScramMechanism, ScramCredential)]) -> serde_json::Value {
    let config: serde_json::Map<String, serde_json::Value> = credentials
        .iter()
        .map(|(m, c)| (m.name().to_owned(), c.to_config_value().into()))
        .collect();
    serde_json::json!({"version": 1, "config": config})
}

/// The credential for `mechanism` in a `/config/users/<user>` znode's JSON, if it has one.
pub fn credential_from_user_config(
    json: &[u8],
    mechanism: ScramMechanism,
) -> Result<Option<ScramCredential>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    match value["config"].get(mechanism.name()) {
        None => Ok(None),
        Some(text) => text
            .as_str()
            .and_then(ScramCredential::from_config_value)
            .map(Some)
            .ok_or_else(|| format!("{} is not a SCRAM credential", mechanism.name())),
    }
}

/// `/config/users/<user>`.
pub fn user_config_path(user: &str) -> String {
    format!("/config/users/{user}")
}

/// What Kafka's authenticator answers for any SCRAM failure (a `SaslException`).
pub fn failure_message(mechanism: ScramMechanism) -> String {
    format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
        mechanism.name()
    )
}

/// The parts of a client-first message the server keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The GS2 header (`n,,` or `n,a=<user>,`): what `c=` in the client-final must encode.
    pub gs2_header: String,
    /// The user, `=2C` / `=3D` decoded.
    pub user: String,
    /// The client's nonce.
    pub nonce: String,
    /// `client-first-message-bare`, part of the AuthMessage.
    pub bare: String,
}

impl ClientFirst {
    /// Parses `n,[a=<authzid>],n=<saslname>,r=<nonce>[,extensions]`, Kafka's grammar.
    pub fn parse(message: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(message).map_err(|_| "client-first is not UTF-8")?;
        let rest = text
            .strip_prefix("n,")
            .ok_or("client-first: only GS2 flag `n` (no channel binding) is accepted")?;
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or("client-first: no GS2 header end")?;
        let mut parts = bare.split(',');
        let user = parts
            .next()
            .and_then(|p| p.strip_prefix("n="))
            .ok_or("client-first: no n=")?;
        let nonce = parts
            .next()
            .and_then(|p| p.strip_prefix("r="))
            .ok_or("client-first: no r=")?;
        let user = sasl_name_decode(user)?;
        if nonce.is_empty()
            || !nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return Err("client-first: invalid nonce".into());
        }
        if !authzid.is_empty()
            && authzid.strip_prefix("a=").map(sasl_name_decode) != Some(Ok(user.clone()))
        {
            return Err("Authentication failed: Client requested an authorization id that is different from username".into());
        }
        Ok(Self {
            gs2_header: format!("n,{authzid},"),
            user,
            nonce: nonce.to_owned(),
            bare: bare.to_owned(),
        })
    }
}

fn sasl_name_decode(name: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("=2C") {
            out.push(',');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("=3D") {
            out.push('=');
            rest = t;
        } else {
            return Err("client-first: invalid user name encoding".into());
        }
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err("client-first: empty user name".into());
    }
    Ok(out)
}

/// The server's state between its first and final message.
#[derive(Clone)]
pub struct ServerFirst {
    mechanism: ScramMechanism,
    client: ClientFirst,
    credential: ScramCredential,
    nonce: String,
    message: String,
}

impl fmt::Debug for ServerFirst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFirst")
            .field("mechanism", &self.mechanism)
            .field("user", &self.client.user)
            .finish_non_exhaustive()
    }
}

impl ServerFirst {
    /// Answers `client` (whose stored `credential` was found) with `server_nonce` appended to
    /// its nonce. Refuses fewer than [`MIN_ITERATIONS`].
    pub fn new(
        mechanism: ScramMechanism,
        client: ClientFirst,
        credential: ScramCredential,
        server_nonce: &str,
    ) -> Result<Self, String> {
        if credential.iterations < MIN_ITERATIONS {
            return Err(format!(
                "Iterations {} is less than the minimum {MIN_ITERATIONS} for {}",
                credential.iterations,
                mechanism.name()
            ));
        }
        let nonce = format!("{}{server_nonce}", client.nonce);
        let message = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        Ok(Self {
            mechanism,
            client,
            credential,
            nonce,
            message,
        })
    }

    /// The server-first message.
    pub fn message(&self) -> &[u8] {
        self.message.as_bytes()
    }

    /// The user of this exchange.
    pub fn user(&self) -> &str {
        &self.client.user
    }

    /// Checks the client-final `c=<gs2>,r=<nonce>[,ext],p=<proof>`; the server-final
    /// `v=<signature>` when the proof is right.
    pub fn verify_final(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let text = std::str::from_utf8(message).map_err(|_| "client-final is not UTF-8")?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or("client-final: no p=")?;
        let mut parts = without_proof.split(',');
        let channel = parts
            .next()
            .and_then(|p| p.strip_prefix("c="))
            .ok_or("client-final: no c=")?;
        let nonce = parts
            .next()
            .and_then(|p| p.strip_prefix("r="))
            .ok_or("client-final: no r=")?;
        if B64.decode(channel).ok().as_deref() != Some(self.client.gs2_header.as_bytes()) {
            return Err("client-final: channel binding does not match the GS2 header".into());
        }
        // Kafka 3.8.1+ (CVE-2024-56128) requires the nonce to end with the server's: librdkafka
        // before 2.6.1 (Debian's kcat) sends its own nonce once more in front; Kafka 3.1–3.8.0
        // did not check it at all, Kafka 4 wants it exact.
        if !nonce.ends_with(&self.nonce) {
            // Nonces are no secret: the log says which one came back.
            return Err(format!(
                "Invalid client nonce in the final client message (sent {}, got {nonce}; client-final without proof {without_proof:?}).",
                self.nonce
            ));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| "client-final: proof is not base64")?;
        let m = self.mechanism;
        let auth_message = format!("{},{},{without_proof}", self.client.bare, self.message);
        let signature = m.mac(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err("Invalid client credentials".into());
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        if !same(&m.hash(&client_key), &self.credential.stored_key) {
            return Err("Invalid client credentials".into());
        }
        let server_signature = m.mac(&self.credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

/// The client's side of the final round (RFC 5802 §3): the client-final message for
/// `password`, given the client-first-bare it sent and the server-first it got.
pub fn client_final(
    mechanism: ScramMechanism,
    password: &str,
    client_first_bare: &str,
    server_first: &str,
) -> Result<String, String> {
    let field = |k: &str| {
        server_first
            .split(',')
            .find_map(|p| p.strip_prefix(k))
            .ok_or_else(|| format!("server-first has no {k}"))
    };
    let nonce = field("r=")?;
    let salt = B64.decode(field("s=")?).map_err(|e| e.to_string())?;
    let iterations: u32 = field("i=")?.parse().map_err(|_| "bad i=".to_owned())?;
    let mut salted = vec![0u8; mechanism.len()];
    pbkdf2::derive(
        mechanism.pbkdf2(),
        NonZeroU32::new(iterations).ok_or("i=0")?,
        &salt,
        password.as_bytes(),
        &mut salted,
    );
    let client_key = mechanism.mac(&salted, b"Client Key");
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = mechanism.mac(&mechanism.hash(&client_key), auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    Ok(format!("{without_proof},p={}", B64.encode(proof)))
}

/// Compares every byte, whatever differs first.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A server nonce: 26 random base-36 digits, what Kafka's `secureRandomString` gives
/// (`BigInteger(130, random).toString(36)`).
pub fn server_nonce() -> Result<String, String> {
    use ring::rand::SecureRandom as _;
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 26];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random generator failed".to_owned())?;
    Ok(bytes
        .iter()
        .map(|b| char::from(DIGITS[usize::from(*b) % DIGITS.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 §3, the SCRAM-SHA-256 example: user "user", password "pencil".
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_credential(password: &str) -> ScramCredential {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        ScramCredential::new(ScramMechanism::Sha256, password, &salt, 4096)
    }

    fn rfc_server(password: &str) -> ServerFirst {
        let client = ClientFirst::parse(CLIENT_FIRST.as_bytes()).expect("client-first");
        assert_eq!(client.user, "user");
        ServerFirst::new(
            ScramMechanism::Sha256,
            client,
            rfc_credential(password),
            SERVER_NONCE,
        )
        .expect("server-first")
    }

    #[test]
    fn rfc_7677_scram_sha_256_exchange() {
        let server = rfc_server("pencil");
        assert_eq!(server.message(), SERVER_FIRST.as_bytes());
        let last = server
            .verify_final(CLIENT_FINAL.as_bytes())
            .expect("the RFC's proof");
        assert_eq!(String::from_utf8(last).expect("utf-8"), SERVER_FINAL);
    }

    #[test]
    fn a_wrong_password_or_a_changed_message_is_refused() {
        assert_eq!(
            rfc_server("pencil2").verify_final(CLIENT_FINAL.as_bytes()),
            Err("Invalid client credentials".into())
        );
        let server = rfc_server("pencil");
        let other_nonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
        assert!(server.verify_final(other_nonce.as_bytes()).is_err());
        let client_nonce_only = CLIENT_FINAL.replace("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "");
        assert!(server.verify_final(client_nonce_only.as_bytes()).is_err());
        let other_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        assert!(server.verify_final(other_binding.as_bytes()).is_err());
        let flipped = CLIENT_FINAL.replace("p=dHz", "p=dHy");
        assert!(server.verify_final(flipped.as_bytes()).is_err());
    }

    #[test]
    fn credentials_round_trip_kafkas_znode_format() {
        let c = rfc_credential("pencil");
        let text = c.to_config_value();
        assert!(
            text.starts_with("salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=")
                && text.ends_with(",iterations=4096"),
            "{text}"
        );
        assert_eq!(ScramCredential::from_config_value(&text), Some(c.clone()));
        let json = user_config_json(&[(ScramMechanism::Sha256, c.clone())]);
        let bytes = serde_json::to_vec(&json).expect("json");
        assert_eq!(json["version"], 1);
        assert_eq!(
            credential_from_user_config(&bytes, ScramMechanism::Sha256),
            Ok(Some(c))
        );
        assert_eq!(
            credential_from_user_config(&bytes, ScramMechanism::Sha512),
            Ok(None)
        );
        assert!(!format!("{:?}", rfc_credential("pencil")).contains("stored"));
    }

    #[test]
    fn client_first_follows_kafkas_grammar() {
        let c = ClientFirst::parse(b"n,a=us=2Cer,n=us=2Cer,r=abc").expect("authzid = user");
        assert_eq!(
            (c.user.as_str(), c.gs2_header.as_str()),
            ("us,er", "n,a=us=2Cer,")
        );
        for bad in [
            &b"y,,n=user,r=abc"[..],
            b"p=tls-unique,,n=user,r=abc",
            b"n,,n=,r=abc",
            b"n,,n=user",
            b"n,,n=us=41er,r=abc",
        ] {
            assert!(
                ClientFirst::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            ClientFirst::parse(b"n,a=admin,n=user,r=abc"),
            Err("Authentication failed: Client requested an authorization id that is different from username".into())
        );
        let weak = ScramCredential::new(ScramMechanism::Sha512, "p", b"salt", 4095);
        let client = ClientFirst::parse(b"n,,n=user,r=abc").expect("client-first");
        assert!(ServerFirst::new(ScramMechanism::Sha512, client, weak, "x").is_err());
    }

    #[test]
    fn librdkafkas_doubled_client_nonce_is_accepted_as_kafka_3_8_1_does() {
        let m = ScramMechanism::Sha256;
        let cred = ScramCredential::new(m, "kroll-secret", b"salt", 4096);
        let client = ClientFirst::parse(b"n,,n=kroll,r=cnonce").expect("client-first");
        let server = ServerFirst::new(m, client, cred, "snonce").expect("server-first");
        let first = String::from_utf8_lossy(server.message()).into_owned();
        // What librdkafka < 2.6.1 sends: its nonce again in front, the proof over that message.
        let without_proof = "c=biws,r=cnoncecnoncesnonce";
        let salted = {
            let mut out = vec![0u8; 32];
            pbkdf2::derive(
                m.pbkdf2(),
                NonZeroU32::MIN.saturating_add(4095),
                b"salt",
                b"kroll-secret",
                &mut out,
            );
            out
        };
        let client_key = m.mac(&salted, b"Client Key");
        let auth = format!("n=kroll,r=cnonce,{first},{without_proof}");
        let signature = m.mac(&m.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let last = format!("{without_proof},p={}", B64.encode(proof));
        assert!(server.verify_final(last.as_bytes()).is_ok());
    }

    #[test]
    fn sha_512_verifies_a_proof_computed_the_clients_way() {
        let m = ScramMechanism::Sha512;
        let cred = ScramCredential::new(m, "kroll-secret", b"0123456789abcdef", 4096);
        let client = ClientFirst::parse(b"n,,n=kroll,r=clientnonce").expect("client-first");
        let server = ServerFirst::new(m, client, cred, "servernonce").expect("server-first");
        let first = String::from_utf8_lossy(server.message()).into_owned();
        let last =
            client_final(m, "kroll-secret", "n=kroll,r=clientnonce", &first).expect("client-final");
        assert!(server.verify_final(last.as_bytes()).is_ok());
        let wrong =
            client_final(m, "kroll-secreT", "n=kroll,r=clientnonce", &first).expect("client-final");
        assert_eq!(
            server.verify_final(wrong.as_bytes()),
            Err("Invalid client credentials".into())
        );
        // The RFC's client side too.
        let rfc = client_final(
            ScramMechanism::Sha256,
            "pencil",
            "n=user,r=rOprNGfwEbeRWgbNEkqO",
            SERVER_FIRST,
        )
        .expect("client-final");
        assert_eq!(rfc, CLIENT_FINAL);
    }
}
