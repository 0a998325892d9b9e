//! A SASL lab's REST logins (`kroll-lab up --security sasl` / `sasl-ssl`): HTTP basic auth on
//! the Connect workers, Schema Registry and the REST proxy, configured as an operator secures
//! Confluent's images — Connect with `BasicAuthSecurityRestExtension` and a `KafkaConnect` JAAS
//! section naming a password file; Schema Registry and the REST proxy with
//! `…_AUTHENTICATION_METHOD=BASIC`, a realm, roles and a JAAS file whose section names a
//! Jetty-style password file — and the Connect workers' converters logging in to Schema
//! Registry with `basic.auth.credentials.source=USER_INFO` and a `basic.auth.user.info` that
//! is a `${file:…}` variable of Kafka's `FileConfigProvider`, so no password is in a
//! connector's configuration or a container's environment.
//!
//! Users ([`RestUsers`]): `admin` (every service; what `kroll-lab` itself, the tests and people
//! use), `kroll` (Connect and Schema Registry: the coordinator, the inventory's `[connect]` /
//! `[schema_registry]`) and `connect` (Schema Registry: the workers' converters). Their
//! passwords are random, made at the first `up` and kept by later ones, in the files of
//! [`RestFile`] under `<dir>/secrets/` (mode 0600, owned by uid 1000, the services'
//! `appuser`; bind-mounted read-only at `/run/secrets/<NAME>`, on a Swarm lab Swarm secrets of
//! the same targets), and kroll's in `<dir>/rest-password` (mode 0600) beside the inventory.
//! No password is in an environment, a connector configuration, the inventory, `lab.json` or
//! what `kroll-lab` prints: in memory they are [`Password`]s.

use std::path::{Path, PathBuf};

use kroll_shared::inventory::ServiceKind;
use serde::Serialize;

use super::LabError;
use super::security::{self, ADMIN_USER, Credentials, Password};
use super::topology::{KROLL_USER, SECRETS_DIR};

/// The Connect workers' user in Schema Registry (their converters').
pub const CONNECT_USER: &str = "connect";
/// kroll's REST password file, relative to the lab directory (and to the inventory: its
/// `[connect]` / `[schema_registry]` `password_file`).
pub const REST_PASSWORD_FILE: &str = "rest-password";
/// Where a REST secret appears in a container (a Swarm secret's target directory).
pub const SECRETS_TARGET_DIR: &str = "/run/secrets";
/// Connect's basic-auth extension.
pub const CONNECT_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
/// Kafka's file config provider.
pub const FILE_CONFIG_PROVIDER: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
/// The key of [`RestFile::ConnectSchemaRegistry`] that holds the converters' `user:password`.
pub const USER_INFO_KEY: &str = "basic.auth.user.info";
/// Schema Registry's realm (its JAAS section): rest-utils' default name.
pub const SCHEMA_REGISTRY_REALM: &str = "SchemaRegistry";
/// The REST proxy's realm (its JAAS section): rest-utils' default name.
pub const REST_PROXY_REALM: &str = "KafkaRest";
/// The roles Schema Registry admits (`SCHEMA_REGISTRY_AUTHENTICATION_ROLES`).
pub const SCHEMA_REGISTRY_ROLES: &str = "admin,user";
/// The roles the REST proxy admits (`KAFKA_REST_AUTHENTICATION_ROLES`).
pub const REST_PROXY_ROLES: &str = "admin";

/// One secret file of the REST services: on the host `<dir>/secrets/<name>`, in the
/// containers of [`RestFile::kind`] at `/run/secrets/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RestFile {
    /// Connect's JAAS file: a `KafkaConnect` section naming [`RestFile::ConnectPasswords`].
    ConnectJaas,
    /// The users Connect's REST API admits: `user: password` lines.
    ConnectPasswords,
    /// The converters' Schema Registry login, `basic.auth.user.info=connect:<password>`, read
    /// through the workers' `FileConfigProvider`.
    ConnectSchemaRegistry,
    /// Schema Registry's JAAS file: a `SchemaRegistry` section naming its password file.
    SchemaRegistryJaas,
    /// The users Schema Registry admits: Jetty's `user: password,role` lines.
    SchemaRegistryPasswords,
    /// The REST proxy's JAAS file: a `KafkaRest` section naming its password file.
    RestProxyJaas,
    /// The users the REST proxy admits: Jetty's `user: password,role` lines.
    RestProxyPasswords,
}

