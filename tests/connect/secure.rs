//! `kroll status` reads Connect and Schema Registry served over HTTPS by a private CA with
//! HTTP basic auth (and mutual TLS for the registry), the lab's JVM services configured the way
//! Confluent's are (https listeners, a `KafkaConnect` / `SchemaRegistry-Props` JAAS section
//! naming a password file). A wrong password is refused naming the endpoint and the user; an
//! untrusted CA, a wrong host name and a missing client certificate are TLS errors naming the
//! URL; an unset password variable and an inline password are named; no password is ever in
//! kroll's output.

use std::path::{Path, PathBuf};
use std::process::Command;

use kroll_shared::tls::{self, Role, Validity};
use kroll_tests::Pki;
use kroll_tests::hostlab::LabHome;
use kroll_tests::hostlab::cluster::{Service, schema_registry_with, worker_with};
use serde_json::Value;

const CONNECT_USER: &str = "kroll-connect";
const SR_USER: &str = "kroll-sr";
const SR_ENV: &str = "KROLL_TEST_SR_PASSWORD";

/// A password unlikely to appear anywhere by chance.
fn password(what: &str) -> String {
    format!("{what}-Pw-{}", kroll_tests::run_id())
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).expect("write");
    path.to_owned()
}

/// The lab's services over HTTPS with basic auth, and the files kroll is given.
struct SecureLab {
    dir: PathBuf,
    pki: Pki,
    connect: Service,
    sr: Service,
    connect_password: String,
    sr_password: String,
    _home: LabHome,
}

impl SecureLab {
    fn start() -> Self {
        let home = LabHome::new("7.7.1");
        let dir = home.dir("secure");
        let pki = Pki::new(&[]);
        let server = tls::issue(
            &pki.ca,
            Role::Agent,
            "lab-rest",
            &["127.0.0.1".to_owned()],
            Validity::default(),
        )
        .expect("server certificate");
        let keystore = write(
            &dir.join("server.pem"),
            &format!("{}{}", server.key_pem, server.cert_pem),
        );
        let ca = pki.path("ca.pem");
        let (connect_password, sr_password) = (password("connect"), password("sr"));

        let connect_users = write(
            &dir.join("connect.password"),
            &format!("{CONNECT_USER}: {connect_password}\n"),
        );
        let connect_jaas = write(
            &dir.join("connect-jaas.conf"),
            &format!(
                "KafkaConnect {{\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"{}\";\n}};\n",
                connect_users.display()
            ),
        );
        let sr_users = write(
            &dir.join("sr.password"),
            &format!("{SR_USER}: {sr_password},admin\n"),
        );
        let sr_jaas = write(
            &dir.join("sr-jaas.conf"),
            &format!(
                "SchemaRegistry-Props {{\n  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n  file=\"{}\"\n  debug=\"false\";\n}};\n",
                sr_users.display()
            ),
        );
        let pem = |p: &Path| p.display().to_string();
        let sr = schema_registry_with(
            &home,
            "https",
            &[
                ("SCHEMA_REGISTRY_SSL_KEYSTORE_LOCATION", pem(&keystore)),
                ("SCHEMA_REGISTRY_SSL_KEYSTORE_TYPE", "PEM".into()),
                ("SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION", pem(&ca)),
                ("SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE", "PEM".into()),
                (
                    "SCHEMA_REGISTRY_SSL_CLIENT_AUTHENTICATION",
                    "REQUIRED".into(),
                ),
                ("SCHEMA_REGISTRY_AUTHENTICATION_METHOD", "BASIC".into()),
                (
                    "SCHEMA_REGISTRY_AUTHENTICATION_REALM",
                    "SchemaRegistry-Props".into(),
                ),
                ("SCHEMA_REGISTRY_AUTHENTICATION_ROLES", "admin".into()),
                (
                    "SCHEMA_REGISTRY_OPTS",
                    format!("-Djava.security.auth.login.config={}", sr_jaas.display()),
                ),
            ],
        );
        let connect = worker_with(
            &home,
            "connect-01",
            &home.dir("cluster"),
            &sr.url,
            None,
            "https",
            &[
                ("CONNECT_LISTENERS_HTTPS_SSL_KEYSTORE_LOCATION", pem(&keystore)),
                ("CONNECT_LISTENERS_HTTPS_SSL_KEYSTORE_TYPE", "PEM".into()),
                (
                    "CONNECT_REST_EXTENSION_CLASSES",
                    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
                        .into(),
                ),
                (
                    "KAFKA_OPTS",
                    format!("-Djava.security.auth.login.config={}", connect_jaas.display()),
                ),
            ],
        );
        Self {
            dir,
            pki,
            connect,
            sr,
            connect_password,
            sr_password,
            _home: home,
        }
    }

