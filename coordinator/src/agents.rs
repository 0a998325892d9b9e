//! Talking to agents: one mutual-TLS gRPC client per node, every call bounded in time, every
//! error naming the node and the address.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use kroll_proto::agent::v1 as pb;
use kroll_proto::agent::v1::agent_client::AgentClient as PbClient;
use kroll_shared::inventory::{Inventory, Node};
use kroll_shared::model::{Container, Event, NodeState};
use kroll_shared::tls::TlsMaterial;
use kroll_shared::wire::WireError;
use tonic::transport::{Channel, Endpoint};

/// Why a call to an agent failed.
#[derive(Debug, thiserror::Error)]
#[error("agent on node `{node}` ({addr}): {kind}")]
pub struct AgentCallError {
    pub node: String,
    pub addr: String,
    pub kind: CallErrorKind,
}

/// The failure itself.
#[derive(Debug, thiserror::Error)]
pub enum CallErrorKind {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The mutual-TLS handshake failed: which side refused and why.
    #[error("{0}")]
    Tls(TlsRefusal),
    #[error("{}", refused(.0))]
    Refused(tonic::Status),
    #[error(transparent)]
    Malformed(#[from] WireError),
}

impl AgentCallError {
    /// The agent refused a rollback or restore because it keeps nothing to go back to: the
    /// step never took effect on that node (its agent saved no previous definition).
    pub fn nothing_kept(&self) -> bool {
        matches!(&self.kind, CallErrorKind::Refused(s)
            if s.code() == tonic::Code::FailedPrecondition
                && (s.message().contains(kroll_shared::wire::NOTHING_KEPT)
                    || s.message().contains(kroll_shared::wire::NOTHING_SAVED)))
    }

    /// The agent refused a service action because its engine is no Swarm manager (refused
    /// before anything was done).
    pub fn not_a_manager(&self) -> bool {
        matches!(&self.kind, CallErrorKind::Refused(s)
            if s.code() == tonic::Code::FailedPrecondition
                && s.message().contains(kroll_shared::wire::NOT_A_MANAGER))
    }
}

/// An answer of the agent in words; a refusal by role or certificate says it is the agent's.
fn refused(s: &tonic::Status) -> String {
    use tonic::Code;
    match s.code() {
        Code::PermissionDenied => {
            format!("refused by the agent (permission denied): {}", s.message())
        }
        Code::Unauthenticated => format!(
            "refused by the agent (certificate not accepted as a client's): {}",
            s.message()
        ),
        code => format!("{code}: {}", s.message()),
    }
}

/// Which end of a mutual-TLS connection refused the other's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsSide {
    /// The agent refused this client's certificate (it sent a TLS alert).
    Agent,
    /// This client refused the agent's certificate.
    Client,
}

/// Why a certificate was refused, as far as TLS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsReason {
    /// Not signed by the CA the refusing side trusts.
    UnknownCa,
    /// Expired or not yet valid.
    Expired,
    /// Not for this use: a certificate of the wrong role (e.g. an agent's server certificate
    /// presented as a client's), no client-auth extended key usage.
    WrongPurpose,
    /// The agent's certificate does not name the node the inventory says it is.
    NameMismatch {
        expected: String,
        presented: Vec<String>,
    },
    /// The client presented no certificate.
    NoCertificate,
    /// Anything else, in rustls's words.
    Other(String),
}

/// A failed mutual-TLS handshake with an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRefusal {
    pub by: TlsSide,
    pub reason: TlsReason,
}

