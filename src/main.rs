//! xtgt: a userspace iSCSI target with SCSI copy offload.
//!
//! `xtgt [--config FILE] [--check]`. Exit status: 0 after a clean shutdown
//! (SIGINT/SIGTERM), 1 when it cannot start (address in use, backing file
//! error), 2 for an invalid configuration or command line.

#![forbid(unsafe_code)]

mod assemble;
mod config;
mod metrics;

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(
    name = "xtgt",
    version,
    about = "Userspace iSCSI target with SCSI copy offload"
)]
struct Cli {
    /// TOML configuration file. Without it xtgt serves a built-in default:
    /// iqn.2026-11.org.xtgt:default on 127.0.0.1:3260 with two 1 GiB LUNs
    /// in ./xtgt-data/. Keys can be overridden by XTGT_<SECTION>__<KEY>
    /// environment variables, e.g. XTGT_SERVER__LISTEN=0.0.0.0:3260.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration, print it, and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xtgt: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => {
            EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG={v:?}: {e}"))
        }
        _ => EnvFilter::try_new(&cfg.log).map_err(|e| format!("{}: log: {e}", cfg.source)),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            eprintln!("xtgt: invalid log filter: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs piped to files and journald stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    for w in &cfg.warnings {
        tracing::warn!("{}: {w}", cfg.source);
    }
    if cli.check {
        println!("{}: configuration is valid", cfg.source);
        for t in &cfg.targets {
            println!("target {} with {} LUN(s)", t.iqn, t.luns.len());
        }
        return ExitCode::SUCCESS;
    }
    // Before any other thread exists: the runtime's threads inherit the
    // main thread's CPUs.
    if let Some(copy) = &cfg.copy.cpus {
        if let Err(e) = fence_copy_cpus(copy) {
            eprintln!("xtgt: {}: {e}", cfg.source);
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xtgt: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cfg))
}

/// `copy.cpus`: copy threads only on `copy`, every other thread (this one
/// and all it starts) on the rest of the CPUs xtgt may use.
fn fence_copy_cpus(copy: &[usize]) -> Result<(), String> {
    use scsi::copy::threads::{allowed_cpus, cpu_list, partition, pin_current_thread, set_cpus};
    let allowed =
        allowed_cpus().map_err(|e| format!("copy.cpus: cannot read this process's CPUs: {e}"))?;
    let others = partition(&allowed, copy).map_err(|bad| {
        format!(
            "copy.cpus: xtgt may not run on CPU {bad}; it may use CPUs {} (its affinity, from taskset or the cgroup's cpuset). List some of those, or drop copy.cpus",
            cpu_list(&allowed)
        )
    })?;
    if others == allowed {
        // Nothing to fence: every thread may use every CPU, as without the key.
        tracing::warn!(
            cpus = %cpu_list(copy),
            "copy.cpus lists every CPU xtgt may use: copy threads and I/O threads share them"
        );
        return Ok(());
    }
    pin_current_thread(&others).map_err(|e| {
        format!(
            "copy.cpus: cannot keep xtgt's I/O threads on CPUs {}: {e}",
            cpu_list(&others)
        )
    })?;
    set_cpus(copy.to_vec());
    tracing::info!(
        copy = %cpu_list(copy),
        io = %cpu_list(&others),
        "copy threads run on their own CPUs"
    );
    Ok(())
}

/// The error line and fix hint for a portal or metrics address we cannot bind.
fn bind_error(what: &str, addr: SocketAddr, key: &str, e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "address already in use: another process (tgtd, another xtgt?) listens there; stop it or choose another address with {key} in the config or XTGT_{}",
            key.to_ascii_uppercase().replace('.', "__")
        ),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE".to_string()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            format!("this machine has no such address; use one of its addresses or 0.0.0.0 in {key}")
        }
        _ => e.to_string(),
    };
    format!("xtgt: cannot listen on {addr} ({what}): {hint}")
}