    /// An inventory for the lab; `tweak` edits its text (a host name, a section's keys).
    fn inventory(&self, name: &str, tweak: impl Fn(String) -> String) -> PathBuf {
        let pw_file = write(
            &self.dir.join("kroll-connect-password"),
            &format!("{}\n", self.connect_password),
        );
        let p = |f: &str| self.pki.path(f).display().to_string();
        let text = format!(
            r#"[cluster]
name = "secure"

[tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"

[connect]
ca_file = "{ca}"
username = "{CONNECT_USER}"
password_file = "{pw}"

[schema_registry]
ca_file = "{ca}"
cert_file = "{cert}"
key_file = "{key}"
username = "{SR_USER}"
password_env = "{SR_ENV}"

[[nodes]]
name = "secure-01"
agent = "127.0.0.1:1"
services = [
  {{ kind = "connect", container = "connect-01", url = "{connect}" }},
  {{ kind = "schema-registry", container = "schema-registry", url = "{sr}" }},
]
"#,
            ca = p("ca.pem"),
            cert = p("coordinator.pem"),
            key = p("coordinator-key.pem"),
            pw = pw_file.display(),
            connect = self.connect.url,
            sr = self.sr.url,
        );
        write(&self.dir.join(format!("{name}.toml")), &tweak(text))
    }

    /// `kroll status` with `sr_password` in the environment: exit code, stdout, stderr. Fails
    /// the test if either password appears in the output.
    fn status(
        &self,
        inventory: &Path,
        sr_password: Option<&str>,
        json: bool,
    ) -> (i32, String, String) {
        let mut cmd = Command::new(kroll_tests::bin("kroll"));
        cmd.arg("--inventory").arg(inventory).arg("status");
        if json {
            cmd.args(["--output", "json"]);
        }
        // Debug logging on: no log line may carry a password either.
        cmd.env_remove(SR_ENV).env("KROLL_LOG", "debug");
        if let Some(pw) = sr_password {
            cmd.env(SR_ENV, pw);
        }
        let out = cmd.output().expect("run kroll");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        for secret in [&self.connect_password, &self.sr_password]
            .into_iter()
            .chain(sr_password.map(str::to_owned).as_ref())
        {
            assert!(
                !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
                "a password is in kroll's output:\n{stdout}\n{stderr}"
            );
        }
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn problems(&self, inventory: &Path, sr_password: Option<&str>) -> String {
        let (code, out, err) = self.status(inventory, sr_password, false);
        assert_eq!(code, 3, "status with problems exits 3:\n{out}\n{err}");
        out
    }
}

fn contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "missing `{needle}` in:\n{haystack}"
    );
}

