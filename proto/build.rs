//! Compiles `proto/kroll/agent/v1/agent.proto` with protox (pure Rust: no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/kroll/agent/v1/agent.proto"];
    // Imported by agent.proto; listed so a change to it rebuilds.
    println!("cargo:rerun-if-changed=proto/kroll/agent/v1/jvm.proto");
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
