//! A SASL lab's security (`kroll-lab up --security sasl`,
//! [`Security::Sasl`]): its SASL/PLAIN
//! users and their passwords in a JAAS file, kroll's password file, and the ACLs written into
//! ZooKeeper before the brokers start — the journal's stack (its `KAFKA_JAAS` secret,
//! `AclAuthorizer`, `User:admin` the super user, `User:ANONYMOUS` allowed everything so the
//! PLAINTEXT listeners' clients keep working) plus the minimal rights kroll needs as
//! `User:kroll` ([`KROLL_ACLS`]).
//!
//! Passwords are random, made once per lab and kept in `<dir>/secrets/KAFKA_JAAS` (mode 0600,
//! owned by the brokers' `appuser`, bind-mounted read-only where the journal's Swarm secret
//! appears) and in `<dir>/kafka-password` (kroll's, mode 0600, named by the inventory's
//! `[kafka] password_file`). A running lab keeps them: `up` again reads them back. In memory a
//! password is a [`Password`]: no `Display`, no `Serialize`, `Debug` is `<redacted>`.
//!
//! A `sasl-ssl` lab ([`Security::SaslSsl`]) also logs the same users in with SCRAM: their
//! credentials (never the passwords) are written where Kafka keeps them,
//! `/config/users/<user>` in ZooKeeper ([`write_scram_credentials`]), and the principal of
//! kroll's client certificate on `SSL_EXT`, `User:CN=kroll`, gets kroll's ACLs.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::LabError;
use super::kafka::{AclEntry, set_acls};
use super::topology::{JAAS_FILE, KROLL_USER, LabSpec, PASSWORD_FILE, Security};

/// The super user (`KAFKA_SUPER_USERS=User:admin`) and the brokers' own login on `SASL_INT`.
pub const ADMIN_USER: &str = "admin";
/// A user with a password and no ACL: what a client the operators never granted anything sees.
pub const NOBODY_USER: &str = "nobody";
/// The principal of every client on a PLAINTEXT listener.
pub const ANONYMOUS: &str = "User:ANONYMOUS";
/// The cluster resource's name in ACLs.
pub const CLUSTER: &str = "kafka-cluster";
/// The uid the lab's images run as (`appuser`): the owner of the JAAS file, which the brokers
/// read (and of the REST services' secrets, `crate::rest_auth`).
pub(crate) const BROKER_UID: u32 = 1000;

/// The ACLs one principal gets on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// `Topic`, `Group` or `Cluster`.
    pub resource_type: &'static str,
    /// A literal name; `*` is every resource of the type, [`CLUSTER`] the cluster.
    pub name: &'static str,
    /// Kafka's operation names, each allowed from any host.
    pub operations: &'static [&'static str],
}

/// What `User:kroll` may do — exactly what kroll reads: topics' metadata and end offsets
/// (Topic `Describe`), each topic's `min.insync.replicas` for the gates (Topic
/// `DescribeConfigs`), key samples (Topic `Read`), Connect sink groups' committed offsets
/// (Group `Describe`, `Read`) — the README's list, and nothing more: nothing on the cluster
/// (Metadata names the brokers and the controller to anyone), nothing that writes, creates,
/// deletes or alters. Every SASL lab's upgrade runs kroll with exactly these.
pub const KROLL_ACLS: &[Grant] = &[
    Grant {
        resource_type: "Topic",
        name: "*",
        operations: &["Describe", "DescribeConfigs", "Read"],
    },
    Grant {
        resource_type: "Group",
        name: "*",
        operations: &["Describe", "Read"],
    },
];

/// The journal's rules for `User:ANONYMOUS` (`kafka-acls … --allow-principal User:ANONYMOUS
/// --operation ALL` on `--cluster`, `--topic=*`, `--group=*`): the lab's Connect workers,
/// Schema Registry, REST proxy and Kafdrop on `PLAINTEXT_INT` work as in a PLAINTEXT lab.
pub const ANONYMOUS_ACLS: &[Grant] = &[
    Grant {
        resource_type: "Cluster",
        name: CLUSTER,
        operations: &["All"],
    },
    Grant {
        resource_type: "Topic",
        name: "*",
        operations: &["All"],
    },
    Grant {
        resource_type: "Group",
        name: "*",
        operations: &["All"],
    },
];

