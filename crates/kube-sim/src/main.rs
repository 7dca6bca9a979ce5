//! `kube-sim`: the simulator as a standalone process for manual testing and scripts.
//! Prints `READY <url> <kubeconfig-path>` once it accepts connections; exits 0 on SIGINT or
//! SIGTERM. Workloads come alive (the kubelet and controllers mode) unless `--no-workloads`;
//! `--control-plane-only` runs the controllers without nodes; `--vcluster-fixture` stands in
//! for the syncer of every vcluster installed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "kube-sim", version, about = "Simulator of kube-apiserver 1.33 for tests (on 127.0.0.1)")]
struct Args {
    /// Port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the kubeconfig (default: a temporary directory removed on exit).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The version /version reports.
    #[arg(long, default_value = "v1.33.1")]
    kubernetes_version: String,
    /// Service CIDRs, comma-separated (one per IP family; the first is primary).
    #[arg(long, default_value = "10.96.0.0/12", value_delimiter = ',')]
    service_cidr: Vec<String>,
    /// YAML files of objects to create at start (repeatable).
    #[arg(long)]
    seed: Vec<PathBuf>,
    /// Serve HTTPS with a generated CA; the kubeconfig carries a client certificate.
    #[arg(long)]
    tls: bool,
    /// Extra subject alternative names of the serving certificate (repeatable).
    #[arg(long, requires = "tls")]
    tls_san: Vec<String>,
    /// Answer requests without credentials with 401.
    #[arg(long)]
    reject_anonymous: bool,
    /// Authorize with RBAC (bootstrap roles and bindings created at start) instead of
    /// allowing everything.
    #[arg(long)]
    rbac: bool,
    /// Leave workloads alone (no scheduler, kubelet or workload controllers).
    #[arg(long)]
    no_workloads: bool,
    /// A control plane without nodes, as k3s runs inside a vcluster: the
    /// kube-controller-manager controllers run, but no scheduler, kubelet or Node (pods stay
    /// Pending until a client binds them; their status is what clients write).
    #[arg(long, conflicts_with = "no_workloads")]
    control_plane_only: bool,
    /// Stand in for the syncer of every vcluster installed (every StatefulSet labelled
    /// app=vcluster): the Secret vc-<name>, and port 8443 of the pod <name>-0 forwarded to a
    /// virtual API server (a simulator with TLS, control plane only) started for it.
    #[arg(long)]
    vcluster_fixture: bool,
    /// Milliseconds from a pod's binding to its containers running.
    #[arg(long, default_value_t = 0)]
    pod_start_delay_ms: u64,
    /// Milliseconds from a pod's containers running to the pod being Ready.
    #[arg(long, default_value_t = 0)]
    pod_ready_delay_ms: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            #[allow(clippy::print_stderr)] // the binary's edge: the one place errors are reported
            {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = kube_sim::SimConfig {
        port: args.port,
        git_version: args.kubernetes_version,
        service_cidrs: args.service_cidr,
        kubeconfig: args.kubeconfig,
        tls: args.tls,
        tls_sans: args.tls_san,
        reject_anonymous: args.reject_anonymous,
        rbac: args.rbac,
        control_plane_only: args.control_plane_only,
        workloads: kube_sim::Workloads {
            enabled: !args.no_workloads,
            start_delay: std::time::Duration::from_millis(args.pod_start_delay_ms),
            ready_delay: std::time::Duration::from_millis(args.pod_ready_delay_ms),
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = kube_sim::Simulator::start_with(config).await?;
    if args.vcluster_fixture {
        kube_sim::fixtures::vcluster::stand_in_for_every_syncer(&sim);
    }
    for file in &args.seed {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        sim.seed_yaml(&text)?;
    }
    // Handlers first: a script may signal as soon as it reads READY (the default action of
    // SIGTERM would end the process without the orderly stop).
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    #[allow(clippy::print_stdout)] // the READY line is the binary's contract with scripts
    {
        println!("READY {} {}", sim.url(), sim.kubeconfig_path().display());
    }
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    sim.stop().await;
    Ok(())
}