impl std::fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use TlsReason as R;
        use TlsSide as S;
        let whose = match self.by {
            S::Agent => {
                f.write_str("the agent refused this client's certificate: ")?;
                "the certificate (`[tls] cert` of the inventory, or --cert)"
            }
            S::Client => {
                f.write_str("this client refused the agent's certificate: ")?;
                "the agent's certificate"
            }
        };
        match (&self.reason, self.by) {
            (R::UnknownCa, S::Agent) => write!(
                f,
                "{whose} is not signed by the cluster CA the agent trusts (unknown CA)"
            ),
            (R::UnknownCa, S::Client) => write!(
                f,
                "{whose} is not signed by the cluster CA of `[tls] ca` (unknown CA)"
            ),
            (R::Expired, _) => write!(
                f,
                "{whose} has expired or is not valid yet; issue a new one with `kroll certs`"
            ),
            (R::WrongPurpose, _) => write!(
                f,
                "{whose} is not for this use (wrong role: a client needs a coordinator or reader certificate with the client-auth extended key usage)"
            ),
            (
                R::NameMismatch {
                    expected,
                    presented,
                },
                _,
            ) => write!(
                f,
                "{whose} is for {presented:?}, not for node `{expected}` (name mismatch: the inventory's node name must be in the agent's certificate)"
            ),
            (R::NoCertificate, _) => write!(f, "no client certificate was presented"),
            (R::Other(why), _) => write!(f, "{why}"),
        }
    }
}

impl TlsRefusal {
    /// The refusal a rustls error stands for: an alert received means the agent refused us,
    /// an invalid certificate means we refused the agent.
    pub fn from_rustls(e: &rustls::Error) -> Option<Self> {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let (by, reason) = match e {
            E::AlertReceived(alert) => (
                TlsSide::Agent,
                match alert {
                    A::UnknownCA => TlsReason::UnknownCa,
                    A::CertificateExpired => TlsReason::Expired,
                    A::UnsupportedCertificate => TlsReason::WrongPurpose,
                    A::CertificateRequired => TlsReason::NoCertificate,
                    other => TlsReason::Other(format!("TLS alert {other:?}")),
                },
            ),
            E::InvalidCertificate(c) => (
                TlsSide::Client,
                match c {
                    C::UnknownIssuer => TlsReason::UnknownCa,
                    C::Expired
                    | C::ExpiredContext { .. }
                    | C::NotValidYet
                    | C::NotValidYetContext { .. } => TlsReason::Expired,
                    C::InvalidPurpose | C::InvalidPurposeContext { .. } => TlsReason::WrongPurpose,
                    C::NotValidForNameContext {
                        expected,
                        presented,
                    } => TlsReason::NameMismatch {
                        expected: expected.to_str().into_owned(),
                        presented: presented.clone(),
                    },
                    C::NotValidForName => TlsReason::NameMismatch {
                        expected: String::new(),
                        presented: Vec::new(),
                    },
                    other => TlsReason::Other(other.to_string()),
                },
            ),
            _ => return None,
        };
        Some(Self { by, reason })
    }

    /// The refusal somewhere in `e`'s chain of causes (tonic → hyper → io → rustls).
    pub fn find(e: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(r) = err.downcast_ref::<rustls::Error>() {
                return Self::from_rustls(r);
            }
            // `io::Error::source` skips the error it wraps: look inside.
            if let Some(inner) = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                && let Some(found) = Self::find(inner)
            {
                return Some(found);
            }
            // rustls's reader hands a received alert on as text only.
            if let Some(alert) = err
                .to_string()
                .strip_prefix("received fatal alert: ")
                .map(|a| a.trim().to_owned())
            {
                return Some(Self::from_alert_name(&alert));
            }
            cur = err.source();
        }
        None
    }

    /// The agent's refusal an alert (by rustls's name for it) stands for.
    fn from_alert_name(alert: &str) -> Self {
        use rustls::AlertDescription as A;
        let known = [
            A::UnknownCA,
            A::CertificateExpired,
            A::UnsupportedCertificate,
            A::CertificateRequired,
        ];
        match known.into_iter().find(|a| format!("{a:?}") == alert) {
            Some(a) => Self::from_rustls(&rustls::Error::AlertReceived(a)).unwrap_or(Self {
                by: TlsSide::Agent,
                reason: TlsReason::Other(format!("TLS alert {alert}")),
            }),
            None => Self {
                by: TlsSide::Agent,
                reason: TlsReason::Other(format!("TLS alert {alert}")),
            },
        }
    }
}

