//! The lab's runtime state on disk: `<dir>/lab.json` (what `lab up` made: version, ports,
//! agent PIDs), read by the next `lab up` (to reconcile) and by `lab down` (to stop agents).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LabError;
use super::agents::AgentRecord;
use super::rest_auth::REST_PASSWORD_FILE;
use super::topology::{
    KAFKA_TLS_DIR, PASSWORD_FILE, Ports, SECRETS_DIR, Security, Services, Shape,
};

/// File name of the state file in the lab directory.
pub const STATE_FILE: &str = "lab.json";
/// Every file and directory `lab up` writes in the lab directory (what `lab down` removes;
/// `secrets` holds a SASL lab's JAAS file and its REST services' files and `kafka-tls` a
/// `sasl-ssl` lab's PKI, the sources of the services' bind mounts).
pub const RUNTIME_ENTRIES: &[&str] = &[
    STATE_FILE,
    "kroll.toml",
    "certs",
    "agents",
    SECRETS_DIR,
    PASSWORD_FILE,
    REST_PASSWORD_FILE,
    KAFKA_TLS_DIR,
];

/// What `lab up` made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    pub version: String,
    pub registry: String,
    pub services: Services,
    pub ports: Ports,
    /// Absent from a state file written before shapes: the standard lab.
    #[serde(default)]
    pub shape: Shape,
    /// Absent from a state file written before `--security`: PLAINTEXT.
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub extra_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub agents: Vec<AgentRecord>,
}

impl LabState {
    /// Reads `<dir>/lab.json`; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, LabError> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io(&path)(e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            LabError::Usage(format!(
                "{}: {e} (remove it, or run `kroll-lab down`)",
                path.display()
            ))
        })
    }

    /// Writes `<dir>/lab.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), LabError> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, text).map_err(LabError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(LabError::io(&path))
    }
}

/// Where a lab keeps its files unless `--dir` says otherwise:
/// `$XDG_STATE_HOME/kroll-lab/<name>`, else `$HOME/.local/state/kroll-lab/<name>`.
pub fn default_dir(name: &str) -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("XDG_STATE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("kroll-lab")
        .join(name)
}

/// `dir` made absolute (against the current directory).
pub fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_owned()
    } else {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_round_trips_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(LabState::load(dir.path()).expect("load"), None);
        let s = LabState {
            name: "t1".into(),
            version: "7.1.1".into(),
            registry: "r".into(),
            services: Services::Kafka,
            ports: Ports::from_base(30000, Shape::LAB, Security::Sasl).expect("ports"),
            shape: Shape::PRODUCTION,
            security: Security::Sasl,
            extra_labels: BTreeMap::from([("kroll.test.run".into(), "x".into())]),
            agents: vec![],
        };
        s.save(dir.path()).expect("save");
        assert_eq!(LabState::load(dir.path()).expect("load"), Some(s));
        let old = r#"{"name":"t2","version":"7.1.1","registry":"r","services":"kafka","ports":{"zookeeper":1,"brokers":[],"connect":[],"schema_registry":2,"rest_proxy":3,"kafdrop":4,"agents":[]}}"#;
        std::fs::write(dir.path().join(STATE_FILE), old).expect("write");
        let old = LabState::load(dir.path()).expect("load").expect("a state");
        assert_eq!((old.security, old.shape), (Security::Plaintext, Shape::LAB));
        std::fs::write(dir.path().join(STATE_FILE), "{").expect("write");
        let err = LabState::load(dir.path()).expect_err("garbage");
        assert!(err.to_string().contains("lab.json"), "{err}");
    }
}
