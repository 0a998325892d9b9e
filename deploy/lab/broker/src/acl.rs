//! ACLs with `kafka.security.authorizer.AclAuthorizer`'s semantics, read from ZooKeeper in
//! Kafka's own format: `/kafka-acl/<ResourceType>/<name>` (literal names, `*` = every resource of
//! the type) and `/kafka-acl-extended/prefixed/<ResourceType>/<prefix>`, each holding
//! `{"version":1,"acls":[{"principal":"User:x","permissionType":"Allow","operation":"Read","host":"*"}]}`.
//!
//! The decision ([`Acls::authorize`]) is a pure function: super users (`super.users`) are allowed
//! everything; a resource without any matching ACL is allowed only with
//! `allow.everyone.if.no.acl.found=true`; a matching Deny wins over any Allow; Describe is implied
//! by Read, Write, Delete and Alter, DescribeConfigs by AlterConfigs; `All` matches every operation.
//! The broker re-reads the ACL znodes on their watch and every `LAB_METADATA_REFRESH_MS`
//! ([`spawn_cache`]) instead of following `/kafka-acl-changes` notifications.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::BrokerError;
use crate::zk::Zk;

/// The authorizer class names the lab accepts in `authorizer.class.name`.
pub const AUTHORIZERS: &[&str] = &[
    "kafka.security.authorizer.AclAuthorizer",
    "kafka.security.auth.SimpleAclAuthorizer",
];

/// The cluster resource's name.
pub const CLUSTER: &str = "kafka-cluster";

/// Resource types the lab checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceType {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
    /// The cluster (`kafka-cluster`).
    Cluster,
    /// A transactional id.
    TransactionalId,
}

impl ResourceType {
    /// Kafka's name in znode paths (`Topic`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Topic => "Topic",
            Self::Group => "Group",
            Self::Cluster => "Cluster",
            Self::TransactionalId => "TransactionalId",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Topic,
            Self::Group,
            Self::Cluster,
            Self::TransactionalId,
        ]
        .into_iter()
        .find(|t| t.name() == text)
    }
}

/// ACL operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[allow(missing_docs)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Permission {
    /// Allows.
    Allow,
    /// Denies (wins over Allow).
    Deny,
}

/// One ACL entry as stored in the znode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acl {
    /// `User:alice` or `User:*`.
    pub principal: String,
    /// Allow or Deny.
    pub permission_type: Permission,
    /// The operation.
    pub operation: Operation,
    /// `*` or an IP address.
    pub host: String,
}

#[derive(Debug, Deserialize)]
struct AclZnode {
    acls: Vec<Acl>,
}

/// Every ACL of the cluster: `(type, name, prefixed) → entries`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acls {
    entries: BTreeMap<(ResourceType, String, bool), Vec<Acl>>,
}

/// The authorizer's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `super.users` (`User:admin;User:other`).
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_if_no_acl: bool,
}

impl Policy {
    /// The policy from `authorizer.class.name` and friends; `None` when no authorizer is set.
    pub fn from_config(cfg: &Config) -> Result<Option<Self>, BrokerError> {
        let Some(class) = cfg.props.get("authorizer.class.name").map(|c| c.trim()) else {
            return Ok(None);
        };
        if class.is_empty() {
            return Ok(None);
        }
        if !AUTHORIZERS.contains(&class) {
            return Err(BrokerError::Config {
                key: "authorizer.class.name".into(),
                reason: format!(
                    "`{class}` is not served by the lab (it implements {})",
                    AUTHORIZERS.join(" and ")
                ),
            });
        }
        Ok(Some(Self {
            super_users: cfg
                .props
                .get("super.users")
                .map(|s| {
                    s.split(';')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            allow_if_no_acl: cfg.bool("allow.everyone.if.no.acl.found", false),
        }))
    }
}

/// Operations whose Allow also allows `op` (Kafka's implied operations).
fn allowing(op: Operation) -> &'static [Operation] {
    use Operation::*;
    match op {
        Describe => &[Describe, Read, Write, Delete, Alter],
        DescribeConfigs => &[DescribeConfigs, AlterConfigs],
        Read => &[Read],
        Write => &[Write],
        Create => &[Create],
        Delete => &[Delete],
        Alter => &[Alter],
        ClusterAction => &[ClusterAction],
        AlterConfigs => &[AlterConfigs],
        IdempotentWrite => &[IdempotentWrite],
        All => &[All],
    }
}

impl Acls {
    /// Adds the entries of one resource (for tests and the ZooKeeper reader).
    pub fn insert(&mut self, kind: ResourceType, name: &str, prefixed: bool, acls: Vec<Acl>) {
        self.entries
            .entry((kind, name.to_string(), prefixed))
            .or_default()
            .extend(acls);
    }