impl AgentCallError {
    /// Whether the agent answered that the container is as it was before the call: refused
    /// before acting (`INVALID_ARGUMENT`, `NOT_FOUND`, `PERMISSION_DENIED`,
    /// `FAILED_PRECONDITION`, `ALREADY_EXISTS`), or failed midway and put the previous container
    /// back under its name, running (`ABORTED`). A rollback after such an answer would bring
    /// back the definition an *earlier* recreate kept.
    pub fn left_as_before(&self) -> bool {
        use tonic::Code;
        matches!(
            &self.kind,
            CallErrorKind::Refused(s) if matches!(
                s.code(),
                Code::InvalidArgument
                    | Code::NotFound
                    | Code::PermissionDenied
                    | Code::FailedPrecondition
                    | Code::AlreadyExists
                    | Code::Aborted
            )
        )
    }

    /// Whether the agent could not be reached at all (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.kind,
            CallErrorKind::Unreachable(_) | CallErrorKind::Timeout(_) | CallErrorKind::Tls(_)
        )
    }
}

/// The result of a restart, as the agent reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Restarted {
    pub node: String,
    pub operation_id: String,
    pub container: Option<Container>,
    pub started_at_unix_ms: i64,
    pub killed_after_timeout: bool,
    pub replayed: bool,
    pub stop_duration_ms: u64,
}

/// The result of a recreate, as the agent reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recreated {
    pub node: String,
    pub container: Option<Container>,
    pub replayed: bool,
    pub stop_duration_ms: u64,
    pub killed_after_timeout: bool,
    pub previous_image: String,
}

/// The result of a rollback, as the agent reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RolledBack {
    pub node: String,
    pub container: Option<Container>,
    pub replayed: bool,
    pub restored_image: String,
}

/// A Swarm stack's services as a manager's agent describes them: each environment entry
/// `NAME=<hex MAC of its value under nonce>` (values never leave the node; compare with
/// [`DescribedStack::same_value`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedStack {
    pub nonce: Vec<u8>,
    pub services: Vec<kroll_stack::LiveService>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl DescribedStack {
    /// Whether a value (the stack file's) is the one a described entry's MAC stands for.
    pub fn same_value(&self, value: &str, described: &str) -> bool {
        hex(&kroll_shared::env_mac::env_value_mac(&self.nonce, value)) == described
    }
}

/// The result of a Swarm service update or restore, as the manager's agent reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceRolled {
    /// The manager node whose agent carried it out.
    pub node: String,
    pub service: String,
    pub replayed: bool,
    /// The task of the spec now in place, running.
    pub task_id: String,
    /// Update: the saved spec's image; restore: empty.
    pub previous_image: String,
    /// The image the service runs now.
    pub image: String,
    pub elapsed_ms: u64,
}

/// A pulled (or present) image, as its node's agent describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    pub image_id: String,
    pub already_present: bool,
    /// `repository@sha256:…`, one per registry it came from; none when built on the node.
    pub repo_digests: Vec<String>,
    /// Its version labels ([`kroll_shared::model::VERSION_LABELS`]).
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A client for one node's agent.
#[derive(Debug, Clone)]
pub struct AgentClient {
    node: String,
    addr: String,
    timeout: Duration,
    /// The certificates it connected with (a failed call's probe uses them again).
    tls: TlsMaterial,
    inner: PbClient<Channel>,
}

