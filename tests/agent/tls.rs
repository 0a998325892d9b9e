//! Mutual TLS with roles, tested with attacks: no client certificate, a certificate from
//! another CA, plaintext, an agent certificate posing as a client, a read-only reader trying to
//! restart.

use std::time::Duration;

use kroll_proto::agent::v1 as pb;
use kroll_proto::agent::v1::agent_client::AgentClient as PbClient;
use kroll_shared::tls::{self, Role, Validity};
use kroll_tests::{Pki, RunningAgent, Spec, TestContainer, allow_node, on_node};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::client;

async fn raw_client(
    addr: std::net::SocketAddr,
    tls: Option<ClientTlsConfig>,
) -> Result<PbClient<Channel>, String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut ep = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5));
    if let Some(t) = tls {
        ep = ep.tls_config(t).map_err(|e| e.to_string())?;
    }
    ep.connect()
        .await
        .map(PbClient::new)
        .map_err(|e| kroll::agents::source_chain(&e))
}

/// Connects (if the handshake allows) and asks for the node state.
async fn try_read(addr: std::net::SocketAddr, tls: Option<ClientTlsConfig>) -> Result<(), String> {
    let mut c = raw_client(addr, tls).await?;
    c.get_node_state(pb::GetNodeStateRequest {})
        .await
        .map(|_| ())
        .map_err(|s| format!("{s:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn only_cluster_certificates_get_in_and_only_the_coordinator_may_restart() {
    let pki = Pki::new(&["node-t"]);
    let dir = tempfile::tempdir().expect("tmp");
    let c = TestContainer::start(
        "t1",
        Spec {
            labels: on_node("node-t"),
            ..Default::default()
        },
    )
    .await;
    let agent = RunningAgent::start(&pki, "node-t", allow_node("node-t"), dir.path()).await;
    let ca_pem = std::fs::read_to_string(pki.path("ca.pem")).expect("ca");
    let base = || {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&ca_pem))
            .domain_name("node-t")
    };

    // No client certificate: the handshake (or the first call) is refused.
    assert!(
        try_read(agent.addr, Some(base())).await.is_err(),
        "no client cert must be refused"
    );
    // Plaintext: refused.
    assert!(
        try_read(agent.addr, None).await.is_err(),
        "plaintext must be refused"
    );
    // A coordinator certificate from another CA: refused.
    let foreign_ca = tls::generate_ca("evil", Validity::default()).expect("ca");
    let forged = tls::issue(
        &foreign_ca,
        Role::Coordinator,
        "coordinator",
        &[],
        Validity::default(),
    )
    .expect("issue");
    let err = try_read(
        agent.addr,
        Some(base().identity(Identity::from_pem(&forged.cert_pem, &forged.key_pem))),
    )
    .await;
    assert!(err.is_err(), "a foreign CA's certificate must be refused");
    // The agent's own (server-auth) certificate used as a client: refused.
    let agent_cert = std::fs::read_to_string(pki.path("agent-node-t.pem")).expect("cert");
    let agent_key = std::fs::read_to_string(pki.path("agent-node-t-key.pem")).expect("key");
    let err = try_read(
        agent.addr,
        Some(base().identity(Identity::from_pem(&agent_cert, &agent_key))),
    )
    .await;
    assert!(
        err.is_err(),
        "an agent certificate is not a client certificate"
    );

    // A reader may read but not restart.
    let mut reader = client(&pki, "reader", &agent).await;
    let state = reader.node_state().await.expect("a reader may read");
    assert_eq!(state.containers.len(), 1);
    let before = c.started_at();
    let err = reader
        .restart("op-r", &c.name, Duration::from_secs(5))
        .await
        .expect_err("reader must not restart");
    assert!(
        err.to_string().contains("may not restart containers"),
        "{err}"
    );
    assert_eq!(c.started_at(), before);
    // The coordinator may.
    let mut coord = client(&pki, "coordinator", &agent).await;
    coord
        .restart("op-c", &c.name, Duration::from_secs(5))
        .await
        .expect("coordinator restarts");
    assert_ne!(c.started_at(), before);
    // A reader looping on a mutation: refusals are audited with what was asked, rate-limited.
    for i in 0..100 {
        let _ = reader
            .restart(&format!("op-flood-{i}"), &c.name, Duration::from_secs(5))
            .await
            .expect_err("refused");
    }
    let audit = std::fs::read_to_string(&agent.audit).expect("audit");
    let refused: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["phase"] == "refused" && l["role"] == "reader")
        .collect();
    assert!(
        refused
            .iter()
            .any(|l| l["operation_id"] == "op-r" && l["container"] == c.name.as_str()),
        "the refusal names the operation and the container: {audit}"
    );
    assert_eq!(
        refused.len(),
        30,
        "at most 30 refusal lines a minute: {}",
        refused.len()
    );
    agent.stop().await;
}

/// A coordinator-role certificate kroll would never issue, signed by `issuer_pem`/`key_pem`:
/// without any extended key usage, or (with `ca`) an intermediate CA.
fn forge(issuer_cert: &str, issuer_key: &str, name: &str, eku: bool, ca: bool) -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    };
    let issuer = Issuer::from_ca_cert_pem(issuer_cert, KeyPair::from_pem(issuer_key).expect("key"))
        .expect("issuer");
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, name);
    p.subject_alt_names.push(SanType::URI(
        "urn:kroll:role:coordinator".try_into().expect("uri"),
    ));
    if eku {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    }
    let cert = p.signed_by(&key, &issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_needs_the_client_auth_eku_and_no_intermediate_ca() {
    let pki = Pki::new(&["node-e"]);
    let dir = tempfile::tempdir().expect("tmp");
    let agent = RunningAgent::start(&pki, "node-e", allow_node("node-e"), dir.path()).await;
    let ca_pem = std::fs::read_to_string(pki.path("ca.pem")).expect("ca");
    let with = |cert: &str, key: &str| {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&ca_pem))
            .domain_name("node-e")
            .identity(Identity::from_pem(cert, key))
    };
    // Signed by the cluster CA, role coordinator, but no client-auth EKU.
    let (cert, key) = forge(&pki.ca.cert_pem, &pki.ca.key_pem, "no-eku", false, false);
    let err = try_read(agent.addr, Some(with(&cert, &key)))
        .await
        .expect_err("a certificate without the client-auth EKU is refused");
    assert!(err.contains("client-auth"), "{err}");
    // Through an intermediate CA below the path-length-0 cluster CA.
    let (mid_cert, mid_key) = forge(
        &pki.ca.cert_pem,
        &pki.ca.key_pem,
        "intermediate",
        false,
        true,
    );
    let (leaf, leaf_key) = forge(&mid_cert, &mid_key, "via-intermediate", true, false);
    let err = try_read(
        agent.addr,
        Some(with(&format!("{leaf}{mid_cert}"), &leaf_key)),
    )
    .await
    .expect_err("a chain through an intermediate is refused");
    assert!(
        err.contains("intermediate") || err.to_lowercase().contains("path"),
        "{err}"
    );
    // The genuine coordinator still gets in.
    let mut coord = client(&pki, "coordinator", &agent).await;
    coord.node_state().await.expect("the coordinator reads");
    agent.stop().await;
}
