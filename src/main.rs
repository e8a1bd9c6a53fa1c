//! The `mongoward` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing::{error, info, warn};

use mongoward::cli::authz_check;
use mongoward::config::{now_unix, Config};
use mongoward::gates::access_list::Strictness;

/// jemalloc: glibc's per-thread arenas kept RSS growing under connection churn (see
/// docs/reliability.md, "Soak"); jemalloc returns freed pages to the system by decay.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Ask the proxy running on this configuration to reload it: checks the file, then
    /// sends SIGHUP to the process in its `[server] pid_file`.
    Reload {
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a configuration file and print a one-line summary.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
        /// Also connect to every cluster: reachability, service login, server version
        /// (exit 1 when one fails).
        #[arg(long)]
        probe: bool,
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
        /// Also import the custom roles of `mongoexport -d admin -c system.roles` output
        /// as [[roles]] (users then refer to them by name).
        #[arg(long)]
        roles: Option<PathBuf>,
    },
    /// Policy simulator: would USER be allowed to run COMMAND on DB? Prints one JSON
    /// line; exit 0 = allow, 1 = deny, 2 = bad input. `--batch` reads JSON lines
    /// `{"user","db","command","cluster"}` from stdin and answers one per line.
    AuthzCheck {
        #[arg(long)]
        config: PathBuf,
        /// NAME or NAME@authdb (default authentication database: admin).
        #[arg(long, required_unless_present = "batch")]
        user: Option<String>,
        /// Cluster whose user scopes apply (default: the first configured).
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long, required_unless_present = "batch")]
        db: Option<String>,
        /// The command document as (extended) JSON, command name first.
        #[arg(long, required_unless_present = "batch")]
        command: Option<String>,
        #[arg(long, conflicts_with_all = ["user", "db", "command", "cluster"])]
        batch: bool,
    },
    /// Control-plane administration (`admin init`, `admin import`).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into a redirected file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // An IP literal in SNI (old drivers) is handled as no SNI; rustls's WARN per such
    // connection is dropped (see tls::quiet_sni).
    let quiet = mongoward::tls::quiet_sni::QuietIpSni;
    if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .finish()
            .with(quiet)
            .init();
    } else {
        builder.finish().with(quiet).init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match cli.command {
        Command::Run { config } => run(config),
        Command::CheckConfig { config, probe } => check_config(&config, probe),
        Command::Reload { config } => reload(&config),
        Command::DevCerts { out, names } => dev_certs(&out, &names),
        Command::Admin { command } => admin(command),
        Command::HashPassword {
            user,
            mechanism,
            iterations,
        } => hash_password(&user, &mechanism, iterations),
        Command::ImportUsers { file, roles } => import_users(&file, roles.as_deref()),
        Command::AuthzCheck {
            config,
            user,
            cluster,
            db,
            command,
            batch,
        } => {
            let question = match (batch, user, command) {
                (false, Some(user), Some(command)) => Some(authz_check::Question {
                    user,
                    cluster,
                    db,
                    command: serde_json::Value::String(command),
                }),
                _ => None,
            };
            authz_check(&config, question)
        }
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

fn import_users(file: &std::path::Path, roles: Option<&std::path::Path>) -> ExitCode {
    let read = |path: &std::path::Path| {
        if path == std::path::Path::new("-") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
        } else {
            std::fs::read_to_string(path)
        }
        .map_err(|e| format!("{}: {e}", path.display()))
    };
    let roles_text = match roles.map(read).transpose() {
        Ok(t) => t,
        Err(e) => return fail(e, 2),
    };
    match read(file).and_then(|t| {
        mongoward::cli::users::import_users_with_roles(&t, roles_text.as_deref())
            .map_err(|e| format!("{}: {e}", file.display()))
    }) {
        Ok(imported) => {
            for w in &imported.warnings {
                eprintln!("warning: {}: {w}", file.display());
            }
            print!("{}", imported.toml);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 2),
    }
}

fn check_config(path: &std::path::Path, probe: bool) -> ExitCode {
    match Config::load(path).and_then(|c| c.check_files().map(|()| c)) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}", c.summary());
            if probe {
                return probe_clusters(&c);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `reload`: a file the proxy would refuse is reported here (exit 2) and not signalled.
fn reload(path: &std::path::Path) -> ExitCode {
    let config = match Config::load_with(path, Strictness::Reload, now_unix())
        .and_then(|c| c.check_files().map(|()| c))
    {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    match mongoward::cli::reload::signal_reload(&config) {
        Ok(pid) => {
            println!(
                "sent SIGHUP to mongoward (pid {pid}); its log says whether the reload applied"
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

/// `check-config --probe`: one line per cluster; exit 1 when any cluster fails.
fn probe_clusters(config: &Config) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start runtime: {e}"), 2),
    };
    let results = runtime.block_on(mongoward::cli::probe::probe_all(config));
    for r in &results {
        println!("{}", r.line);
    }
    if results.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Exit codes: 0 allow (or a fully answered batch), 1 deny, 2 bad input or config.
fn authz_check(path: &std::path::Path, question: Option<authz_check::Question>) -> ExitCode {
    // Reload strictness: an access-list entry that expired since the file was written
    // must not stop anyone from asking about users.
    let config = match Config::load_with(path, Strictness::Reload, now_unix()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let sim = authz_check::Simulator::new(&config);
    let Some(q) = question else {
        return match sim.run_batch(std::io::stdin().lock(), std::io::stdout().lock()) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(2),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    };
    match sim.check(&q) {
        Ok(d) => {
            println!("{}", d.to_json());
            ExitCode::from(d.exit_code())
        }
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"decision": "error", "error": e.to_string()})
            );
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

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the store's schema, the organization and its first ORG_OWNER service account;
    /// prints one JSON line {"orgId","clientId","clientSecret"}. Runs once per store.
    Init {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value = "mongoward")]
        org_name: String,
    },
    /// Move the file's [[clusters]], [[users]], [[roles]] and [[access_list]] into a
    /// project of the store named by its [control_plane] (run `admin init` first). Prints
    /// one JSON line.
    Import {
        #[arg(long)]
        config: PathBuf,
        /// The project (created if the organization has none of that name).
        #[arg(long)]
        project: String,
    },
}

fn admin(command: AdminCommand) -> ExitCode {
    let runtime = match build_runtime(Some(1)) {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start runtime: {e}"), 2),
    };
    match command {
        AdminCommand::Init { config, org_name } => {
            match runtime.block_on(mongoward::cli::admin::init(&config, &org_name)) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 1),
            }
        }
        AdminCommand::Import { config, project } => {
            match runtime.block_on(mongoward::control::import::import(&config, &project)) {
                Ok(report) => {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 2),
            }
        }
    }
}

fn run(path: PathBuf) -> ExitCode {
    let config = match Config::load(&path).and_then(|c| c.check_files().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match build_runtime(config.file.server.worker_threads) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

/// `server.worker_threads`: one thread gets tokio's single-threaded scheduler (no
/// cross-thread wake-ups on the message path); otherwise the work-stealing one.
fn build_runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

async fn serve(config: Config) -> ExitCode {
    let running = match mongoward::proxy::start(&config).await {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pid_file = mongoward::cli::reload::pid_file(&config).map(std::path::Path::to_path_buf);
    if let Some(p) = &pid_file {
        if let Err(e) = mongoward::cli::reload::write_pid_file(p) {
            error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Store mode: policy and clusters from the control-plane store, followed live.
    let _control_plane = match mongoward::control::run::start(&config, &running).await {
        Ok(cp) => cp,
        Err(e) => {
            error!("cannot start the control plane: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The admin API (HTTPS) on [control_plane] listen, from the same store.
    let _admin_api = match &_control_plane {
        Some(cp) => {
            match mongoward::control::api::start_for(&config, &running, cp.store.clone()).await {
                Ok(api) => api,
                Err(e) => {
                    error!("cannot start the admin API: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        None => None,
    };
    for a in &running.tls_addrs {
        info!("ready: mongosh \"mongodb://{a}/?tls=true&tlsCAFile=certs/ca.pem\"");
    }
    wait_for_stop(&running).await;
    let code = drain(&running, &config).await;
    if let Some(p) = &pid_file {
        mongoward::cli::reload::remove_pid_file(p);
    }
    code
}

/// SIGTERM/SIGINT: stop accepting, drain, and say so when done.
async fn drain(running: &mongoward::proxy::Running, config: &Config) -> ExitCode {
    let drain = Duration::from_secs(config.file.server.drain_timeout_secs);
    info!(
        drain.secs = drain.as_secs(),
        "shutting down: no new connections, draining"
    );
    tokio::select! {
        _ = running.shutdown(drain) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        _ = tokio::signal::ctrl_c() => {
            warn!("second interrupt: exiting now");
            // 128 + SIGINT, the shell convention: in-flight commands were abandoned.
            ExitCode::from(130)
        }
    }
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