/// A password: compared and sent, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(kroll_shared::secrets::REDACTED)
    }
}

impl Password {
    /// The value, for the one place it is used (a client's configuration).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A password read back from a file the lab wrote: ASCII letters and digits only (what
    /// [`Password::random`] makes), else `None`.
    pub(crate) fn read_back(value: &str) -> Option<Self> {
        (!value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(value.to_owned()))
    }

    /// 32 random hex digits (128 bits from the system's generator).
    pub(crate) fn random() -> Result<Self, LabError> {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| LabError::Security("the system's random generator failed".into()))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }
}

/// The passwords of a SASL lab's users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabUsers {
    /// [`ADMIN_USER`]'s.
    pub admin: Password,
    /// [`KROLL_USER`]'s.
    pub kroll: Password,
    /// [`NOBODY_USER`]'s.
    pub nobody: Password,
}

impl LabUsers {
    fn random() -> Result<Self, LabError> {
        Ok(Self {
            admin: Password::random()?,
            kroll: Password::random()?,
            nobody: Password::random()?,
        })
    }

    fn each(&self) -> [(&'static str, &Password); 3] {
        [
            (ADMIN_USER, &self.admin),
            (KROLL_USER, &self.kroll),
            (NOBODY_USER, &self.nobody),
        ]
    }

    /// The JAAS file: one `KafkaServer` section whose `username`/`password` the brokers log in
    /// with on `SASL_INT` and whose `user_<name>` options are the users they accept.
    fn jaas(&self) -> String {
        let mut s = String::from(
            "// A SASL lab's JAAS file, written by `kroll-lab up --security sasl` (deploy/lab/LAB.md),\n\
             // mounted read-only into every broker at /run/secrets/KAFKA_JAAS like the journal's\n\
             // Swarm secret KAFKA_JAAS.\n\
             KafkaServer {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n",
        );
        s.push_str(&format!(
            "  username=\"{ADMIN_USER}\"\n  password=\"{}\"\n",
            self.admin.expose()
        ));
        let users: Vec<String> = self
            .each()
            .iter()
            .map(|(name, p)| format!("  user_{name}=\"{}\"", p.expose()))
            .collect();
        s.push_str(&users.join("\n"));
        s.push_str(";\n};\n");
        s
    }

    /// The users of a JAAS file [`LabUsers::jaas`] wrote; `None` when one is missing.
    fn from_jaas(text: &str) -> Option<Self> {
        let user = |name: &str| {
            let key = format!("user_{name}=\"");
            text.lines().find_map(|l| {
                let value = l.trim().strip_prefix(&key)?;
                let value = value.strip_suffix(';').unwrap_or(value).strip_suffix('"')?;
                Password::read_back(value)
            })
        };
        Some(Self {
            admin: user(ADMIN_USER)?,
            kroll: user(KROLL_USER)?,
            nobody: user(NOBODY_USER)?,
        })
    }
}

/// A SASL user as tests and people log in with it.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub username: String,
    /// Never serialized (`kroll-lab up --output json` shows the user, not the password).
    #[serde(skip)]
    pub password: Password,
}

impl Credentials {
    pub(crate) fn new(username: &str, password: &Password) -> Self {
        Self {
            username: username.to_owned(),
            password: password.clone(),
        }
    }
}

/// How a SASL lab is reached over `SASL_EXT`, and as whom.
#[derive(Debug, Clone, Serialize)]
pub struct SaslAccess {
    /// The brokers' `SASL_EXT` listeners from the host.
    pub bootstrap: Vec<String>,
    /// `SASL_PLAINTEXT`.
    pub security_protocol: &'static str,
    /// `PLAIN`.
    pub sasl_mechanism: &'static str,
    /// The super user.
    pub admin: Credentials,
    /// kroll's user, with [`KROLL_ACLS`].
    pub kroll: Credentials,
    /// A user without any ACL.
    pub nobody: Credentials,
    /// The JAAS file every broker mounts (every user's password).
    pub jaas_file: PathBuf,
    /// kroll's password file (the inventory's `[kafka] password_file`).
    pub password_file: PathBuf,
}

