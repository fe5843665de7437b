//! `ganglion`: the one binary. It picks the database from the URL, wires the use cases
//! to the HTTP server or to the command line, and runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use ganglion_app::{App, Ctx, DemoShape, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncWriteExt;

// A server allocates on every request from several threads at once: on the transitions
// benchmark glibc's allocator took about a tenth of every thread's time, and mimalloc
// gave some 15 % more transitions a second.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_DATABASE: &str = "sqlite://ganglion.db";

#[derive(Parser)]
#[command(
    name = "ganglion",
    version,
    about = "Decisions go down, results come up: the working system of an organization with many levels.",
    after_help = "Example:\n  ganglion serve --demo        # a sample organization on ./ganglion.db, at http://127.0.0.1:8080"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DatabaseArg {
    /// The database: sqlite://PATH (the default, a file) or postgres://USER@HOST/DATABASE.
    #[arg(long = "db", env = "GANGLION_DATABASE_URL", default_value = DEFAULT_DATABASE, value_name = "URL")]
    url: String,
}

#[derive(Args, Clone)]
struct AuditKeyArg {
    /// The file of the Ed25519 key that signs the audit log's checkpoints, kept outside
    /// the database (made at init, mode 0600). Default: beside an SQLite file
    /// (ganglion.db.audit-key), or ~/.local/share/ganglion/DATABASE.audit-key.
    #[arg(long = "audit-key", env = "GANGLION_AUDIT_KEY", value_name = "FILE")]
    path: Option<PathBuf>,
}

impl AuditKeyArg {
    fn path_for(&self, database_url: &str) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| ganglion_app::default_audit_key_path(database_url))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Creates the database and records the organization's template.
    #[command(
        after_help = "Examples:\n  ganglion init\n  ganglion init --db postgres://postgres@127.0.0.1/ganglion --template union"
    )]
    Init {
        #[command(flatten)]
        db: DatabaseArg,
        /// The kinds of unit and which may sit under which: party, union or company.
        #[arg(long, default_value = "party")]
        template: String,
        #[command(flatten)]
        audit_key: AuditKeyArg,
    },
    /// Runs the server.
    #[command(
        after_help = "Examples:\n  ganglion serve --demo\n  ganglion serve --db postgres://postgres@127.0.0.1/ganglion --listen 0.0.0.0:8080"
    )]
    Serve {
        #[command(flatten)]
        db: DatabaseArg,
        /// The address to listen on.
        #[arg(long, env = "GANGLION_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// First fill an empty database with the sample organization.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        audit_key: AuditKeyArg,
        /// With --demo: how many units the sample organization has.
        #[arg(long, default_value_t = 10_000, requires = "demo")]
        units: u64,
        /// Requests a second one account may send: N (bursts of 6 N), N/BURST, or off.
        /// A client address may send four times as many.
        #[arg(
            long,
            env = "GANGLION_RATE_LIMIT",
            default_value = "50/300",
            value_name = "N[/BURST]"
        )]
        rate_limit: ganglion_web::RateLimit,
        /// Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed,
        /// comma-separated addresses or networks (none by default).
        #[arg(
            long,
            env = "GANGLION_TRUSTED_PROXIES",
            value_delimiter = ',',
            value_name = "ADDRESS[/BITS]"
        )]
        trust_proxy: Vec<ganglion_web::Network>,
    },
    /// Fills an empty database with the sample organization.
    #[command(
        after_help = "Examples:\n  ganglion demo\n  ganglion demo --units 1000000 --db sqlite://big.db"
    )]
    Demo {
        #[command(flatten)]
        db: DatabaseArg,
        /// How many units the sample organization has.
        #[arg(long, default_value_t = 10_000)]
        units: u64,
        #[command(flatten)]
        audit_key: AuditKeyArg,
    },
    /// Imports records from a CSV file, all or nothing.
    #[command(after_help = "Example:\n  ganglion import units units.csv")]
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Checks the audit trail, proves entries and checkpoints, exports it for checking
    /// offline.
    #[command(
        after_help = "Examples:\n  ganglion audit verify --db sqlite://ganglion.db\n  ganglion audit proof 42 > entry-42.json\n  ganglion audit verify-export entry-42.json --key \"$(ganglion audit key)\""
    )]
    Audit {
        #[command(subcommand)]
        what: AuditWhat,
    },
    /// Checks that the database holds one tree and one history: SQLite's own check and
    /// foreign keys, every unit's path and depth, every tracked item's moves. Exit 0 if
    /// sound, non-zero naming what does not fit. The audit chain: `ganglion audit verify`.
    #[command(after_help = "Example:\n  ganglion check --db sqlite://ganglion.db")]
    Check {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Writes a consistent copy of the database to a new SQLite file, while the server runs.
    #[command(
        after_help = "Examples:\n  ganglion backup ganglion-2026-11-23.backup\n  ganglion backup pg.backup --db postgres://postgres@127.0.0.1/ganglion"
    )]
    Backup {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Restores a backup into an empty database (of either backend).
    #[command(
        after_help = "Example:\n  ganglion restore ganglion-2026-11-23.backup --db sqlite://restored.db"
    )]
    Restore {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Exports records as CSV.
    #[command(
        after_help = "Examples:\n  ganglion export units > units.csv\n  ganglion export units --under P01 --output p01.csv"
    )]
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
}