async fn run(cfg: config::Config) -> ExitCode {
    // Signal handlers first: a SIGTERM that arrives right after the banner
    // must already take the clean path rather than the default action.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xtgt: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let assembly = match assemble::build(&cfg) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xtgt: cannot start: {}: {e}", cfg.source);
            return ExitCode::from(1);
        }
    };
    let mut listeners = Vec::with_capacity(cfg.server.listen.len());
    let mut portals = Vec::with_capacity(cfg.server.listen.len());
    for addr in &cfg.server.listen {
        match TcpListener::bind(addr).await {
            Ok(l) => {
                portals.push(l.local_addr().unwrap_or(*addr));
                listeners.push(l);
            }
            Err(e) => {
                eprintln!("{}", bind_error("iSCSI portal", *addr, "server.listen", &e));
                return ExitCode::from(1);
            }
        }
    }
    let shutdown = CancellationToken::new();
    let mut metrics_addr = None;
    if let Some(addr) = cfg.server.metrics_listen {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "{}",
                    bind_error("metrics", addr, "server.metrics_listen", &e)
                );
                return ExitCode::from(1);
            }
        };
        metrics_addr = Some(listener.local_addr().unwrap_or(addr));
        match metrics::install() {
            Ok(handle) => {
                tokio::spawn(metrics::serve(listener, handle, shutdown.clone()));
            }
            Err(e) => {
                eprintln!("xtgt: cannot install the metrics recorder: {e}");
                return ExitCode::from(1);
            }
        }
    }
    print_banner(&cfg, &assembly, &portals, metrics_addr);

    let device = assembly.device.clone();
    let server = iscsi::Server::new(
        assemble::server_config(&cfg, assembly.targets, portals),
        device.clone(),
    );
    tokio::spawn(signals.watch(shutdown.clone()));
    tokio::spawn(sweep_tokens(device.clone(), shutdown.clone()));
    tokio::spawn(stop_copies_on_shutdown(device.clone(), shutdown.clone()));
    let served = server.serve(listeners, shutdown.clone()).await;
    shutdown.cancel();
    // Background copies (IMMED) outlive their sessions: they too stop at
    // their next chunk boundary.
    device.stop_copies();
    if !device.copies_idle(COPY_STOP_WAIT).await {
        tracing::warn!("copy operations still running at exit");
    }
    tracing::info!("flushing backends");
    device.flush_all().await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtgt: the iSCSI server failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// How often idle ROD tokens are expired when no token command does it, so
/// that a token nobody uses again still releases its point-in-time clone
/// (disk space) and its place in the store soon after its inactivity
/// timeout. A sweep costs work proportional to what expires.
const TOKEN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

async fn sweep_tokens(device: Arc<scsi::DeviceServer>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(TOKEN_SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => device.copy.sweep_tokens(),
        }
    }
}

/// How long shutdown waits for copy operations to reach a chunk boundary.
const COPY_STOP_WAIT: Duration = Duration::from_secs(5);

/// On shutdown, stop every copy operation at its next chunk boundary (the
/// chunk in flight finishes; whole copies do not): a session draining its
/// commands then sees its copies end at once, with COPY ABORTED, COMMAND
/// CLEARED BY DEVICE SERVER and how far they got.
async fn stop_copies_on_shutdown(device: Arc<scsi::DeviceServer>, shutdown: CancellationToken) {
    shutdown.cancelled().await;
    device.stop_copies();
}

/// SIGINT and SIGTERM streams, registered before anything is printed.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The first signal cancels `shutdown`; a second one exits at once.
    async fn watch(mut self, shutdown: CancellationToken) {
        for round in 0..2 {
            let name = tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            };
            if round == 0 {
                tracing::info!("{name}: shutting down (send it again to exit at once)");
                shutdown.cancel();
            } else {
                eprintln!("xtgt: {name} again: exiting without a clean shutdown");
                std::process::exit(130);
            }
        }
    }
}

fn print_banner(
    cfg: &config::Config,
    assembly: &assemble::Assembly,
    portals: &[SocketAddr],
    metrics: Option<SocketAddr>,
) {
    println!("xtgt {} ({})", env!("CARGO_PKG_VERSION"), cfg.source);
    for (ti, (iqn, luns)) in assembly.lun_descriptions.iter().enumerate() {
        println!("target {iqn}");
        for l in luns {
            println!("  {l}");
        }
        // Its target ports: one per portal, in their ALUA groups.
        let Some(t) = cfg.targets.get(ti) else {
            continue;
        };
        for g in &t.alua.groups {
            for &i in &g.portals {
                let addr = portals.get(i).map_or_else(String::new, |a| a.to_string());
                let tpgt = usize::from(cfg.server.portal_group_tag) + i;
                println!(
                    "  port {} on {addr} (tpgt {tpgt}): group {} {}{}",
                    i + 1,
                    g.id,
                    g.state.name(),
                    if t.alua.explicit {
                        ", explicit ALUA"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    for p in portals {
        println!("portal {p}");
    }
    match metrics {
        Some(m) => println!("metrics http://{m}/metrics"),
        None => println!("metrics disabled"),
    }
    if let (Some(p), Some((iqn, _))) = (portals.first(), assembly.lun_descriptions.first()) {
        println!(
            "connect: iscsi-ls -s iscsi://{p}   or   iscsiadm -m discovery -t st -p {p}   or   iscsi-inq iscsi://{p}/{iqn}/0"
        );
    }
}
