//! `topsail`: the command-line entry point.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::config::{self, Config, LogFormat, Overrides};

#[derive(Parser)]
#[command(
    name = "topsail",
    version,
    about = "Continuous delivery for Kubernetes"
)]
struct Cli {
    /// Configuration file (TOML). Optional; also `TOPSAIL_CONFIG`.
    #[arg(long, global = true, env = "TOPSAIL_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:3000; also `TOPSAIL_LISTEN`).
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Directory for the SQLite database and local state (default ./data; also `TOPSAIL_DATA_DIR`).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory of the built UI (default: `site/` beside the binary; also `TOPSAIL_SITE_DIR`).
    #[arg(long, global = true, value_name = "DIR")]
    site_dir: Option<PathBuf>,
    /// Log format (also `TOPSAIL_LOG_FORMAT`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Import or export pipelines (Spinnaker's pipeline JSON), on the configured database.
    Pipeline {
        #[command(subcommand)]
        action: PipelineAction,
    },
    /// Manage users (on the configured database; recorded in the audit log).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage API tokens (`Authorization: Bearer <token>`).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Write a backup (applications, every pipeline version, executions, users, API tokens,
    /// the audit log) as JSON lines: to `--file`, or to the blob store under `backups/`.
    Backup {
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Load a backup into a new, empty database (before Topsail first starts on it).
    Restore {
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "blob",
            conflicts_with = "blob"
        )]
        file: Option<PathBuf>,
        /// A key in the blob store, e.g. `backups/20261130T080000.000Z.jsonl`.
        #[arg(long, value_name = "KEY")]
        blob: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a local user; the password is read from `--password-file` or standard input.
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// A role (repeat for several).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// List users.
    List,
    /// Delete a user with their sessions and tokens.
    Delete { name: String },
    /// Set a new password: from `--password-file`, or a random one printed on standard output.
    ResetPassword {
        name: String,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token for a user; prints it once.
    Create {
        #[arg(long)]
        user: String,
        /// What it is for.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Lifetime, e.g. `30d` (default: no expiry).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum PipelineAction {
    /// Save the pipelines in each file (a JSON object, or a list of them) as new versions.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print a pipeline's JSON (the latest version, or `--version N`).
    Export {
        application: String,
        name: String,
        #[arg(long)]
        version: Option<u32>,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the effective configuration (secrets redacted); exit non-zero if it is invalid.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen,
        data_dir: cli.data_dir.clone(),
        site_dir: cli.site_dir.clone(),
        log_format: cli.log_format,
    };
    let config = match config::load(
        cli.config.as_deref(),
        &|var| std::env::var(var).ok(),
        overrides,
    ) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("topsail: {e}");
            return ExitCode::from(2);
        }
    };

    match cli.command.unwrap_or(Command::Serve) {
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!(
                "# effective configuration (database: {})",
                config.database_kind()
            );
            print!("{}", config.to_toml());
            ExitCode::SUCCESS
        }
        Command::Migrate => run(&config, migrate(&config)),
        Command::Pipeline { action } => run(&config, pipeline(&config, action)),
        Command::Serve => run(&config, serve(&config)),
        Command::User { action } => run(&config, users(&config, action)),
        Command::Token { action } => run(&config, tokens(&config, action)),
        Command::Backup { file } => run(&config, backup(&config, file)),
        Command::Restore { file, blob } => {
            let place = match (file, blob) {
                (Some(file), _) => server::backups::Place::File(file),
                (None, Some(key)) => server::backups::Place::Blob(key),
                (None, None) => unreachable!("clap requires --file or --blob"),
            };
            run(&config, restore(&config, place))
        }
    }
}