#[derive(Subcommand)]
enum AuditWhat {
    /// Recomputes the hash chain and the Merkle tree over it, and checks them against
    /// every stored checkpoint (and those given): exit 0 if intact, non-zero naming the
    /// first broken entry.
    #[command(
        after_help = "Examples:\n  ganglion audit verify\n  ganglion audit verify --key ganglion.pub --checkpoint kept-checkpoint.txt"
    )]
    Verify {
        #[command(flatten)]
        db: DatabaseArg,
        /// The public key to check the checkpoints with (the key itself or a file
        /// holding it). Default: the key file's, else the one the database recorded.
        #[arg(long, value_name = "PUBKEY")]
        key: Option<String>,
        /// A checkpoint handed out before (a file with its signed note); repeatable.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        #[command(flatten)]
        audit_key: AuditKeyArg,
    },
    /// Prints the public key that checks the audit log's checkpoints.
    #[command(after_help = "Example:\n  ganglion audit key > ganglion.pub")]
    Key {
        #[command(flatten)]
        db: DatabaseArg,
        #[command(flatten)]
        audit_key: AuditKeyArg,
    },
    /// Signs a checkpoint of the audit log as it stands now (the server does so by
    /// itself every 1,000 entries or 60 s) and prints it.
    #[command(after_help = "Example:\n  ganglion audit checkpoint > checkpoint.txt")]
    Checkpoint {
        #[command(flatten)]
        db: DatabaseArg,
        #[command(flatten)]
        audit_key: AuditKeyArg,
    },
    /// Writes the proof (JSON) that entry ENTRY is in the log as the latest checkpoint
    /// signed it, checkable offline with verify-export.
    #[command(after_help = "Example:\n  ganglion audit proof 42 --output entry-42.json")]
    Proof {
        /// The entry's sequence number.
        entry: i64,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Writes the proof (JSON) that the log signed at OLD entries is a prefix of the
    /// log signed at NEW: nothing signed before was changed since.
    #[command(after_help = "Example:\n  ganglion audit consistency 1000 5000 > 1000-5000.json")]
    Consistency {
        /// The size of the older checkpoint.
        old: i64,
        /// The size of the newer checkpoint.
        new: i64,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Writes every entry, every checkpoint and the consistency proofs between them as
    /// JSON lines, for checking offline with verify-export.
    #[command(after_help = "Example:\n  ganglion audit export --output audit.jsonl")]
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Checks an export, an inclusion proof or a consistency proof with the public key
    /// alone: no database needed.
    #[command(
        after_help = "Example:\n  ganglion audit verify-export audit.jsonl --key ganglion.pub --checkpoint kept-checkpoint.txt"
    )]
    VerifyExport {
        /// The file written by export, proof or consistency.
        file: PathBuf,
        /// The public key (the key itself or a file holding it).
        #[arg(long, value_name = "PUBKEY")]
        key: String,
        /// A checkpoint handed out before (a file with its signed note); repeatable.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// People and their posts from a CSV file with the header
    /// person_ref,name,unit_code,role,title,start,end (one row per post).
    #[command(after_help = "Example:\n  ganglion import people people.csv")]
    People {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Units from a CSV file with the header code,parent_code,kind,name,tags.
    #[command(
        after_help = "Example:\n  ganglion import units units.csv --db sqlite://ganglion.db"
    )]
    Units {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum ExportWhat {
    /// People and the posts they hold and held, in the import format.
    #[command(after_help = "Example:\n  ganglion export people --under P01 > p01-people.csv")]
    People {
        /// Only posts in the unit with this code and those under it.
        #[arg(long, value_name = "CODE")]
        under: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Units, parents before children, in the import format.
    #[command(after_help = "Example:\n  ganglion export units --under P01 > p01.csv")]
    Units {
        /// Only the unit with this code and those under it.
        #[arg(long, value_name = "CODE")]
        under: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GANGLION_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,sqlx::query=error,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Init {
            db,
            template,
            audit_key,
        } => {
            let app = App::init(&db.url, &template).await?;
            println!(
                "Initialized the {} organization template on {} ({}).",
                app.template().name,
                ganglion_store::redact_url(&db.url),
                app.backend_name()
            );
            ensure_admin(&app).await?;
            take_audit_key(&app, &audit_key.path_for(&db.url)).await?;
            app.close().await;
        }
        Command::Backup { file, db } => {
            let app = App::open(&db.url).await?;
            let started = Instant::now();
            let rows = app.backup(&Ctx::operator(), &file).await?;
            println!(
                "Backed up {rows} rows to {} in {:.1} s.",
                file.display(),
                started.elapsed().as_secs_f64()
            );
            app.close().await;
        }
        Command::Restore { file, db } => {
            let started = Instant::now();
            let (app, rows) = App::restore(&db.url, &file).await?;
            let status = app.verify_audit(&Ctx::operator()).await?;
            println!(
                "Restored {rows} rows from {} in {:.1} s; the audit trail is {} ({} entries).",
                file.display(),
                started.elapsed().as_secs_f64(),
                if status.intact { "intact" } else { "BROKEN" },
                status.entries
            );
            app.close().await;
        }
        Command::Audit { what } => audit_command(what).await?,
        Command::Check { db } => {
            let app = App::open(&db.url).await?;
            let report = app.check_integrity(&Ctx::operator()).await?;
            app.close().await;
            if report.sound() {
                println!(
                    "The database is sound: {} units, {} tracked items, {} moves.",
                    report.units, report.items, report.item_events
                );
            } else {
                for problem in &report.problems {
                    eprintln!("{problem}");
                }
                bail!(
                    "the database is not sound: {} problems (above)",
                    report.problems.len()
                );
            }
        }
        Command::Serve {
            db,
            listen,
            demo,
            audit_key,
            units,
            rate_limit,
            trust_proxy,
        } => {
            let app = if demo {
                let app = App::init(&db.url, "party").await?;
                ensure_admin(&app).await?;
                if app.unit_count().await? == 0 {
                    fill_demo(&app, units).await?;
                } else {
                    println!(
                        "The database already holds an organization; the demo accounts, if made, sign in with the password {}.",
                        ganglion_app::DEMO_PASSWORD
                    );
                }
                app
            } else {
                App::open(&db.url).await?
            };
            take_audit_key(&app, &audit_key.path_for(&db.url)).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let address = listener.local_addr()?;
            println!(
                "Ganglion is serving at http://{address}/ (database {}).",
                ganglion_store::redact_url(&db.url)
            );
            println!("The API is described at http://{address}/api/v1/openapi.json");
            let settings = ganglion_web::Settings {
                rate_limit,
                trusted_proxies: trust_proxy,
            };
            ganglion_web::serve_with(listener, app.clone(), settings, shutdown_signal()).await?;
            app.close().await;
            tracing::info!("stopped");
        }
        Command::Demo {
            db,
            units,
            audit_key,
        } => {
            let app = App::init(&db.url, "party").await?;
            ensure_admin(&app).await?;
            take_audit_key(&app, &audit_key.path_for(&db.url)).await?;
            fill_demo(&app, units).await?;
            app.close().await;
        }
        Command::Import {
            what: ImportWhat::Units { file, db },
        } => {
            let app = App::open(&db.url).await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let started = Instant::now();
            let bar = Bar::new();
            let result = app.import_units_csv(&Ctx::operator(), &bytes, &bar).await;
            bar.0.finish_and_clear();
            match result {
                Ok(summary) => println!(
                    "Imported {} units in {:.1} s.",
                    summary.created,
                    started.elapsed().as_secs_f64()
                ),
                Err(error) => return Err(explain_import_failure(error)),
            }
            app.close().await;
        }
        Command::Import {
            what: ImportWhat::People { file, db },
        } => {
            let app = App::open(&db.url).await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            match app.import_people_csv(&Ctx::operator(), &bytes).await {
                Ok(summary) => println!(
                    "Imported {} people and {} posts.",
                    summary.people_created, summary.posts_created
                ),
                Err(error) => return Err(explain_import_failure(error)),
            }
            app.close().await;
        }
        Command::Export { what } => {
            let people = matches!(what, ExportWhat::People { .. });
            let (ExportWhat::Units { under, output, db }
            | ExportWhat::People { under, output, db }) = what;
            let app = App::open(&db.url).await?;
            let under_id = unit_id_of_code(&app, under.as_deref()).await?;
            let ctx = Ctx::operator();
            if people {
                let export = app.export_people(&ctx, under_id.as_deref()).await?;
                write_export(export, output.as_deref()).await?;
            } else {
                let export = app.export_units(&ctx, under_id.as_deref()).await?;
                write_export(export, output.as_deref()).await?;
            }
            app.close().await;
        }
    }
    Ok(())
}

/// Loads the audit key, or makes it when the database has none: every server that
/// may sign needs it; one without it serves, and signs nothing.
async fn take_audit_key(app: &App, path: &std::path::Path) -> Result<()> {
    match app.use_audit_key(&Ctx::operator(), path, true).await? {
        ganglion_app::AuditKeyState::Created { path, public_key } => println!(
            "Made the audit key {} (keep it, and a copy, outside the database); its public key:\n  {public_key}",
            path.display()
        ),
        ganglion_app::AuditKeyState::Loaded { path, .. } => {
            tracing::info!(key = %path.display(), "the audit log's checkpoints are signed with this key")
        }
        ganglion_app::AuditKeyState::Absent { path, public_key } => eprintln!(
            "warning: no audit key at {}: this server signs no checkpoints (the database's key is {public_key}; give --audit-key its file)",
            path.display()
        ),
        ganglion_app::AuditKeyState::None { .. } => {}
    }
    Ok(())
}

/// A public key given on the command line, or the file holding it.
fn public_key_argument(given: &str) -> Result<String> {
    let path = std::path::Path::new(given);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(text.trim().to_owned());
    }
    Ok(given.trim().to_owned())
}

fn read_notes(files: &[PathBuf]) -> Result<Vec<String>> {
    files
        .iter()
        .map(|file| {
            std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
        })
        .collect()
}

/// Writes a document to a file or to standard output.
fn write_document(text: &str, output: Option<&std::path::Path>) -> Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

async fn audit_command(what: AuditWhat) -> Result<()> {
    let operator = Ctx::operator();
    match what {
        AuditWhat::Verify {
            db,
            key,
            checkpoints,
            audit_key,
        } => {
            let app = App::open(&db.url).await?;
            let public_key = match key {
                Some(given) => Some(public_key_argument(&given)?),
                None => {
                    app.use_audit_key(&Ctx::operator(), &audit_key.path_for(&db.url), false)
                        .await?;
                    None
                }
            };
            let options = ganglion_app::VerifyOptions {
                public_key,
                held: read_notes(&checkpoints)?,
            };
            let status = app.verify_audit_with(&operator, options).await?;
            app.close().await;
            if status.intact {
                println!(
                    "The audit trail is intact: {} entries, head {}, tree root {}; {} checkpoints match{}.",
                    status.entries,
                    status.head,
                    status.root,
                    status.checkpoints,
                    status
                        .public_key
                        .as_deref()
                        .map(|key| format!(" (checked with {key})"))
                        .unwrap_or_else(|| " (no public key to check their signatures)".into())
                );
            } else {
                bail!(
                    "the audit trail is broken at entry {}: {} ({} entries before it are intact)",
                    status.first_broken.unwrap_or_default(),
                    status.reason.unwrap_or_default(),
                    status.entries
                );
            }
        }
        AuditWhat::Key { db, audit_key } => {
            let app = App::open(&db.url).await?;
            app.use_audit_key(&Ctx::operator(), &audit_key.path_for(&db.url), false)
                .await?;
            let key = app.audit_log().public_key(&operator).await;
            app.close().await;
            println!(
                "{}",
                key.context("this database has no audit key yet; run `ganglion init`")?
            );
        }
        AuditWhat::Checkpoint { db, audit_key } => {
            let app = App::open(&db.url).await?;
            let path = audit_key.path_for(&db.url);
            app.use_audit_key(&Ctx::operator(), &path, false).await?;
            let checkpoint = app.audit_log().checkpoint_now(&operator).await;
            app.close().await;
            let checkpoint = checkpoint.with_context(|| {
                format!(
                    "cannot sign a checkpoint with the audit key {}",
                    path.display()
                )
            })?;
            print!("{}", checkpoint.note);
        }
        AuditWhat::Proof { entry, output, db } => {
            let app = App::open(&db.url).await?;
            let proof = app.audit_log().inclusion(&operator, entry).await;
            app.close().await;
            let proof = proof.with_context(|| format!("cannot prove entry {entry}"))?;
            let text = serde_json::to_string_pretty(&proof)? + "\n";
            write_document(&text, output.as_deref())?;
        }
        AuditWhat::Consistency {
            old,
            new,
            output,
            db,
        } => {
            let app = App::open(&db.url).await?;
            let proof = app.audit_log().consistency(&operator, old, new).await;
            app.close().await;
            let proof = proof.with_context(|| {
                format!("cannot prove the checkpoint of {old} entries consistent with {new}")
            })?;
            let text = serde_json::to_string_pretty(&proof)? + "\n";
            write_document(&text, output.as_deref())?;
        }
        AuditWhat::Export { output, db } => {
            let app = App::open(&db.url).await?;
            let started = Instant::now();
            let result = match &output {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut sink = std::io::BufWriter::with_capacity(1 << 20, file);
                    let written = app.audit_log().export(&operator, &mut sink).await;
                    if written.is_ok() {
                        sink.into_inner()
                            .map_err(|error| error.into_error())
                            .and_then(|file| file.sync_all())
                            .with_context(|| format!("cannot write {}", path.display()))?;
                    }
                    written
                }
                None => {
                    let mut sink = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
                    app.audit_log().export(&operator, &mut sink).await
                }
            };
            app.close().await;
            let written = result?;
            eprintln!(
                "Exported {written} audit entries in {:.1} s.",
                started.elapsed().as_secs_f64()
            );
        }
        AuditWhat::VerifyExport {
            file,
            key,
            checkpoints,
        } => {
            let public_key = public_key_argument(&key)?;
            let held = read_notes(&checkpoints)?;
            let reader = std::io::BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?,
            );
            let started = Instant::now();
            match ganglion_app::verify_document(reader, &public_key, &held) {
                Ok(report) => {
                    let unsigned = if report.unsigned_entries > 0 {
                        format!(
                            "; the last {} entries are after the last checkpoint, not yet signed",
                            report.unsigned_entries
                        )
                    } else {
                        String::new()
                    };
                    println!(
                        "The {} checks with {public_key}: {} entries, {} checkpoints, {} proofs, {} checkpoints held before; root {} ({:.1} s){unsigned}.",
                        report.document,
                        report.entries,
                        report.checkpoints,
                        report.proofs,
                        report.held,
                        report.root,
                        started.elapsed().as_secs_f64()
                    );
                }
                Err(failure) => bail!("{}: {failure}", file.display()),
            }
        }
    }
    Ok(())
}