/// The agent's refusal of this client, found by one fresh mutual-TLS handshake with `tls` and a
/// read until the agent answers or alerts (within 2 s); `None` when it accepts, or cannot be
/// asked.
pub async fn probe_refusal(addr: &str, node: &str, tls: &TlsMaterial) -> Option<TlsRefusal> {
    use rustls::pki_types::ServerName;
    use tokio::io::AsyncReadExt as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let parts = tls.rustls_parts().ok()?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(parts.roots)
        .with_client_auth_cert(parts.chain, parts.key)
        .ok()?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = ServerName::try_from(node.to_owned()).ok()?;
    let limit = Duration::from_secs(2);
    let tcp = tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut stream = match tokio::time::timeout(limit, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return TlsRefusal::find(&e),
        Err(_) => return None,
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(limit, stream.read(&mut byte)).await {
        Ok(Err(e)) => TlsRefusal::find(&e),
        _ => None,
    }
}

impl AgentClient {
    /// Connects to `node`'s agent, verifying that its certificate names the node.
    pub async fn connect(
        node: &Node,
        tls: &TlsMaterial,
        timeout: Duration,
    ) -> Result<Self, AgentCallError> {
        let err = |kind| AgentCallError {
            node: node.name.clone(),
            addr: node.agent.clone(),
            kind,
        };
        let endpoint = Endpoint::from_shared(format!("https://{}", node.agent))
            .and_then(|e| e.tls_config(tls.client_config(&node.name)))
            .map_err(|e| err(CallErrorKind::Unreachable(e.to_string())))?
            .connect_timeout(timeout)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(err(match TlsRefusal::find(&e) {
                    Some(t) => CallErrorKind::Tls(t),
                    None => CallErrorKind::Unreachable(source_chain(&e)),
                }));
            }
            Err(_) => return Err(err(CallErrorKind::Timeout(timeout))),
        };
        Ok(Self {
            node: node.name.clone(),
            addr: node.agent.clone(),
            timeout,
            tls: tls.clone(),
            inner: PbClient::new(channel),
        })
    }

    /// The node this client talks to.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn err(&self, kind: CallErrorKind) -> AgentCallError {
        AgentCallError {
            node: self.node.clone(),
            addr: self.addr.clone(),
            kind,
        }
    }

    /// A call's answer, or why it failed ([`Self::failed`]).
    async fn answer<T>(
        &self,
        r: Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, AgentCallError> {
        match r {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.failed(s).await),
        }
    }

    /// Why a call failed. A connection the agent closed without a word may be its refusal of
    /// this client's certificate: TLS 1.3 lets a client finish its handshake before the agent
    /// has judged that certificate, so the agent's alert can race the first call and reach it
    /// only as a closed connection. One fresh handshake, read until the agent answers or
    /// alerts, then tells ([`probe_refusal`]).
    async fn failed(&self, s: tonic::Status) -> AgentCallError {
        let e = self.status(s);
        let silent = match &e.kind {
            CallErrorKind::Unreachable(_) => true,
            CallErrorKind::Refused(s) => matches!(
                s.code(),
                tonic::Code::Cancelled | tonic::Code::Unavailable | tonic::Code::Unknown
            ),
            _ => false,
        };
        if silent && let Some(t) = probe_refusal(&self.addr, &self.node, &self.tls).await {
            return self.err(CallErrorKind::Tls(t));
        }
        e
    }

    fn status(&self, s: tonic::Status) -> AgentCallError {
        if let Some(t) = TlsRefusal::find(&s) {
            self.err(CallErrorKind::Tls(t))
        } else if s.code() == tonic::Code::Unavailable && s.message().contains("transport") {
            self.err(CallErrorKind::Unreachable(source_chain(&s)))
        } else {
            self.err(CallErrorKind::Refused(s))
        }
    }

    /// One snapshot of the node, within the client's timeout.
    pub async fn node_state(&mut self) -> Result<NodeState, AgentCallError> {
        let call = self.inner.get_node_state(pb::GetNodeStateRequest {});
        let reply = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(s)) => return Err(self.failed(s).await),
            Err(_) => return Err(self.err(CallErrorKind::Timeout(self.timeout))),
        };
        NodeState::try_from(reply).map_err(|e| self.err(e.into()))
    }

    /// Graceful restart of `container` under `operation_id` (no client-side deadline: the
    /// agent bounds the stop by `stop_timeout`).
    pub async fn restart(
        &mut self,
        operation_id: &str,
        container: &str,
        stop_timeout: Duration,
    ) -> Result<Restarted, AgentCallError> {
        let req = pb::RestartContainerRequest {
            operation_id: operation_id.to_owned(),
            container: container.to_owned(),
            stop_timeout_seconds: wire_seconds(stop_timeout),
        };
        let r = self.inner.restart_container(req).await;
        let r = self.answer(r).await?;
        Ok(Restarted {
            node: self.node.clone(),
            operation_id: r.operation_id,
            container: r.container.map(Into::into),
            started_at_unix_ms: r.started_at_unix_ms,
            killed_after_timeout: r.killed_after_timeout,
            replayed: r.replayed,
            stop_duration_ms: r.stop_duration_ms,
        })
    }

    /// Replaces `container` with its new definition (new image, environment patch, hostname),
    /// keeping the previous one for rollback.
    pub async fn recreate(
        &mut self,
        operation_id: &str,
        container: &str,
        image: &str,
        env: &kroll_shared::model::EnvPatch,
        hostname: Option<&str>,
        stop_timeout: Duration,
    ) -> Result<Recreated, AgentCallError> {
        let req = pb::RecreateContainerRequest {
            operation_id: operation_id.to_owned(),
            container: container.to_owned(),
            image: image.to_owned(),
            env: Some(kroll_shared::wire::env_patch_to_wire(env.clone())),
            stop_timeout_seconds: wire_seconds(stop_timeout),
            hostname: hostname.unwrap_or_default().to_owned(),
        };
        let r = self.inner.recreate_container(req).await;
        let r = self.answer(r).await?;
        Ok(Recreated {
            node: self.node.clone(),
            container: r.container.map(Into::into),
            replayed: r.replayed,
            stop_duration_ms: r.stop_duration_ms,
            killed_after_timeout: r.killed_after_timeout,
            previous_image: r.previous_image,
        })
    }

    /// Brings back the previous definition of `container`.
    pub async fn rollback(
        &mut self,
        operation_id: &str,
        container: &str,
        stop_timeout: Duration,
    ) -> Result<RolledBack, AgentCallError> {
        let req = pb::RollbackContainerRequest {
            operation_id: operation_id.to_owned(),
            container: container.to_owned(),
            stop_timeout_seconds: wire_seconds(stop_timeout),
        };
        let r = self.inner.rollback_container(req).await;
        let r = self.answer(r).await?;
        Ok(RolledBack {
            node: self.node.clone(),
            container: r.container.map(Into::into),
            replayed: r.replayed,
            restored_image: r.restored_image,
        })
    }

    /// Updates Swarm service `service` through this (manager) node's agent: new image,
    /// environment patch, hostname; its previous spec is saved for [`Self::restore_service`].
    pub async fn update_service(
        &mut self,
        operation_id: &str,
        service: &str,
        image: &str,
        env: &kroll_shared::model::EnvPatch,
        hostname: Option<&str>,
        stop_timeout: Duration,
    ) -> Result<ServiceRolled, AgentCallError> {
        let req = pb::UpdateServiceRequest {
            operation_id: operation_id.to_owned(),
            service: service.to_owned(),
            image: image.to_owned(),
            env: Some(kroll_shared::wire::env_patch_to_wire(env.clone())),
            stop_timeout_seconds: wire_seconds(stop_timeout),
            hostname: hostname.unwrap_or_default().to_owned(),
        };
        let r = self.inner.update_service(req).await;
        let r = self.answer(r).await?;
        Ok(ServiceRolled {
            node: self.node.clone(),
            service: r.service,
            replayed: r.replayed,
            task_id: r.task_id,
            previous_image: r.previous_image,
            image: r.image,
            elapsed_ms: r.elapsed_ms,
        })
    }

    /// The services of Swarm stack `stack` as this (manager) node's agent describes them.
    pub async fn describe_stack(&mut self, stack: &str) -> Result<DescribedStack, AgentCallError> {
        let nonce = kroll_shared::env_mac::fresh_nonce().map_err(|e| AgentCallError {
            node: self.node.clone(),
            addr: String::new(),
            kind: CallErrorKind::Unreachable(e),
        })?;
        let req = pb::DescribeStackRequest {
            stack: stack.to_owned(),
            nonce: nonce.clone(),
        };
        let r = self.inner.describe_stack(req).await;
        let r = self.answer(r).await?;
        let services = r
            .services
            .into_iter()
            .map(|s| kroll_stack::LiveService {
                name: s.name,
                image: s.image,
                env: s
                    .env
                    .into_iter()
                    .map(|e| {
                        if e.has_value {
                            format!("{}={}", e.name, hex(&e.value_mac))
                        } else {
                            e.name
                        }
                    })
                    .collect(),
                hostname: Some(s.hostname).filter(|h| !h.is_empty()),
                stop_grace_period: (s.stop_grace_period_ms > 0)
                    .then(|| Duration::from_millis(s.stop_grace_period_ms)),
                labels: s.labels.into_iter().collect(),
            })
            .collect();
        Ok(DescribedStack { nonce, services })
    }

    /// Re-applies the spec the last update of Swarm service `service` saved.
    pub async fn restore_service(
        &mut self,
        operation_id: &str,
        service: &str,
        stop_timeout: Duration,
    ) -> Result<ServiceRolled, AgentCallError> {
        let req = pb::RestoreServiceRequest {
            operation_id: operation_id.to_owned(),
            service: service.to_owned(),
            stop_timeout_seconds: wire_seconds(stop_timeout),
        };
        let r = self.inner.restore_service(req).await;
        let r = self.answer(r).await?;
        Ok(ServiceRolled {
            node: self.node.clone(),
            service: r.service,
            replayed: r.replayed,
            task_id: r.task_id,
            previous_image: String::new(),
            image: r.restored_image,
            elapsed_ms: r.elapsed_ms,
        })
    }

    /// Which of `images` are present on the node: (present → id, missing).
    pub async fn images_present(
        &mut self,
        images: &[String],
    ) -> Result<(BTreeMap<String, String>, Vec<String>), AgentCallError> {
        let call = self.inner.image_present(pb::ImagePresentRequest {
            images: images.to_vec(),
        });
        let r = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(s)) => return Err(self.failed(s).await),
            Err(_) => return Err(self.err(CallErrorKind::Timeout(self.timeout))),
        };
        Ok((r.present.into_iter().collect(), r.missing))
    }

    /// Pulls `image` onto the node (again when `refresh`, though present: a mutable tag);
    /// says what it is.
    pub async fn pull(
        &mut self,
        operation_id: &str,
        image: &str,
        refresh: bool,
    ) -> Result<Pulled, AgentCallError> {
        let req = pb::PullImageRequest {
            operation_id: operation_id.to_owned(),
            image: image.to_owned(),
            refresh,
        };
        let r = self.inner.pull_image(req).await;
        let r = self.answer(r).await?;
        Ok(Pulled {
            image_id: r.image_id,
            already_present: r.already_present,
            repo_digests: r.repo_digests,
            labels: r.labels.into_iter().collect(),
        })
    }

    /// Subscribes to the node's container events (all containers when `containers` is empty).
    pub async fn watch(
        &mut self,
        containers: Vec<String>,
    ) -> Result<impl futures::Stream<Item = Result<Event, AgentCallError>> + use<>, AgentCallError>
    {
        let call = self
            .inner
            .watch_events(pb::WatchEventsRequest { containers });
        let stream = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(s)) => return Err(self.failed(s).await),
            Err(_) => return Err(self.err(CallErrorKind::Timeout(self.timeout))),
        };
        let (node, addr) = (self.node.clone(), self.addr.clone());
        Ok(futures::StreamExt::map(stream, move |item| {
            item.map(Event::from).map_err(|s| AgentCallError {
                node: node.clone(),
                addr: addr.clone(),
                kind: CallErrorKind::Refused(s),
            })
        }))
    }
}