    fn matching<'a>(&'a self, kind: ResourceType, name: &'a str) -> impl Iterator<Item = &'a Acl> {
        self.entries
            .iter()
            .filter(move |((k, n, prefixed), _)| {
                *k == kind
                    && if *prefixed {
                        name.starts_with(n.as_str())
                    } else {
                        n == name || n == "*"
                    }
            })
            .flat_map(|(_, acls)| acls)
    }

    /// Whether some resource of `kind` has an Allow of `op` (or All) for `principal` from `host`
    /// and no Deny of it on the same resource (Kafka's `authorizeByResourceType`, simplified).
    pub fn allows_some(
        &self,
        principal: &str,
        host: &str,
        op: Operation,
        kind: ResourceType,
    ) -> bool {
        let who = |a: &Acl| {
            (a.principal == principal || a.principal == "User:*")
                && (a.host == "*" || a.host == host)
        };
        let hits = |a: &Acl, p: Permission| {
            a.permission_type == p && who(a) && (a.operation == op || a.operation == Operation::All)
        };
        self.entries
            .iter()
            .filter(|((k, _, _), _)| *k == kind)
            .any(|(_, acls)| {
                acls.iter().any(|a| hits(a, Permission::Allow))
                    && !acls.iter().any(|a| hits(a, Permission::Deny))
            })
    }

    /// Whether `principal` from `host` may do `op` on the resource.
    pub fn authorize(
        &self,
        policy: &Policy,
        principal: &str,
        host: &str,
        op: Operation,
        kind: ResourceType,
        name: &str,
    ) -> bool {
        if policy.super_users.iter().any(|u| u == principal) {
            return true;
        }
        let acls: Vec<&Acl> = self.matching(kind, name).collect();
        if acls.is_empty() {
            return policy.allow_if_no_acl;
        }
        let who = |a: &Acl| {
            (a.principal == principal || a.principal == "User:*")
                && (a.host == "*" || a.host == host)
        };
        let denied = acls.iter().any(|a| {
            a.permission_type == Permission::Deny
                && who(a)
                && (a.operation == op || a.operation == Operation::All)
        });
        if denied {
            return false;
        }
        acls.iter().any(|a| {
            a.permission_type == Permission::Allow
                && who(a)
                && (allowing(op).contains(&a.operation) || a.operation == Operation::All)
        })
    }
}

/// Reads every ACL znode (literal and prefixed).
pub async fn load(zk: &Zk) -> Result<Acls, BrokerError> {
    let mut acls = Acls::default();
    for (root, prefixed) in [
        ("/kafka-acl".to_string(), false),
        ("/kafka-acl-extended/prefixed".to_string(), true),
    ] {
        for kind_name in zk.children(&root).await? {
            let Some(kind) = ResourceType::parse(&kind_name) else {
                continue;
            };
            let dir = format!("{root}/{kind_name}");
            for name in zk.children(&dir).await? {
                let path = format!("{dir}/{name}");
                match zk.get_json::<AclZnode>(&path).await {
                    Ok(Some((node, _))) => acls.insert(kind, &name, prefixed, node.acls),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(target: "kafka.security.authorizer.AclAuthorizer", "Ignoring ACL znode {path}: {e}.")
                    }
                }
            }
        }
    }
    Ok(acls)
}