/// Lists every bad row of a refused import on standard error.
fn explain_import_failure(error: ganglion_app::AppError) -> anyhow::Error {
    match error {
        ganglion_app::AppError::Rows { rows } => {
            for row in &rows {
                eprintln!("line {}: {}", row.line, row.reason);
            }
            anyhow::anyhow!("{} rows are not valid; nothing was imported", rows.len())
        }
        other => other.into(),
    }
}

/// The id of the unit with this code, for commands that take a code.
async fn unit_id_of_code(app: &App, code: Option<&str>) -> Result<Option<String>> {
    let Some(code) = code else { return Ok(None) };
    let unit = app
        .unit_by_code(&Ctx::operator(), code)
        .await
        .with_context(|| format!("no unit has the code {code}"))?;
    Ok(Some(unit.id))
}

/// Writes an export to a file or to standard output, piece by piece.
async fn write_export(
    mut export: impl ganglion_app::CsvExport,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin> = match output {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    while let Some(chunk) = export.next_chunk().await? {
        sink.write_all(&chunk).await?;
    }
    sink.flush().await?;
    // The export holds its snapshot's connection until dropped here, before the
    // caller closes the pool (which waits for every connection).
    Ok(())
}

async fn fill_demo(app: &App, units: u64) -> Result<()> {
    let started = Instant::now();
    let bar = Bar::new();
    let summary = app
        .fill_demo(&Ctx::operator(), DemoShape { units }, &bar)
        .await;
    bar.0.finish_and_clear();
    let summary = summary?;
    println!(
        "Built the sample organization: {} units in {:.1} s.",
        summary.created,
        started.elapsed().as_secs_f64()
    );
    let logins = app.appoint_demo_people(&Ctx::operator()).await?;
    let started = Instant::now();
    let scenarios = app.play_demo_scenarios(&Ctx::operator()).await?;
    println!(
        "Played the scenarios in {:.1} s: the centre's decision (directive {}) with {} county plans, \
         the grain goal of the rural ri committees (directive {}), {} reports of progress, \
         the regional development programme (programme {}, {} projects), a letter of pledge \
         (directive {}), {} experiences in the library ({} videos of the second short course) \
         and {} red-flag titles awarded ({} withdrawn).",
        started.elapsed().as_secs_f64(),
        scenarios.decision,
        scenarios.plans,
        scenarios.goal,
        scenarios.reports,
        scenarios.programme,
        scenarios.projects,
        scenarios.pledge,
        scenarios.experiences,
        scenarios.videos,
        scenarios.awards,
        scenarios.withdrawn_awards
    );
    println!("Demo logins (password {}):", ganglion_app::DEMO_PASSWORD);
    for login in logins {
        println!("  {:<16} {}", login.login, login.holds);
    }
    Ok(())
}

/// Makes the instance administrator unless there is one: the password comes from
/// GANGLION_ADMIN_PASSWORD, or is generated and printed this once.
async fn ensure_admin(app: &App) -> Result<()> {
    let given = std::env::var("GANGLION_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = given
        .clone()
        .unwrap_or_else(ganglion_app::generate_password);
    if app.create_admin(&password).await? {
        match given {
            Some(_) => println!("Created the administrator account admin (password from GANGLION_ADMIN_PASSWORD)."),
            None => println!(
                "Created the administrator account admin with the password {password}\n  (shown this once; set GANGLION_ADMIN_PASSWORD before init to choose it)."
            ),
        }
    }
    Ok(())
}

/// A progress bar on standard error, hidden when that is not a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>28} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        Self(bar)
    }
}

impl Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        self.0.set_message(name.to_owned());
        self.0.set_length(total);
        self.0.set_position(0);
    }

    fn advance(&self, done: u64) {
        self.0.inc(done);
    }
}

/// Completes on Ctrl-C or SIGTERM; the server then finishes what it is doing and stops.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests under way");
}