/// The error and its causes on one line (transport errors hide the useful part in sources).
/// A stop timeout as the wire carries it: whole seconds, saturating.
fn wire_seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

pub fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// What one node's agent answered.
#[derive(Debug)]
pub struct NodeReport<'a> {
    pub node: &'a Node,
    pub state: Result<NodeState, AgentCallError>,
}

/// Asks every agent of the inventory for its node state, all at once; each agent gets the
/// inventory's timeout for connecting and answering, so one dead node never stalls the rest.
pub async fn query_all<'a>(inv: &'a Inventory, tls: &TlsMaterial) -> Vec<NodeReport<'a>> {
    AgentPool::default().query_all(inv, tls).await
}

/// Connections to the agents kept between calls. The upgrade observes the fleet several times
/// a second; a fresh mutual-TLS handshake with every agent for every observation would be most
/// of its cost. A tonic channel reconnects by itself; a call that fails also drops the node's
/// connection, so the next call dials afresh.
#[derive(Debug, Default)]
pub struct AgentPool {
    clients: std::sync::Mutex<std::collections::BTreeMap<String, AgentClient>>,
}

impl AgentPool {
    async fn client(
        &self,
        node: &Node,
        tls: &TlsMaterial,
        timeout: Duration,
    ) -> Result<AgentClient, AgentCallError> {
        let kept = self
            .clients
            .lock()
            .ok()
            .and_then(|m| m.get(&node.name).cloned());
        if let Some(c) = kept {
            return Ok(c);
        }
        let c = AgentClient::connect(node, tls, timeout).await?;
        if let Ok(mut m) = self.clients.lock() {
            m.insert(node.name.clone(), c.clone());
        }
        Ok(c)
    }