/// Keeps a current copy of the ACLs (watch on the ACL znodes plus a periodic re-read).
pub async fn spawn_cache(
    zk: Zk,
    refresh: Duration,
) -> Result<watch::Receiver<Arc<Acls>>, BrokerError> {
    let mut watchers = Vec::new();
    for path in ["/kafka-acl", "/kafka-acl-extended"] {
        watchers.push(zk.watch(path).await?);
    }
    let (tx, rx) = watch::channel(Arc::new(load(&zk).await?));
    let (poke_tx, mut poke_rx) = tokio::sync::mpsc::channel::<()>(16);
    for mut watcher in watchers {
        let poke = poke_tx.clone();
        tokio::spawn(async move {
            while watcher.next().await.is_some() {
                if poke.send(()).await.is_err() {
                    break;
                }
            }
        });
    }
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(refresh, poke_rx.recv()).await;
            while poke_rx.try_recv().is_ok() {}
            match load(&zk).await {
                Ok(acls) => {
                    tx.send_if_modified(|current| {
                        let changed = **current != acls;
                        if changed {
                            *current = Arc::new(acls);
                        }
                        changed
                    });
                }
                Err(e) => {
                    tracing::warn!(target: "kafka.security.authorizer.AclAuthorizer", "Reading ACLs from ZooKeeper failed: {e}.")
                }
            }
            if tx.is_closed() {
                break;
            }
        }
    });
    Ok(rx)
}

/// The authorizer of a running broker: policy plus the current ACLs.
#[derive(Debug)]
pub struct Authorizer {
    /// Settings.
    pub policy: Policy,
    acls: watch::Receiver<Arc<Acls>>,
}

impl Authorizer {
    /// An authorizer over a cache from [`spawn_cache`].
    pub fn new(policy: Policy, acls: watch::Receiver<Arc<Acls>>) -> Self {
        Self { policy, acls }
    }

    /// Whether the principal is a super user or may do `op` on some resource of `kind`.
    pub fn allows_some(
        &self,
        principal: &str,
        host: &str,
        op: Operation,
        kind: ResourceType,
    ) -> bool {
        self.policy.super_users.iter().any(|u| u == principal)
            || self.acls.borrow().allows_some(principal, host, op, kind)
    }

