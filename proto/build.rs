//! Compiles the .proto files with protox (a pure-Rust protobuf compiler), so building
//! needs no system `protoc`, and keeps the descriptor set for gRPC server reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "proto/shotfarm/v1/jobs.proto",
    "proto/shotfarm/v1/nodes.proto",
    "proto/shotfarm/v1/admin.proto",
    "proto/shotfarm/v1/raft.proto",
    "proto/shotfarm/v1/recipes.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("shotfarm_descriptor.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