#[test]
fn status_reads_connect_and_registry_over_https_with_basic_auth_and_names_refusals() {
    let lab = SecureLab::start();
    let sr_pw = lab.sr_password.clone();
    let good = lab.inventory("good", |t| t);

    let (code, out, err) = lab.status(&good, Some(&sr_pw), true);
    assert_eq!(
        code, 3,
        "the agent is unreachable, the rest answers:\n{out}\n{err}"
    );
    let s: Value = serde_json::from_str(&out).expect("status JSON");
    assert_eq!(s["connect"]["workers_answering"], 1, "{out}");
    assert_eq!(s["schema_registry"]["compatibility"], "BACKWARD", "{out}");
    let problems = s["problems"].to_string();
    assert!(!problems.contains("Connect worker"), "{problems}");
    assert!(!problems.contains("Schema Registry"), "{problems}");

    // A wrong password for both: each refusal names the endpoint and the user.
    let wrong_pw = password("wrong");
    std::fs::write(lab.dir.join("wrong-connect-pw"), &wrong_pw).expect("write");
    let wrong = lab.inventory("wrong", |t| {
        t.replace("kroll-connect-password", "wrong-connect-pw")
    });
    let out = lab.problems(&wrong, Some(&wrong_pw));
    assert!(!out.contains(&wrong_pw), "{out}");
    contains(
        &out,
        &format!(
            "Connect worker connect-01 at {}/: GET / answered 401: the credentials of user `{CONNECT_USER}` were refused",
            lab.connect.url
        ),
    );
    contains(
        &out,
        &format!(
            "Schema Registry at {}/: GET /config answered 401: the credentials of user `{SR_USER}` were refused",
            lab.sr.url
        ),
    );

    // A CA that did not sign the services' certificate.
    let other = tls::generate_ca("elsewhere", Validity::default()).expect("CA");
    let other_ca = write(&lab.dir.join("other-ca.pem"), &other.cert_pem)
        .display()
        .to_string();
    let untrusted = lab.inventory("untrusted", |t| {
        t.replacen(
            &format!("ca_file = \"{}\"", lab.pki.path("ca.pem").display()),
            &format!("ca_file = \"{other_ca}\""),
            2,
        )
    });
    let out = lab.problems(&untrusted, Some(&sr_pw));
    contains(
        &out,
        &format!(
            "Connect worker connect-01 at {}/: GET /: TLS failure: the server's certificate is not signed by a trusted CA: kroll trusts the CAs of {other_ca} ([connect] `ca_file`)",
            lab.connect.url
        ),
    );
    contains(
        &out,
        &format!(
            "Schema Registry at {}/: GET /config: TLS failure: the server's certificate is not signed by a trusted CA",
            lab.sr.url
        ),
    );

    // A host name the certificate does not list.
    let by_name = lab.inventory("by-name", |t| {
        t.replace(
            &format!("\"{}\"", lab.connect.url),
            &format!("\"{}\"", lab.connect.url.replace("127.0.0.1", "localhost")),
        )
    });
    let out = lab.problems(&by_name, Some(&sr_pw));
    contains(
        &out,
        "TLS failure: the server's certificate is not valid for the host name `localhost`",
    );

    // Schema Registry requires a client certificate.
    let no_cert = lab.inventory("no-cert", |t| {
        let cert = format!(
            "cert_file = \"{}\"\n",
            lab.pki.path("coordinator.pem").display()
        );
        let key = format!(
            "key_file = \"{}\"\n",
            lab.pki.path("coordinator-key.pem").display()
        );
        t.replace(&cert, "").replace(&key, "")
    });
    let out = lab.problems(&no_cert, Some(&sr_pw));
    contains(
        &out,
        &format!("Schema Registry at {}/: GET /config: ", lab.sr.url),
    );
    contains(
        &out,
        "the server closed the TLS connection unannounced: if it requires a client certificate, set [schema_registry] `cert_file` and `key_file`",
    );

    // The password variable is not set.
    let out = lab.problems(&good, None);
    contains(
        &out,
        &format!("[schema_registry] password_env: the environment variable `{SR_ENV}` is not set"),
    );

    // An inline password is refused before anything is asked.
    let inline = lab.inventory("inline", |t| {
        t.replace(
            &format!("password_env = \"{SR_ENV}\""),
            &format!("password = \"{sr_pw}\""),
        )
    });
    let (code, out, err) = lab.status(&inline, None, false);
    assert_eq!(code, 2, "{out}\n{err}");
    contains(
        &err,
        "key `schema_registry.password`: an inline password is refused",
    );
    contains(&err, "inline.toml");
}
