// Temporary: manual kubectl exploration (deleted before hand-off).
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut sc = aetherius_scenario::Scenario::load(std::path::Path::new(&args[1])).unwrap();
    let port: u16 = args[2].parse().unwrap();
    for f in args.iter().skip(3) { sc.cluster.forbidden.push(f.clone()); }
    let id = sc.cluster_id();
    let (addr, task) = aetherius_scenario::server::serve(sc.cluster, ([127, 0, 0, 1], port).into()).await.unwrap();
    std::fs::write(format!("/tmp/kc-{port}"), aetherius_scenario::server::kubeconfig(&id, addr)).unwrap();
    eprintln!("serving on {addr}");
    task.await.unwrap();
}
