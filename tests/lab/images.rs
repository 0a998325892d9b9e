//! The lab's images: built locally, never pulled, warm builds are no-ops, and the layout the
//! services rely on (users, `/tmp`, Java, version files, volume ownership).

use std::process::Command;
use std::time::Instant;

use kroll_tests::{docker, docker_cli, run_id};

/// `docker run --rm` of `image` with a shell script as the entrypoint; returns stdout.
fn sh_in(image: &str, extra: &[&str], script: &str) -> String {
    let label = format!("kroll.test.run={}", run_id());
    let mut args = vec!["run", "--rm", "--label", &label, "--entrypoint", "/bin/sh"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[image, "-c", script]);
    docker_cli(&args)
}

/// A tiny Java program (compiled on the host: the runtime has no compiler) that sleeps.
fn sleeper_classes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("Sleep.java");
    std::fs::write(
        &src,
        "public class Sleep { public static void main(String[] a) throws Exception { Thread.sleep(60000); } }",
    )
    .expect("write Sleep.java");
    let out = Command::new("javac")
        .args(["--release", "17", "-d"])
        .arg(dir.path())
        .arg(&src)
        .output()
        .expect("javac (apt-get install openjdk-17-jdk-headless)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The Java base image the JVM-heap tests use: Java 17 at /opt/java, busybox sh, appuser 1000
/// by default, /tmp 1777 — and a running JVM publishes hsperfdata under /tmp.
#[tokio::test]
async fn java_base_runs_a_jvm_as_appuser_with_hsperfdata_in_tmp() {
    let d = docker().await;
    let tag = kroll_lab::images::ensure_java_base(&d)
        .await
        .expect("java base image");
    let classes = sleeper_classes();
    let mount = format!("{}:/classes:ro", classes.path().display());
    let out = sh_in(
        &tag,
        &["-v", &mount],
        "id -u; id -un; stat -c %a /tmp; /opt/java/bin/java -version 2>&1 | head -1; \
         java -XX:+UsePerfData -Xmx32m -cp /classes Sleep & \
         for i in $(seq 100); do ls /tmp/hsperfdata_appuser/ 2>/dev/null | grep -q . && break; sleep 0.1; done; \
         ls /tmp/hsperfdata_appuser/; kill $!",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"1000"), "{out}");
    assert_eq!(lines.get(1), Some(&"appuser"), "{out}");
    assert_eq!(lines.get(2), Some(&"1777"), "{out}");
    assert!(
        lines.get(3).is_some_and(|l| l.contains("\"17.")),
        "java -version: {out}"
    );
    let pid_file = lines.get(4).copied().unwrap_or_default();
    assert!(
        !pid_file.is_empty() && pid_file.chars().all(|c| c.is_ascii_digit()),
        "hsperfdata of the running JVM: {out}"
    );
}

/// Every component image of 7.1.1 carries its versions and env; a second ensure builds
/// nothing (same ids) and is fast.
#[tokio::test]
async fn platform_images_carry_their_version_and_warm_builds_are_no_ops() {
    use kroll_lab::images::{BrokerBinary, DEFAULT_REGISTRY, ensure_platform};
    let d = docker().await;
    let platform = kroll_lab::topology::Platform::find("7.1.1").expect("7.1.1");
    let broker = BrokerBinary::beside_this_executable().expect("kroll-lab-broker built");
    let first = ensure_platform(&d, DEFAULT_REGISTRY, platform, &broker)
        .await
        .expect("images");
    let began = Instant::now();
    let second = ensure_platform(&d, DEFAULT_REGISTRY, platform, &broker)
        .await
        .expect("images again");
    let warm = began.elapsed();
    println!(
        "lab images 7.1.1: first ensure {} ms, warm {warm:?}",
        first.elapsed_ms
    );
    let ids = |s: &kroll_lab::images::ImageSet| -> Vec<String> {
        s.images.iter().map(|i| i.id.clone()).collect()
    };
    assert_eq!(ids(&first), ids(&second), "a warm ensure must not rebuild");
    assert!(warm.as_secs() < 10, "warm ensure took {warm:?}");
    for image in &first.images {
        let out = sh_in(
            &image.tag,
            &[],
            "cat /opt/lab/VERSION /opt/lab/KAFKA_VERSION; echo $CONFLUENT_VERSION $COMPONENT; id -u",
        );
        assert_eq!(
            out,
            format!("7.1.1\n3.1.1\n7.1.1 {}\n1000\n", image.component.name()),
            "{}",
            image.tag
        );
    }
    // One layer each on top of its base, made without a Dockerfile build (a build here made
    // three layers and spent a step container on every instruction, ~10 s an image).
    let layers = |tag: &str| {
        let out = std::process::Command::new("docker")
            .args([
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}}",
                tag,
            ])
            .output()
            .expect("docker image inspect");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .expect(tag)
    };
    for image in &first.images {
        let base = match image.component.name() {
            "kafka" => kroll_lab::images::BASE_IMAGE,
            _ => kroll_lab::images::JAVA_BASE_IMAGE,
        };
        assert_eq!(layers(&image.tag), layers(base) + 1, "{}", image.tag);
    }
    let kafka = first
        .images
        .iter()
        .find(|i| i.component.name() == "kafka")
        .expect("kafka");
    assert_eq!(
        sh_in(
            &kafka.tag,
            &[],
            "stat -c %u /var/lib/kafka/data; stat -c %u /var/lib"
        ),
        "1000\n0\n",
        "the data dir (only) belongs to appuser"
    );
}
