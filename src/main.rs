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
    /// Read a password from stdin and print the SCRAM credentials table for a [[users]] entry.
    HashPassword {
        #[arg(long)]
        user: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-1 (default: both, as mongod creates them).
        #[arg(long)]
        mechanism: Vec<String>,
        /// PBKDF2 iterations (default: mongod's, 15000 for SHA-256 and 10000 for SHA-1).
        #[arg(long)]
        iterations: Option<u32>,
    },
    /// Turn exported system.users documents (JSON array or JSON lines) into [[users]] TOML.
    ImportUsers {
        /// File written by `mongoexport -d admin -c system.users` (or `-` for stdin).
        #[arg(long)]
        file: PathBuf,
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
        Command::HashPassword {
            user,
            mechanism,
            iterations,
        } => hash_password(&user, &mechanism, iterations),
        Command::ImportUsers { file } => import_users(&file),
    }
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

fn hash_password(user: &str, names: &[String], iterations: Option<u32>) -> ExitCode {
    use mongoward::gates::credentials::Mechanism;
    let mechanisms: Result<Vec<Mechanism>, String> = if names.is_empty() {
        Ok(vec![Mechanism::ScramSha256, Mechanism::ScramSha1])
    } else {
        names
            .iter()
            .map(|n| Mechanism::from_name(n).ok_or_else(|| format!("unknown mechanism {n:?}")))
            .collect()
    };
    let result = mechanisms
        .and_then(|m| mongoward::cli::users::read_password().map(|p| (m, p)))
        .and_then(|(m, p)| mongoward::cli::users::hash_password(user, &p, &m, iterations));
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 2),
    }
}

fn import_users(file: &std::path::Path) -> ExitCode {
    let text = if file == std::path::Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(file)
    };
    match text
        .map_err(|e| e.to_string())
        .and_then(|t| mongoward::cli::users::import_users(&t))
    {
        Ok(toml) => {
            print!("{toml}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("{}: {e}", file.display()), 2),
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
    wait_for_stop().await;
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

#[cfg(unix)]
async fn wait_for_stop() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_stop() {
    let _ = tokio::signal::ctrl_c().await;
}
