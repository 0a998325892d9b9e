//! Fixtures of the upgrade's unit tests: containers and services as the agents report them.

use std::collections::BTreeMap;

use kroll_shared::inventory::ServiceKind;
use kroll_shared::model::{Container, ContainerStatus, Health};

use super::view::ServiceView;

/// A running container `name` on `image`; its agent reports `env` (names and values) and
/// `keys` (names only, as for variables whose values are not planning values).
pub fn container(name: &str, image: &str, env: &[(&str, &str)], keys: &[&str]) -> Container {
    Container {
        id: format!("id-{name}"),
        name: name.into(),
        image: image.into(),
        image_id: String::new(),
        status: ContainerStatus::Running,
        health: Health::None,
        started_at_unix_ms: 1,
        finished_at_unix_ms: 0,
        exit_code: 0,
        oom_killed: false,
        restart_count: 0,
        labels: BTreeMap::new(),
        env_keys: keys
            .iter()
            .copied()
            .chain(env.iter().map(|(k, _)| *k))
            .map(str::to_owned)
            .collect(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        mounts: vec![],
        hostname: name.into(),
        pid: 1,
        java: None,
    }
}

/// Service `name` of `kind` on node `node-<name>`, its agent reachable, running `c`.
pub fn service(kind: ServiceKind, name: &str, c: Container, broker_id: Option<i32>) -> ServiceView {
    ServiceView {
        node: format!("node-{name}"),
        kind,
        name: name.into(),
        broker_id,
        zookeeper_id: None,
        container: Some(c),
        agent_reachable: true,
    }
}
