//! Java test containers: the lab's `java-base` image plus the programs in `heap/java/`
//! (compiled with the machine's javac), for the heap tests and `kroll-bench`.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::sync::OnceCell;

use crate::{TestContainer, docker_cli, run_id};

/// The image: java-base + the compiled test programs in `/opt/test`, running as appuser.
pub async fn java_image() -> &'static str {
    static TAG: OnceCell<String> = OnceCell::const_new();
    TAG.get_or_init(|| async {
        let docker = crate::docker().await;
        let base = kroll_lab::images::ensure_java_base(&docker)
            .await
            .expect("building the lab's java-base image");
        let classes = compile();
        let mut ctx = kroll_lab::image::Context::new();
        ctx.add_dir("rootfs/opt/test", &classes).expect("classes");
        ctx.dockerfile(&format!(
            "FROM {base}\nCOPY rootfs/ /\nUSER appuser\nWORKDIR /tmp\nENTRYPOINT [\"/opt/java/bin/java\"]\n"
        ));
        let tag = "kroll-test.local/heap-java:dev";
        kroll_lab::image::ensure(&docker, &ctx, tag)
            .await
            .expect("building the heap test image");
        let _ = std::fs::remove_dir_all(&classes);
        tag.to_owned()
    })
    .await
}

/// Compiles `heap/java/*.java` with the machine's javac (fails with what to install).
fn compile() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("heap/java");
    let out = std::env::temp_dir().join(format!("kroll-heap-java-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("class dir");
    let files: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("heap/java")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "java"))
        .collect();
    let status = Command::new("javac")
        .args(["--release", "17", "-d"])
        .arg(&out)
        .args(&files)
        .status()
        .expect(
            "javac not found: these tests need a JDK 17 (apt-get install openjdk-17-jdk-headless)",
        );
    assert!(status.success(), "javac failed on {}", src.display());
    out
}

/// Starts `java <jvm args> -cp /opt/test <main> <args>` as `<run id>-<suffix>` on `node`.
pub async fn start_java(
    suffix: &str,
    node: &str,
    env: &[&str],
    jvm: &[&str],
    main_args: &[&str],
) -> TestContainer {
    let image = java_image().await;
    let name = format!("{}-{suffix}", run_id());
    let guard = TestContainer { name: name.clone() };
    let mut args: Vec<String> = ["run", "-d", "--name", &name].map(String::from).to_vec();
    args.extend(["--label".into(), format!("kroll.test.run={}", run_id())]);
    args.extend(["--label".into(), format!("kroll.node={node}")]);
    for e in env {
        args.extend(["--env".into(), (*e).to_owned()]);
    }
    args.push(image.to_owned());
    args.extend(jvm.iter().map(|s| (*s).to_owned()));
    args.extend(["-cp".into(), "/opt/test".into()]);
    args.extend(main_args.iter().map(|s| (*s).to_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_cli(&refs);
    guard
}