impl SaslAccess {
    /// The access to a SASL lab `spec` in `dir` whose passwords are `users`.
    pub fn new(spec: &LabSpec, dir: &Path, users: &LabUsers) -> Self {
        Self {
            bootstrap: spec.sasl_bootstrap(),
            security_protocol: "SASL_PLAINTEXT",
            sasl_mechanism: "PLAIN",
            admin: Credentials::new(ADMIN_USER, &users.admin),
            kroll: Credentials::new(KROLL_USER, &users.kroll),
            nobody: Credentials::new(NOBODY_USER, &users.nobody),
            jaas_file: dir.join(JAAS_FILE),
            password_file: dir.join(PASSWORD_FILE),
        }
    }
}

/// Makes (or, on a lab that has them, reads back) the users' passwords: the JAAS file
/// (`<dir>/secrets/KAFKA_JAAS`, mode 0600, owned by the brokers' uid, its directory 0700) and
/// kroll's password file (`<dir>/kafka-password`, mode 0600).
pub fn ensure_files(dir: &Path) -> Result<LabUsers, LabError> {
    let jaas = dir.join(JAAS_FILE);
    let users = match std::fs::read_to_string(&jaas) {
        Ok(text) => LabUsers::from_jaas(&text).ok_or_else(|| {
            LabError::Usage(format!(
                "{} is not a JAAS file `kroll-lab up` wrote (a user_admin, user_kroll or user_nobody is missing); `kroll-lab down` the lab first",
                jaas.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let users = LabUsers::random()?;
            if let Some(secrets) = jaas.parent() {
                private_dir(secrets)?;
            }
            write_private(&jaas, &users.jaas())?;
            users
        }
        Err(e) => return Err(LabError::io(&jaas)(e)),
    };
    // Kept in place when it exists: the brokers' bind mounts hold its inode.
    give_to_services(&jaas)?;
    write_private(
        &dir.join(PASSWORD_FILE),
        &format!("{}\n", users.kroll.expose()),
    )?;
    Ok(users)
}

/// Makes the directory `path` (and its parents) and leaves it mode 0700: where the lab keeps
/// secrets and keys.
pub(crate) fn private_dir(path: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(path).map_err(LabError::io(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(LabError::io(path))
}

/// Makes `path` mode 0600 and owned by uid 1000 (`appuser`, whom every lab image runs as): a
/// secret only the services that mount it read.
pub(crate) fn give_to_services(path: &Path) -> Result<(), LabError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(LabError::io(path))?;
    std::os::unix::fs::chown(path, Some(BROKER_UID), Some(BROKER_UID)).map_err(|e| {
        LabError::Security(format!(
            "{}: giving it to uid {BROKER_UID} (the services' appuser, the only reader of a mode-0600 file) failed: {e}; run kroll-lab as root",
            path.display()
        ))
    })
}

/// Writes `text` to `path` through a temporary file created with mode 0600 (never readable by
/// others, not even for a moment), then renamed over it.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), LabError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LabError::io(&tmp)(e)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(LabError::io(&tmp))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(LabError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(LabError::io(path))
}

/// The lab's ACL znodes: [`ANONYMOUS_ACLS`] and [`KROLL_ACLS`] (for `User:kroll`, and in a
/// `sasl-ssl` lab for kroll's certificate, `User:CN=kroll`, too) merged per resource
/// (`(type, name, entries)`), as [`set_acls`] writes them.
pub fn acl_znodes(security: Security) -> Vec<(&'static str, &'static str, Vec<AclEntry>)> {
    let kroll = format!("User:{KROLL_USER}");
    let kroll_cert = format!("User:CN={KROLL_USER}");
    let mut tables = vec![(ANONYMOUS, ANONYMOUS_ACLS), (kroll.as_str(), KROLL_ACLS)];
    if security.is_tls() {
        tables.push((kroll_cert.as_str(), KROLL_ACLS));
    }
    let mut out: Vec<(&'static str, &'static str, Vec<AclEntry>)> = Vec::new();
    for (principal, table) in tables {
        for g in table {
            let entries = g.operations.iter().map(|op| AclEntry::allow(principal, op));
            match out
                .iter_mut()
                .find(|(t, n, _)| *t == g.resource_type && *n == g.name)
            {
                Some((_, _, acls)) => acls.extend(entries),
                None => out.push((g.resource_type, g.name, entries.collect())),
            }
        }
    }
    out
}

/// Writes the lab's ACLs into ZooKeeper at `zookeeper` (the server list; Kafka's chroot is
/// added), replacing what those resources held; retried for up to a minute.
pub async fn write_acls(zookeeper: &str, security: Security) -> Result<(), LabError> {
    super::ready::until(
        "the lab's ACLs to be written into ZooKeeper",
        Duration::from_secs(60),
        || async move {
            for (resource_type, name, acls) in acl_znodes(security) {
                set_acls(zookeeper, resource_type, name, &acls).await?;
            }
            Ok(())
        },
    )
    .await
}

/// Every user's SCRAM-SHA-256 and SCRAM-SHA-512 credential (4096 iterations, a random salt)
/// as Kafka's `/config/users/<user>` znode holds it.
pub fn scram_znodes(users: &LabUsers) -> Result<Vec<(String, Vec<u8>)>, LabError> {
    use kroll_lab_broker::scram::{self, MIN_ITERATIONS, ScramCredential, ScramMechanism};
    use ring::rand::SecureRandom as _;
    let random = ring::rand::SystemRandom::new();
    let mut out = Vec::new();
    for (name, password) in users.each() {
        let mut credentials = Vec::new();
        for m in ScramMechanism::ALL {
            let mut salt = [0u8; 16];
            random
                .fill(&mut salt)
                .map_err(|_| LabError::Security("the system's random generator failed".into()))?;
            credentials.push((
                m,
                ScramCredential::new(m, password.expose(), &salt, MIN_ITERATIONS),
            ));
        }
        let body = serde_json::to_vec(&scram::user_config_json(&credentials))
            .map_err(|e| LabError::Security(format!("encoding SCRAM credentials: {e}")))?;
        out.push((scram::user_config_path(name), body));
    }
    Ok(out)
}

/// Writes [`scram_znodes`] into ZooKeeper at `zookeeper` (Kafka's chroot added), the way
/// `kafka-configs --alter --add-config 'SCRAM-SHA-256=[password=…]'` does; retried for up to a
/// minute.
pub async fn write_scram_credentials(zookeeper: &str, users: &LabUsers) -> Result<(), LabError> {
    let znodes = scram_znodes(users)?;
    let znodes = &znodes;
    super::ready::until(
        "the lab's SCRAM credentials to be written into ZooKeeper",
        Duration::from_secs(60),
        || async move {
            for (path, body) in znodes {
                super::kafka::set_znode(zookeeper, path, body).await?;
            }
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    use super::*;

    #[test]
    fn kroll_gets_exactly_the_reads_it_needs_and_anonymous_the_journals_all() {
        let znodes = acl_znodes(Security::Sasl);
        let of = |t: &str, n: &str| -> Vec<(String, String)> {
            znodes
                .iter()
                .find(|(rt, rn, _)| *rt == t && *rn == n)
                .map(|(_, _, acls)| {
                    acls.iter()
                        .map(|a| {
                            assert_eq!(
                                (a.permission_type.as_str(), a.host.as_str()),
                                ("Allow", "*")
                            );
                            (a.principal.clone(), a.operation.clone())
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(p, o)| ((*p).to_owned(), (*o).to_owned()))
                .collect()
        };
        assert_eq!(znodes.len(), 3, "three resources: {znodes:?}");
        assert_eq!(
            of("Topic", "*"),
            pairs(&[
                ("User:ANONYMOUS", "All"),
                ("User:kroll", "Describe"),
                ("User:kroll", "DescribeConfigs"),
                ("User:kroll", "Read"),
            ])
        );
        assert_eq!(
            of("Group", "*"),
            pairs(&[
                ("User:ANONYMOUS", "All"),
                ("User:kroll", "Describe"),
                ("User:kroll", "Read"),
            ])
        );
        // kroll gets nothing on the cluster.
        assert_eq!(
            of("Cluster", "kafka-cluster"),
            pairs(&[("User:ANONYMOUS", "All")])
        );
        // Kafka's znode format, as the lab broker's `acl.rs` reads it.
        let json = serde_json::to_value(of_entries(&znodes, "Group")).expect("json");
        assert_eq!(
            json[1],
            serde_json::json!({"principal": "User:kroll", "permissionType": "Allow", "operation": "Describe", "host": "*"})
        );
    }

    #[test]
    fn a_sasl_ssl_lab_gives_krolls_certificate_krolls_acls_and_scram_credentials() {
        let znodes = acl_znodes(Security::SaslSsl);
        for (t, n, ops) in [
            ("Topic", "*", 3),
            ("Group", "*", 2),
            ("Cluster", "kafka-cluster", 0),
        ] {
            let cert: Vec<&AclEntry> = znodes
                .iter()
                .filter(|(rt, rn, _)| *rt == t && *rn == n)
                .flat_map(|(_, _, acls)| acls)
                .filter(|a| a.principal == "User:CN=kroll")
                .collect();
            assert_eq!(cert.len(), ops, "{t} {n}: {cert:?}");
        }
        let users = LabUsers::random().expect("random");
        let scram = scram_znodes(&users).expect("scram");
        assert_eq!(scram.len(), 3);
        let (path, body) = &scram[1];
        assert_eq!(path, "/config/users/kroll");
        use kroll_lab_broker::scram::{
            ScramCredential, ScramMechanism, credential_from_user_config,
        };
        for m in ScramMechanism::ALL {
            let stored = credential_from_user_config(body, m)
                .expect("parses")
                .expect("has the mechanism");
            assert_eq!(stored.iterations, 4096);
            let again = ScramCredential::new(m, users.kroll.expose(), &stored.salt, 4096);
            assert_eq!(again, stored, "{m:?}: the credential of kroll's password");
        }
        let text = String::from_utf8_lossy(body);
        assert!(
            !text.contains(users.kroll.expose()),
            "no password in the znode"
        );
        assert!(text.contains("\"SCRAM-SHA-512\":\"salt="), "{text}");
    }

    fn of_entries<'a>(znodes: &'a [(&str, &str, Vec<AclEntry>)], t: &str) -> &'a [AclEntry] {
        znodes
            .iter()
            .find(|(rt, _, _)| *rt == t)
            .map(|(_, _, a)| a.as_slice())
            .unwrap_or_default()
    }

    #[test]
    fn the_jaas_file_names_every_user_and_reads_back() {
        let users = LabUsers::random().expect("random");
        assert_ne!(users.admin, users.kroll);
        assert_eq!(users.kroll.expose().len(), 32);
        let text = users.jaas();
        assert!(text.contains("KafkaServer {"), "{text}");
        assert!(text.contains("username=\"admin\""));
        assert!(
            text.trim_end().ends_with(";\n};"),
            "one module, one section"
        );
        assert_eq!(LabUsers::from_jaas(&text), Some(users.clone()));
        let without_nobody: String = text
            .lines()
            .filter(|l| !l.contains("user_nobody"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(LabUsers::from_jaas(&without_nobody), None);
        let shown = format!("{users:?}");
        for (_, p) in users.each() {
            assert!(!shown.contains(p.expose()), "Debug shows a password");
        }
    }

    #[test]
    fn files_are_private_and_a_second_up_keeps_the_passwords() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_files(dir.path()).expect("first");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let jaas = dir.path().join(JAAS_FILE);
        let password = dir.path().join(PASSWORD_FILE);
        assert_eq!(mode(&jaas), 0o600);
        assert_eq!(mode(&password), 0o600);
        assert_eq!(mode(jaas.parent().expect("secrets")), 0o700);
        assert_eq!(
            std::fs::metadata(&jaas).expect("metadata").uid(),
            BROKER_UID
        );
        let written = std::fs::read_to_string(&password).expect("password file");
        assert_eq!(written.trim_end(), first.kroll.expose());
        let inode = std::fs::metadata(&jaas).expect("metadata").ino();
        let second = ensure_files(dir.path()).expect("second");
        assert_eq!(second, first);
        assert_eq!(
            std::fs::metadata(&jaas).expect("metadata").ino(),
            inode,
            "the mounted JAAS file is kept in place"
        );
        std::fs::write(&jaas, "KafkaServer {\n};\n").expect("overwrite");
        let err = ensure_files(dir.path()).expect_err("foreign JAAS");
        assert!(
            err.is_usage() && err.to_string().contains("KAFKA_JAAS"),
            "{err}"
        );
    }
}
