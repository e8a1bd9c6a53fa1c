//! The `mongoward` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing::{error, info, warn};

use mongoward::config::Config;

#[derive(Parser)]
#[command(
    name = "mongoward",
    version,
    about = "MongoDB wire-protocol authorization proxy"
)]
struct Cli {
    /// Log format: "text" or "json".
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the proxy.
    Run {
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a configuration file and print a one-line summary.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
    },
    /// Generate development TLS certificates (NOT for production).
    DevCerts {
        /// Output directory.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// Extra DNS names for the server certificate.
        #[arg(long = "name")]
        names: Vec<String>,
    },
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match cli.command {
        Command::Run { config } => run(config),
        Command::CheckConfig { config } => check_config(&config),
        Command::DevCerts { out, names } => dev_certs(&out, &names),
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}", c.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn dev_certs(out: &std::path::Path, names: &[String]) -> ExitCode {
    let written = mongoward::tls::dev_certs::generate(names)
        .map_err(|e| e.to_string())
        .and_then(|c| mongoward::tls::dev_certs::write(out, &c).map_err(|e| e.to_string()));
    match written {
        Ok(p) => {
            println!(
                "wrote {}, {}, {} (development only: not for production)",
                p.ca.display(),
                p.cert.display(),
                p.key.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: PathBuf) -> ExitCode {
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    let running = match mongoward::proxy::start(&config).await {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in &running.tls_addrs {
        info!("ready: mongosh \"mongodb://{a}/?tls=true&tlsCAFile=certs/ca.pem\"");
    }
    wait_for_stop(&running).await;
    let drain = Duration::from_secs(config.file.server.drain_timeout_secs);
    info!(
        drain.secs = drain.as_secs(),
        "shutting down: no new connections, draining"
    );
    tokio::select! {
        _ = running.shutdown(drain) => {}
        _ = tokio::signal::ctrl_c() => warn!("second interrupt: exiting now"),
    }
    ExitCode::SUCCESS
}

/// Waits for SIGTERM or SIGINT; SIGHUP meanwhile reloads the configuration (a bad file
/// keeps the running policy; `reload` logs, counts and audits the outcome).
#[cfg(unix)]
async fn wait_for_stop(running: &mongoward::proxy::Running) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
            _ = hup.recv() => {
                info!("SIGHUP: reloading the configuration");
                let _ = running.reload();
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_running: &mongoward::proxy::Running) {
    let _ = tokio::signal::ctrl_c().await;
}