impl RestFile {
    /// Every file, in the order they are written.
    pub const ALL: [RestFile; 7] = [
        Self::ConnectJaas,
        Self::ConnectPasswords,
        Self::ConnectSchemaRegistry,
        Self::SchemaRegistryJaas,
        Self::SchemaRegistryPasswords,
        Self::RestProxyJaas,
        Self::RestProxyPasswords,
    ];

    /// Its name: on the host below `<dir>/secrets/`, in a container below `/run/secrets/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConnectJaas => "CONNECT_JAAS",
            Self::ConnectPasswords => "CONNECT_PASSWORDS",
            Self::ConnectSchemaRegistry => "CONNECT_SCHEMA_REGISTRY",
            Self::SchemaRegistryJaas => "SCHEMA_REGISTRY_JAAS",
            Self::SchemaRegistryPasswords => "SCHEMA_REGISTRY_PASSWORDS",
            Self::RestProxyJaas => "KAFKA_REST_JAAS",
            Self::RestProxyPasswords => "KAFKA_REST_PASSWORDS",
        }
    }

    /// Where a container sees it.
    pub fn target(self) -> String {
        format!("{SECRETS_TARGET_DIR}/{}", self.name())
    }

    /// The kind of service whose containers mount it.
    pub fn kind(self) -> ServiceKind {
        match self {
            Self::ConnectJaas | Self::ConnectPasswords | Self::ConnectSchemaRegistry => {
                ServiceKind::Connect
            }
            Self::SchemaRegistryJaas | Self::SchemaRegistryPasswords => ServiceKind::SchemaRegistry,
            Self::RestProxyJaas | Self::RestProxyPasswords => ServiceKind::RestProxy,
        }
    }

    /// The files the containers of `kind` mount.
    pub fn of(kind: ServiceKind) -> impl Iterator<Item = RestFile> {
        Self::ALL.into_iter().filter(move |f| f.kind() == kind)
    }
}

/// The `${file:…}` variable the Connect workers' converters take their Schema Registry login
/// from (`basic.auth.user.info`).
pub fn user_info_variable() -> String {
    format!(
        "${{file:{}:{USER_INFO_KEY}}}",
        RestFile::ConnectSchemaRegistry.target()
    )
}

/// The passwords of the REST users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestUsers {
    /// [`ADMIN_USER`]'s: every service.
    pub admin: Password,
    /// [`KROLL_USER`]'s: Connect and Schema Registry.
    pub kroll: Password,
    /// [`CONNECT_USER`]'s: Schema Registry.
    pub connect: Password,
}

/// The head of every file the lab writes for its REST services.
const HEAD: &str = "written by `kroll-lab up --security sasl` (deploy/lab/LAB.md)";

/// A JAAS file of one `section` whose login module reads the password file at `file`.
fn jaas(section: &str, module: &str, file: &str) -> String {
    format!(
        "// {section}'s basic-auth users, {HEAD}.\n{section} {{\n  {module} required\n  file=\"{file}\";\n}};\n"
    )
}

impl RestUsers {
    fn random() -> Result<Self, LabError> {
        Ok(Self {
            admin: Password::random()?,
            kroll: Password::random()?,
            connect: Password::random()?,
        })
    }

    /// The text of `file`.
    pub(crate) fn render(&self, file: RestFile) -> String {
        let line = |user: &str, p: &Password, role: Option<&str>| match role {
            Some(role) => format!("{user}: {},{role}\n", p.expose()),
            None => format!("{user}: {}\n", p.expose()),
        };
        match file {
            RestFile::ConnectJaas => jaas(
                "KafkaConnect",
                "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule",
                &RestFile::ConnectPasswords.target(),
            ),
            RestFile::SchemaRegistryJaas => jaas(
                SCHEMA_REGISTRY_REALM,
                "org.eclipse.jetty.jaas.spi.PropertyFileLoginModule",
                &RestFile::SchemaRegistryPasswords.target(),
            ),
            RestFile::RestProxyJaas => jaas(
                REST_PROXY_REALM,
                "org.eclipse.jetty.jaas.spi.PropertyFileLoginModule",
                &RestFile::RestProxyPasswords.target(),
            ),
            RestFile::ConnectPasswords => format!(
                "# {HEAD}\n{}{}",
                line(ADMIN_USER, &self.admin, None),
                line(KROLL_USER, &self.kroll, None)
            ),
            RestFile::SchemaRegistryPasswords => format!(
                "# {HEAD}\n{}{}{}",
                line(ADMIN_USER, &self.admin, Some("admin")),
                line(KROLL_USER, &self.kroll, Some("user")),
                line(CONNECT_USER, &self.connect, Some("user"))
            ),
            RestFile::RestProxyPasswords => {
                format!("# {HEAD}\n{}", line(ADMIN_USER, &self.admin, Some("admin")))
            }
            RestFile::ConnectSchemaRegistry => format!(
                "# The Connect workers' Schema Registry login, {HEAD}.\n{USER_INFO_KEY}={CONNECT_USER}:{}\n",
                self.connect.expose()
            ),
        }
    }

