//! `[remediation]`: `kroll watch` restarts a JVM container of a listed kind after a Java
//! OutOfMemoryError — once per incident, through its agent (audited), within its hourly budget —
//! and never a container of a kind the policy does not list.

use std::time::Duration;

use kroll_tests::Pki;

use super::watch::start_agent;
use super::{Watch, is_event, start_java};

fn started_at(name: &str) -> String {
    kroll_tests::inspect_json(name)["State"]["StartedAt"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn kroll_watch_restarts_a_listed_jvm_after_an_oom_once_within_its_budget() {
    let node = "heap-m";
    let pki = Pki::new(&[node]);
    let dir = tempfile::tempdir().expect("tmp");
    let agent = start_agent(&pki, node, dir.path(), None).await;
    // Both JVMs throw two OutOfMemoryErrors 300 ms apart, 6 s after every start, then stay up
    // broken — as a Connect worker does after an OOM in one of its tasks.
    let hog = ["Hog", "6000", "2", "300"];
    let listed = start_java("remed-connect", node, &[], &["-Xmx16m"], &hog).await;
    let unlisted = start_java("remed-sr", node, &[], &["-Xmx16m"], &hog).await;
    let inv = dir.path().join("kroll.toml");
    std::fs::write(
        &inv,
        format!(
            "[cluster]\nname = \"remediation\"\n[tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\
             [remediation]\nrestart_on_oom = [\"connect\"]\nmax_per_hour = 1\nstop_timeout_seconds = 10\n\
             [[nodes]]\nname = \"{node}\"\nagent = \"{addr}\"\n\
             services = [{{ kind = \"connect\", container = \"{l}\" }}, {{ kind = \"schema-registry\", container = \"{u}\" }}]\n",
            ca = pki.path("ca.pem").display(),
            cert = pki.path("coordinator.pem").display(),
            key = pki.path("coordinator-key.pem").display(),
            addr = agent.addr,
            l = listed.name,
            u = unlisted.name,
        ),
    )
    .expect("inventory");
    let (listed_began, unlisted_began) = (started_at(&listed.name), started_at(&unlisted.name));
    let watch = Watch::start(&inv, &[]);
    watch.next_matching("the connected notice", Duration::from_secs(20), |v| {
        v["watch"] == "connected"
    });

    let restarting = watch.next_matching("the restart decision", Duration::from_secs(60), |v| {
        v["remediation"] == "restarting" && v["container"] == listed.name.as_str()
    });
    let op = restarting["operation_id"]
        .as_str()
        .expect("operation id")
        .to_owned();
    assert!(
        op.starts_with(&format!("remediate/{node}/{}/", listed.name)),
        "{op}"
    );
    let done = watch.next_matching("the restart", Duration::from_secs(60), |v| {
        v["container"] == listed.name.as_str()
            && (v["remediation"] == "restarted" || v["remediation"] == "failed")
    });
    assert_eq!(done["remediation"], "restarted", "{done}");
    let after_restart = started_at(&listed.name);
    assert_ne!(
        after_restart, listed_began,
        "the listed container was restarted"
    );

    // The restarted JVM runs out of heap again: the budget (1 per hour) is spent, so it is
    // left for an operator — and said so. (A JVM of 16 MiB thrashing in full GCs on a loaded
    // 2-core machine took over a minute to throw; the bound is time, not what is checked.)
    let skipped = watch.next_matching("the budget refusal", Duration::from_secs(180), |v| {
        v["remediation"] == "skipped" && v["container"] == listed.name.as_str()
    });
    assert!(
        skipped["reason"]
            .as_str()
            .is_some_and(|r| r.contains("max_per_hour = 1")),
        "{skipped}"
    );
    watch.next_matching(
        "the unlisted container's OOM",
        Duration::from_secs(60),
        |v| is_event(v, "java_oom", &unlisted.name),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        started_at(&unlisted.name),
        unlisted_began,
        "an unlisted kind is never restarted"
    );
    assert_eq!(
        started_at(&listed.name),
        after_restart,
        "no restart past the budget"
    );

    // One restart for the first incident (its second OutOfMemoryError did not restart it
    // again), carried out and audited by the agent as the coordinator's.
    let audit =
        std::fs::read_to_string(dir.path().join(format!("audit-{node}.log"))).expect("audit log");
    let remediations: std::collections::BTreeSet<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| {
            e["operation_id"]
                .as_str()
                .is_some_and(|o| o.starts_with("remediate/"))
        })
        .map(|e| {
            assert_eq!(e["role"], "coordinator", "{e}");
            assert_eq!(e["action"], "restart", "{e}");
            e["operation_id"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        remediations,
        std::collections::BTreeSet::from([op]),
        "{audit}"
    );
    drop(watch);
    agent.stop().await;
}
