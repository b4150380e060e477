//! Hands the tests the path of Temporal's protobuf descriptor set.
fn main() {
    let path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .expect("temporalio-protos publishes its descriptor set (links = temporalio_protos)");
    println!("cargo:rustc-env=TEMPORAL_DESCRIPTOR_SET={path}");
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
}