    fn forget(&self, node: &str) {
        if let Ok(mut m) = self.clients.lock() {
            m.remove(node);
        }
    }

    /// [`query_all`] over the kept connections.
    pub async fn query_all<'a>(
        &self,
        inv: &'a Inventory,
        tls: &TlsMaterial,
    ) -> Vec<NodeReport<'a>> {
        let timeout = inv.agents.timeout();
        let calls = inv.nodes.iter().map(|node| async move {
            let state = async {
                let mut client = self.client(node, tls, timeout).await?;
                client.node_state().await
            };
            let state = match tokio::time::timeout(timeout, state).await {
                Ok(r) => r,
                Err(_) => Err(AgentCallError {
                    node: node.name.clone(),
                    addr: node.agent.clone(),
                    kind: CallErrorKind::Timeout(timeout),
                }),
            };
            if state.is_err() {
                self.forget(&node.name);
            }
            NodeReport { node, state }
        });
        join_all(calls).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_refusals_are_found_through_io_errors_and_name_side_and_reason() {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let wrapped = |e: E| {
            // As hyper hands it on: an io::Error around rustls's, under a message.
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
            tonic::Status::from_error(Box::new(io))
        };
        let cases = [
            (
                E::AlertReceived(A::UnknownCA),
                "the agent refused this client's certificate",
                "unknown CA",
            ),
            (
                E::AlertReceived(A::CertificateExpired),
                "the agent refused this client's certificate",
                "has expired",
            ),
            (
                E::AlertReceived(A::UnsupportedCertificate),
                "the agent refused",
                "wrong role",
            ),
            (
                E::InvalidCertificate(C::UnknownIssuer),
                "this client refused the agent's certificate",
                "unknown CA",
            ),
            (
                E::InvalidCertificate(C::Expired),
                "this client refused the agent's certificate",
                "has expired",
            ),
        ];
        for (e, side, why) in cases {
            let status = wrapped(e.clone());
            let t = TlsRefusal::find(&status).unwrap_or_else(|| panic!("{e:?} not found"));
            let text = t.to_string();
            assert!(text.contains(side) && text.contains(why), "{e:?}: {text}");
        }
        assert_eq!(TlsRefusal::find(&tonic::Status::unavailable("x")), None);
        // As rustls's reader reports an alert: text in an io::Error.
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: CertificateExpired",
        );
        let t = TlsRefusal::find(&tonic::Status::from_error(Box::new(io))).expect("found");
        assert_eq!((t.by, t.reason), (TlsSide::Agent, TlsReason::Expired));
    }

    #[test]
    fn only_answers_that_say_the_container_is_as_before_are_left_as_before() {
        let err = |kind| AgentCallError {
            node: "n".into(),
            addr: "a".into(),
            kind,
        };
        let refused = |c| err(CallErrorKind::Refused(tonic::Status::new(c, "x")));
        use tonic::Code;
        for (code, before) in [
            (Code::InvalidArgument, true),
            (Code::FailedPrecondition, true),
            (Code::Aborted, true),
            (Code::NotFound, true),
            (Code::Internal, false),
            (Code::Unavailable, false),
            (Code::Unknown, false),
        ] {
            assert_eq!(refused(code).left_as_before(), before, "{code:?}");
        }
        assert!(!err(CallErrorKind::Timeout(Duration::from_secs(1))).left_as_before());
        assert!(!err(CallErrorKind::Unreachable("x".into())).left_as_before());
    }
}