    /// The users of a [`RestFile::SchemaRegistryPasswords`] text this module wrote; `None` when
    /// one is missing.
    fn from_passwords(text: &str) -> Option<Self> {
        let user = |name: &str| {
            let key = format!("{name}: ");
            text.lines().find_map(|l| {
                let rest = l.strip_prefix(&key)?;
                Password::read_back(rest.split(',').next()?.trim())
            })
        };
        Some(Self {
            admin: user(ADMIN_USER)?,
            kroll: user(KROLL_USER)?,
            connect: user(CONNECT_USER)?,
        })
    }
}

/// How a SASL lab's REST services are logged in to, and as whom (passwords never serialized).
#[derive(Debug, Clone, Serialize)]
pub struct RestAuth {
    /// Every service's user: `kroll-lab`, the tests, people.
    pub admin: Credentials,
    /// kroll's user on Connect and Schema Registry (the inventory's).
    pub kroll: Credentials,
    /// The Connect workers' user on Schema Registry.
    pub connect: Credentials,
    /// kroll's password file: the inventory's `[connect]` / `[schema_registry]` `password_file`.
    pub password_file: PathBuf,
    /// Every file the services mount (each user's password is in some of them).
    pub secrets: Vec<PathBuf>,
}

impl RestAuth {
    /// The access to the REST services of the lab in `dir` whose passwords are `users`.
    pub fn new(dir: &Path, users: &RestUsers) -> Self {
        Self {
            admin: Credentials::new(ADMIN_USER, &users.admin),
            kroll: Credentials::new(KROLL_USER, &users.kroll),
            connect: Credentials::new(CONNECT_USER, &users.connect),
            password_file: dir.join(REST_PASSWORD_FILE),
            secrets: RestFile::ALL.iter().map(|f| host_path(dir, *f)).collect(),
        }
    }
}

/// Where `file` is on the host: `<dir>/secrets/<name>`.
pub fn host_path(dir: &Path, file: RestFile) -> PathBuf {
    dir.join(SECRETS_DIR).join(file.name())
}