fn run(config: &Config, work: impl Future<Output = Result<(), server::StartError>>) -> ExitCode {
    init_logging(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("topsail: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|e| {
        eprintln!(
            "topsail: log_level {:?} is not a valid filter ({e}); using `info`",
            config.log_level
        );
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs a user command; a refused one is reported and makes the exit non-zero.
async fn users(config: &Config, action: UserAction) -> Result<(), server::StartError> {
    use server::identity::cli::{self, UserCommand};
    let wired = server::wiring::wire(config).await?;
    let command = match action {
        UserAction::Add {
            name,
            admin,
            roles,
            password_file,
        } => UserCommand::Add {
            name,
            admin,
            roles,
            password_file,
        },
        UserAction::List => UserCommand::List,
        UserAction::Delete { name } => UserCommand::Delete { name },
        UserAction::ResetPassword {
            name,
            password_file,
        } => UserCommand::ResetPassword {
            name,
            password_file,
        },
    };
    let done = cli::user(&wired.accounts, command).await;
    let _ = wired.store.close().await;
    done.map_err(server::StartError::Command)
}

/// Runs a token command.
async fn tokens(config: &Config, action: TokenAction) -> Result<(), server::StartError> {
    use server::identity::cli::{self, TokenCommand};
    let wired = server::wiring::wire(config).await?;
    let command = match action {
        TokenAction::Create {
            user,
            name,
            expires,
        } => TokenCommand::Create {
            user,
            name,
            expires,
        },
        TokenAction::List { user } => TokenCommand::List { user },
        TokenAction::Revoke { id } => TokenCommand::Revoke { id },
    };
    let done = cli::token(&wired.accounts, command).await;
    let _ = wired.store.close().await;
    done.map_err(server::StartError::Command)
}

/// Writes a backup; says where it went and what it holds.
async fn backup(config: &Config, file: Option<PathBuf>) -> Result<(), server::StartError> {
    use server::backups::Destination;
    let store = server::open_store(config).await?;
    // A backup to a file never touches blob storage (it may be down: that is when one is made).
    let done = match &file {
        Some(path) => server::backups::backup(&store, Destination::File(path))
            .await
            .map_err(|e| e.to_string()),
        None => match server::wiring::blob_store_checked(config).await {
            Ok(blobs) => server::backups::backup(&store, Destination::Blobs(&blobs))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
    };
    let _ = store.close().await;
    let (place, counts) = done.map_err(server::StartError::Command)?;
    println!(
        "backup written to {place}: {}",
        server::backups::describe(&counts)
    );
    Ok(())
}

/// Loads a backup into an empty database.
async fn restore(config: &Config, place: server::backups::Place) -> Result<(), server::StartError> {
    let store = server::open_store(config).await?;
    let blobs = match &place {
        server::backups::Place::File(_) => Ok(None),
        server::backups::Place::Blob(_) => {
            server::wiring::blob_store_checked(config).await.map(Some)
        }
    };
    let done = match blobs {
        Ok(blobs) => server::backups::restore(&store, blobs.as_ref(), &place)
            .await
            .map_err(|e| format!("{place}: {e}")),
        Err(e) => Err(e.to_string()),
    };
    let _ = store.close().await;
    let counts = done.map_err(server::StartError::Command)?;
    println!(
        "restored {place} into the {} database: {}",
        config.database_kind(),
        server::backups::describe(&counts)
    );
    Ok(())
}

async fn migrate(config: &Config) -> Result<(), server::StartError> {
    let store = server::open_store(config).await?;
    tracing::info!(database = config.database_kind(), "migrations applied");
    let _ = store.close().await;
    Ok(())
}

/// Runs a pipeline command; problems with the input are reported and make the exit non-zero.
async fn pipeline(config: &Config, action: PipelineAction) -> Result<(), server::StartError> {
    use domain::pipeline::PipelineDocument;
    use domain::{AppError, ApplicationName};

    let wired = server::wiring::wire(config).await?;
    let (store, services) = (wired.store.clone(), wired.services.clone());
    let rc = server::identity::cli::local_context();
    let mut failed = false;
    let mut fail = |message: String| {
        eprintln!("error: {message}");
        failed = true;
    };
    match action {
        PipelineAction::Import { files } => {
            for file in files {
                let parsed = std::fs::read_to_string(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())
                    });
                let values = match parsed {
                    Ok(serde_json::Value::Array(items)) => items,
                    Ok(one) => vec![one],
                    Err(e) => {
                        fail(format!("{}: {e}", file.display()));
                        continue;
                    }
                };
                for value in values {
                    let document = match PipelineDocument::from_value(value) {
                        Ok(d) => d,
                        Err(p) => {
                            fail(format!("{}: {p}", file.display()));
                            continue;
                        }
                    };
                    let label = format!("{}/{}", document.application(), document.name());
                    match services.pipelines.save(&rc, document).await {
                        Ok(saved) => {
                            let what = if saved.changed {
                                format!("saved as version {}", saved.version)
                            } else {
                                format!("unchanged (version {})", saved.version)
                            };
                            println!("{label}: {what} (id {})", saved.id);
                            for w in saved.warnings {
                                println!("  warning: {w}");
                            }
                        }
                        Err(AppError::Invalid { fields }) => {
                            for f in fields {
                                fail(format!(
                                    "{}: {label}: {}: {}",
                                    file.display(),
                                    f.field,
                                    f.message
                                ));
                            }
                        }
                        Err(e) => fail(format!("{}: {label}: {e}", file.display())),
                    }
                }
            }
        }
        PipelineAction::Export {
            application,
            name,
            version,
        } => {
            let exported = match ApplicationName::parse(&application) {
                Err(e) => Err(AppError::invalid("application", &e.message)),
                Ok(app) => match services.pipelines.get(&rc, &app, &name).await {
                    Ok(detail) => match version {
                        None => Ok(detail.document),
                        Some(v) => services
                            .pipelines
                            .history(&rc, &detail.summary.id)
                            .await
                            .and_then(|all| {
                                all.into_iter()
                                    .find(|h| h.version == v)
                                    .map(|h| h.document)
                                    .ok_or(AppError::NotFound {
                                        what: format!("version {v} of pipeline '{name}'"),
                                    })
                            }),
                    },
                    Err(e) => Err(e),
                },
            };
            match exported {
                Ok(document) => println!(
                    "{}",
                    serde_json::to_string_pretty(&document).expect("JSON serializes")
                ),
                Err(e) => fail(e.to_string()),
            }
        }
    }
    let _ = store.close().await;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

async fn serve(config: &Config) -> Result<(), server::StartError> {
    let bound = server::bind(config).await?;
    let addr = bound.local_addr();
    tracing::info!(database = config.database_kind(), site_dir = %config.site_dir.display(), "listening on http://{addr}");
    if let Some(metrics) = bound.metrics_addr() {
        tracing::info!("metrics on http://{metrics}/metrics");
    }
    bound.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
