//! What must stop an upgrade, on one Kafka-only lab: bad inputs (refused, nothing touched), the
//! forgotten IBP pin (stuck at the gate, rolled back), a target image that cannot start (rolled
//! back), an agent lost mid-step (halt, nothing further; the run completes once it is back).

use std::time::{Duration, Instant};

use kroll_lab::topology::Services;

use super::{
    FAST, Started, assert_brokers_on_7_7_1, broker_state, fast_with_gate, journal_of, kroll,
    kroll_cmd, run_dirs, text,
};
use crate::lab::TestLab;

fn all_on(lab: &str, tag: &str) -> bool {
    broker_state(lab)
        .iter()
        .all(|(_, image, _)| image.ends_with(&format!("/kafka:{tag}")))
}

async fn healthy(inv: &std::path::Path) {
    crate::lab::poll(
        "a healthy cluster (kroll status exit 0)",
        Duration::from_secs(120),
        async || {
            let o = kroll(inv, &["status"]);
            if o.status.success() {
                Ok(())
            } else {
                Err(text(&o))
            }
        },
    )
    .await;
}

/// An image that exits at once, standing in for a target image that cannot start.
async fn broken_image() -> String {
    let base = kroll_tests::labbox_image().await;
    let docker = kroll_tests::docker().await;
    let mut ctx = kroll_lab::image::Context::new();
    ctx.dockerfile(&format!(
        "FROM {base}\nCMD [\"--exit-after-ms\", \"100\", \"--exit-code\", \"1\"]\n"
    ));
    let tag = format!("kroll-test/kafka-broken-{}:7.7.1", kroll_tests::run_id());
    kroll_lab::image::ensure(&docker, &ctx, &tag)
        .await
        .expect("broken image");
    tag
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_gates_halt_and_roll_back_and_a_lost_agent_stops_the_run_until_it_returns() {
    let lab = TestLab::up("fail", Services::Kafka, true).await;
    kroll_tests::lab_platform_images("7.7.1").await;
    let inv = lab.handle.inventory.clone();
    let runs = lab.handle.dir.join("runs");
    let runs_arg = runs.display().to_string();
    super::orders_topic(&lab, 500).await;
    healthy(&inv).await;

    // Bad inputs: refused before anything is touched (exit 2), with the reason.
    for (to, says) in [
        ("8.0.0", "KRaft"),
        ("9.9.9", "unknown to kroll"),
        ("7.1.1", "nothing to upgrade"),
        ("7.7", "not a platform version"),
    ] {
        let o = kroll(&inv, &["upgrade", "--to", to, "--yes", "--runs", &runs_arg]);
        assert_eq!(o.status.code(), Some(2), "--to {to}: {}", text(&o));
        assert!(text(&o).contains(says), "--to {to}: {}", text(&o));
    }
    let lying = lab.handle.dir.join("lying.toml");
    let inv_text = std::fs::read_to_string(&inv).expect("inventory");
    std::fs::write(
        &lying,
        inv_text.replacen(
            "broker_id = 5 }",
            "broker_id = 5 },\n  { kind = \"kafdrop\", container = \"no-such-kafdrop\" }",
            1,
        ),
    )
    .expect("write");
    let o = kroll(
        &lying,
        &["upgrade", "--to", "7.7.1", "--yes", "--runs", &runs_arg],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("container `no-such-kafdrop` (kafdrop)")
            && text(&o).contains("is not there"),
        "{}",
        text(&o)
    );
    assert!(all_on(lab.name(), "7.1.1"), "nothing was touched");

    // The forgotten IBP pin: the first new broker cannot replicate with the old ones.
    let mut args = vec![
        "upgrade",
        "--to",
        "7.7.1",
        "--yes",
        "--unsafe-no-ibp-pin",
        "--runs",
        &runs_arg,
    ];
    args.extend(fast_with_gate("30s"));
    let o = kroll(&inv, &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("HALTED") && text(&o).contains("rolled back"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains(" back in service did not pass within"),
        "stuck at the gate after the start: {}",
        text(&o)
    );
    assert!(
        all_on(lab.name(), "7.1.1"),
        "rolled back: {:?}",
        broker_state(lab.name())
    );
    healthy(&inv).await;
    let o = kroll(&inv, &["rollback", "--runs", &runs_arg]);
    assert!(o.status.success(), "closing the halted run: {}", text(&o));

    // A target image that cannot start: the agent sees the new container die at once, puts
    // the previous one back under its name and says so; the coordinator halts without a
    // rollback of its own (one now would restore what an earlier recreate kept).
    let broken = broken_image().await;
    let image_arg = format!("broker={broken}");
    let mut args = vec![
        "upgrade", "--to", "7.7.1", "--yes", "--image", &image_arg, "--runs", &runs_arg,
    ];
    args.extend(fast_with_gate("20s"));
    let o = kroll(&inv, &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("did not stay up")
            && text(&o).contains("put back")
            && text(&o).contains("was left as it is"),
        "{}",
        text(&o)
    );
    assert!(
        all_on(lab.name(), "7.1.1"),
        "{:?}",
        broker_state(lab.name())
    );
    healthy(&inv).await;
    let o = kroll(&inv, &["rollback", "--runs", &runs_arg]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        all_on(lab.name(), "7.1.1"),
        "closing the run lowered or raised nothing: {:?}",
        broker_state(lab.name())
    );

    // An agent lost in the middle of its node's step: halt, nothing further; then finish.
    let mut args = vec!["upgrade", "--to", "7.7.1", "--yes", "--runs", &runs_arg];
    args.extend(FAST);
    let earlier = run_dirs(&runs);
    let said = lab.handle.dir.join("lost-agent.stderr");
    let mut child = Started(
        kroll_cmd(&inv, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&said).expect("stderr file"))
            .spawn()
            .expect("upgrade"),
    );
    let victim = lab
        .handle
        .agents
        .iter()
        .find(|a| a.node == "rhodrylab-02")
        .expect("agent 2")
        .clone();
    let began = Instant::now();
    crate::lab::poll(
        "the upgrade to reach broker 2",
        Duration::from_secs(300),
        async || {
            // This run's journal (not an earlier run's, which may have reached broker 2 too).
            let j = new_journal(&runs, &earlier);
            if j.lines()
                .any(|l| l.contains("\"step_intent\"") && l.contains("kafka-02"))
            {
                Ok(())
            } else {
                // What the run said and whether it is still running, for the timeout's message.
                let exited = child.0.try_wait().ok().flatten();
                Err(format!(
                    "journal's last line: {}; kroll exited: {exited:?}; its stderr: {}",
                    j.lines().last().unwrap_or(""),
                    std::fs::read_to_string(&said).unwrap_or_default()
                ))
            }
        },
    )
    .await;
    assert!(
        kroll_lab::agents::stop(&victim).await,
        "the agent of rhodrylab-02 was stopped"
    );
    let status = crate::lab::poll(
        "the coordinator to halt",
        Duration::from_secs(300),
        async || match child.0.try_wait() {
            Ok(Some(s)) => Ok(s),
            _ => Err(format!("still running after {:?}", began.elapsed())),
        },
    )
    .await;
    assert_eq!(
        status.code(),
        Some(1),
        "halted: {}",
        std::fs::read_to_string(&said).unwrap_or_default()
    );
    let after_halt = broker_state(lab.name());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        broker_state(lab.name()),
        after_halt,
        "no further action after the halt"
    );
    drop(child);
    // The agent comes back, settles the interrupted operation, the run resumes and completes.
    let _back = super::respawn(&victim).await;
    let mut resume = vec!["upgrade", "--resume", "--yes", "--runs", &runs_arg];
    resume.extend(FAST);
    let o = kroll(&inv, &resume);
    assert!(o.status.success(), "{}", text(&o));
    assert_brokers_on_7_7_1(lab.name());
}

/// The journal of the run started after `earlier` was taken (empty until it exists).
fn new_journal(
    runs: &std::path::Path,
    earlier: &std::collections::BTreeSet<std::path::PathBuf>,
) -> String {
    run_dirs(runs)
        .difference(earlier)
        .next()
        .map(|d| journal_of(d))
        .unwrap_or_default()
}