/// Makes (or, on a lab that has them, reads back) the REST users' passwords and writes every
/// [`RestFile`] that is missing or not what it should be (mode 0600, owned by the services'
/// uid, in the 0700 `secrets/`) and kroll's password file (`<dir>/rest-password`, 0600).
pub fn ensure_files(dir: &Path) -> Result<RestUsers, LabError> {
    let known = host_path(dir, RestFile::SchemaRegistryPasswords);
    let users = match std::fs::read_to_string(&known) {
        Ok(text) => RestUsers::from_passwords(&text).ok_or_else(|| {
            LabError::Usage(format!(
                "{} is not a password file `kroll-lab up` wrote (a line for admin, kroll or connect is missing); `kroll-lab down` the lab first",
                known.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RestUsers::random()?,
        Err(e) => return Err(LabError::io(&known)(e)),
    };
    security::private_dir(&dir.join(SECRETS_DIR))?;
    for file in RestFile::ALL {
        let path = host_path(dir, file);
        let text = users.render(file);
        // Rewritten only when it differs: a running service's bind mount holds the inode.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            security::write_private(&path, &text)?;
        }
        security::give_to_services(&path)?;
    }
    security::write_private(
        &dir.join(REST_PASSWORD_FILE),
        &format!("{}\n", users.kroll.expose()),
    )?;
    Ok(users)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    use super::*;

    #[test]
    fn each_service_admits_its_users_as_confluents_images_read_them() {
        let users = RestUsers::random().expect("random");
        let jaas = users.render(RestFile::ConnectJaas);
        assert!(
            jaas.contains(
                "KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"/run/secrets/CONNECT_PASSWORDS\";\n};\n"
            ),
            "{jaas}"
        );
        let sr = users.render(RestFile::SchemaRegistryJaas);
        assert!(
            sr.contains("SchemaRegistry {\n  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n  file=\"/run/secrets/SCHEMA_REGISTRY_PASSWORDS\";"),
            "{sr}"
        );
        assert!(
            users
                .render(RestFile::RestProxyJaas)
                .contains("KafkaRest {\n  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n  file=\"/run/secrets/KAFKA_REST_PASSWORDS\";"),
        );
        let lines = |f: RestFile| -> Vec<String> {
            users
                .render(f)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        let (a, k, c) = (
            users.admin.expose(),
            users.kroll.expose(),
            users.connect.expose(),
        );
        assert_eq!(
            lines(RestFile::ConnectPasswords),
            [format!("admin: {a}"), format!("kroll: {k}")]
        );
        assert_eq!(
            lines(RestFile::SchemaRegistryPasswords),
            [
                format!("admin: {a},admin"),
                format!("kroll: {k},user"),
                format!("connect: {c},user")
            ]
        );
        assert_eq!(
            lines(RestFile::RestProxyPasswords),
            [format!("admin: {a},admin")]
        );
        assert_eq!(
            lines(RestFile::ConnectSchemaRegistry),
            [format!("basic.auth.user.info=connect:{c}")]
        );
        assert_eq!(
            user_info_variable(),
            "${file:/run/secrets/CONNECT_SCHEMA_REGISTRY:basic.auth.user.info}"
        );
        // No JAAS file holds a password; every password file is read back to the same users.
        for f in [
            RestFile::ConnectJaas,
            RestFile::SchemaRegistryJaas,
            RestFile::RestProxyJaas,
        ] {
            let text = users.render(f);
            assert!(!text.contains(a) && !text.contains(k) && !text.contains(c));
        }
        assert_eq!(
            RestUsers::from_passwords(&users.render(RestFile::SchemaRegistryPasswords)),
            Some(users.clone())
        );
        assert_eq!(
            RestUsers::from_passwords(&users.render(RestFile::RestProxyPasswords)),
            None,
            "kroll and connect are missing"
        );
        let shown = format!("{users:?}");
        assert!(!shown.contains(a) && !shown.contains(k) && !shown.contains(c));
    }

    #[test]
    fn every_file_is_mounted_by_its_service_only() {
        let by = |kind| RestFile::of(kind).map(RestFile::name).collect::<Vec<_>>();
        assert_eq!(
            by(ServiceKind::Connect),
            [
                "CONNECT_JAAS",
                "CONNECT_PASSWORDS",
                "CONNECT_SCHEMA_REGISTRY"
            ]
        );
        assert_eq!(
            by(ServiceKind::SchemaRegistry),
            ["SCHEMA_REGISTRY_JAAS", "SCHEMA_REGISTRY_PASSWORDS"]
        );
        assert_eq!(
            by(ServiceKind::RestProxy),
            ["KAFKA_REST_JAAS", "KAFKA_REST_PASSWORDS"]
        );
        assert_eq!(by(ServiceKind::Kafdrop), Vec::<&str>::new());
        assert_eq!(by(ServiceKind::Broker), Vec::<&str>::new());
        assert_eq!(RestFile::ConnectJaas.target(), "/run/secrets/CONNECT_JAAS");
    }

    #[test]
    fn files_are_private_and_a_second_up_keeps_the_passwords_and_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_files(dir.path()).expect("first");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let access = RestAuth::new(dir.path(), &first);
        assert_eq!(access.secrets.len(), 7);
        let mut inodes = Vec::new();
        for f in &access.secrets {
            assert_eq!(mode(f), 0o600, "{}", f.display());
            let meta = std::fs::metadata(f).expect("metadata");
            assert_eq!(meta.uid(), security::BROKER_UID, "{}", f.display());
            inodes.push(meta.ino());
        }
        assert_eq!(mode(&dir.path().join("secrets")), 0o700);
        assert_eq!(mode(&access.password_file), 0o600);
        let written = std::fs::read_to_string(&access.password_file).expect("password file");
        assert_eq!(written.trim_end(), first.kroll.expose());
        let second = ensure_files(dir.path()).expect("second");
        assert_eq!(second, first);
        let again: Vec<u64> = access
            .secrets
            .iter()
            .map(|f| std::fs::metadata(f).expect("metadata").ino())
            .collect();
        assert_eq!(again, inodes, "the mounted files are kept in place");
        let json = serde_json::to_string(&access).expect("json");
        for p in [&first.admin, &first.kroll, &first.connect] {
            assert!(!json.contains(p.expose()), "a password in the JSON: {json}");
        }
        assert!(json.contains("\"username\":\"connect\""), "{json}");
        std::fs::write(
            host_path(dir.path(), RestFile::SchemaRegistryPasswords),
            "admin: x,admin\n",
        )
        .expect("overwrite");
        let err = ensure_files(dir.path()).expect_err("foreign password file");
        assert!(
            err.is_usage() && err.to_string().contains("SCHEMA_REGISTRY_PASSWORDS"),
            "{err}"
        );
    }
}