    /// Checks one operation, logging a denial like Kafka's authorizer logger.
    pub fn allows(
        &self,
        principal: &str,
        host: &str,
        op: Operation,
        kind: ResourceType,
        name: &str,
    ) -> bool {
        let ok = self
            .acls
            .borrow()
            .authorize(&self.policy, principal, host, op, kind, name);
        if !ok {
            tracing::info!(target: "kafka.authorizer.logger", "Principal = {principal} is Denied Operation = {op:?} from host = {host} on resource = {}:LITERAL:{name}", kind.name());
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;
    use ResourceType::*;

    fn acl(principal: &str, permission: Permission, op: Operation, host: &str) -> Acl {
        Acl {
            principal: principal.into(),
            permission_type: permission,
            operation: op,
            host: host.into(),
        }
    }

    fn policy(allow_if_no_acl: bool) -> Policy {
        Policy {
            super_users: vec!["User:admin".into()],
            allow_if_no_acl,
        }
    }

    #[test]
    fn acl_znodes_parse_in_kafkas_format() {
        let text = r#"{"version":1,"acls":[{"principal":"User:kroll","permissionType":"Allow","operation":"DescribeConfigs","host":"*"}]}"#;
        let node: AclZnode = serde_json::from_str(text).expect("znode");
        assert_eq!(
            node.acls,
            [acl("User:kroll", Permission::Allow, DescribeConfigs, "*")]
        );
    }

    #[test]
    fn decisions_follow_acl_authorizer() {
        let mut acls = Acls::default();
        acls.insert(
            Topic,
            "orders",
            false,
            vec![
                acl("User:app", Permission::Allow, Read, "*"),
                acl("User:app", Permission::Allow, Write, "10.0.0.1"),
                acl("User:*", Permission::Allow, Describe, "*"),
                acl("User:evil", Permission::Deny, Describe, "*"),
                acl("User:evil", Permission::Allow, All, "*"),
            ],
        );
        acls.insert(
            Topic,
            "*",
            false,
            vec![acl("User:mon", Permission::Allow, Describe, "*")],
        );
        acls.insert(
            Topic,
            "logs-",
            true,
            vec![acl("User:app", Permission::Allow, Write, "*")],
        );
        acls.insert(
            Cluster,
            CLUSTER,
            false,
            vec![
                acl("User:kroll", Permission::Allow, AlterConfigs, "*"),
                acl("User:broker", Permission::Allow, All, "*"),
            ],
        );
        let cases: &[(bool, &str, &str, Operation, ResourceType, &str, bool)] = &[
            // (allow.everyone.if.no.acl.found, principal, host, op, type, name, allowed)
            (
                false,
                "User:admin",
                "1.1.1.1",
                Delete,
                Topic,
                "orders",
                true,
            ),
            (
                false,
                "User:admin",
                "1.1.1.1",
                ClusterAction,
                Cluster,
                CLUSTER,
                true,
            ),
            (false, "User:app", "1.1.1.1", Read, Topic, "orders", true),
            (
                false, "User:app", "1.1.1.1", Describe, Topic, "orders", true,
            ),
            (false, "User:app", "1.1.1.1", Write, Topic, "orders", false),
            (false, "User:app", "10.0.0.1", Write, Topic, "orders", true),
            (false, "User:app", "1.1.1.1", Delete, Topic, "orders", false),
            (
                false,
                "User:other",
                "1.1.1.1",
                Describe,
                Topic,
                "orders",
                true,
            ),
            (false, "User:other", "1.1.1.1", Read, Topic, "orders", false),
            (
                false,
                "User:evil",
                "1.1.1.1",
                Describe,
                Topic,
                "orders",
                false,
            ),
            (false, "User:evil", "1.1.1.1", Read, Topic, "orders", true),
            (
                false, "User:mon", "1.1.1.1", Describe, Topic, "anything", true,
            ),
            (false, "User:mon", "1.1.1.1", Read, Topic, "anything", false),
            (false, "User:app", "1.1.1.1", Write, Topic, "logs-app", true),
            (
                false, "User:app", "1.1.1.1", Describe, Topic, "logs-app", true,
            ),
            (false, "User:app", "1.1.1.1", Write, Topic, "log", false),
            (
                false,
                "User:kroll",
                "1.1.1.1",
                DescribeConfigs,
                Cluster,
                CLUSTER,
                true,
            ),
            (
                false,
                "User:kroll",
                "1.1.1.1",
                Describe,
                Cluster,
                CLUSTER,
                false,
            ),
            (
                false,
                "User:broker",
                "1.1.1.1",
                ClusterAction,
                Cluster,
                CLUSTER,
                true,
            ),
            (false, "User:app", "1.1.1.1", Read, Group, "g", false),
            (true, "User:app", "1.1.1.1", Read, Group, "g", true),
            (true, "User:other", "1.1.1.1", Read, Topic, "orders", false),
            (
                true,
                "User:ANONYMOUS",
                "1.1.1.1",
                Describe,
                Topic,
                "orders",
                true,
            ),
        ];
        for (no_acl, principal, host, op, kind, name, want) in cases {
            assert_eq!(
                acls.authorize(&policy(*no_acl), principal, host, *op, *kind, name),
                *want,
                "{principal}@{host} {op:?} {kind:?}:{name} (allow.everyone.if.no.acl.found={no_acl})"
            );
        }
    }
}
