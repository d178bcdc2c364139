//! The `cargo schema` subcommand as a library: `run` parses the arguments, runs one
//! command and returns the process exit code.

mod commands;
mod database;
mod error;
mod fleet;
mod output;
mod time;
mod tls;
mod workspace;

use commands::db::FleetAction;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error::{CliError, ExitCode};
use output::{ColorChoice, Format, Output};

#[derive(Debug, Parser)]
#[command(
    name = "cargo schema",
    bin_name = "cargo schema",
    version,
    about = "Schema migrations for Rust workspaces"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

impl Global {
    /// The URL of a flag that takes one optionally (`--database`, `--from-database`):
    /// given bare, `--database-url`'s.
    fn database_flag<'a>(&'a self, given: &'a str) -> Option<&'a str> {
        if given.is_empty() {
            self.database_url.as_deref()
        } else {
            Some(given)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// Database URL (else DATABASE_URL, also read from a .env file).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Path to the workspace's Cargo.toml.
    #[arg(long, global = true, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// The model crate to work on, when there are several.
    #[arg(short = 'p', long, global = true, value_name = "CRATE")]
    package: Option<String>,
    /// When to color messages.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Output format of read commands.
    #[arg(long, global = true, value_enum, default_value = "human")]
    format: Format,
    /// Print nothing but errors and what was asked for.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Say more (e.g. `history` shows each revision's path, checksum and operations).
    #[arg(short, long, global = true)]
    verbose: bool,
}

/// `--sql`: print the script instead of running it.
#[derive(Debug, clap::Args)]
struct ScriptArgs {
    /// Print the SQL the runner would send (transactions and history rows included) and
    /// touch nothing.
    #[arg(long)]
    sql: bool,
    /// With --sql: start from this revision instead of asking the database.
    #[arg(long, value_name = "REV", requires = "sql", allow_hyphen_values = true)]
    from: Option<String>,
    /// With --sql: postgres, sqlite or mysql (default: the database URL's).
    #[arg(long, value_name = "DIALECT", requires = "sql")]
    dialect: Option<String>,
}

/// `--targets`: the same command on many databases.
#[derive(Debug, Default, clap::Args)]
struct FleetArgs {
    /// Run on every database a fleet file lists, stage by stage (`-`: URLs, one per line,
    /// on standard input); one result line per target, exit 3 when any failed.
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// With --targets: targets at once [default: the stage's `parallel`, else the number
    /// of cores].
    #[arg(long, value_name = "N", requires = "targets")]
    parallel: Option<usize>,
    /// With --targets: connections to one server at once.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "targets")]
    per_server: usize,
    /// With --targets: how long to wait for each connection (e.g. `5s`).
    #[arg(long, value_name = "DURATION", value_parser = duration, requires = "targets")]
    connect_timeout: Option<std::time::Duration>,
    /// With --targets: keep starting a stage's targets after one fails (a stage with more
    /// failures than its `max-failures` still stops the rollout before the next stage).
    #[arg(long, requires = "targets")]
    continue_on_error: bool,
}

impl FleetArgs {
    fn options(&self) -> Option<commands::fleet::FleetOptions> {
        Some(commands::fleet::FleetOptions {
            file: self.targets.clone()?,
            parallel: self.parallel,
            per_server: self.per_server,
            connect_timeout: self.connect_timeout,
            continue_on_error: self.continue_on_error,
            summary: true,
        })
    }
}

/// `database create|drop`.
#[derive(Debug, Subcommand)]
enum DatabaseAction {
    /// Create the URL's database if it does not exist (an SQLite file, or a database on
    /// the server).
    Create,
    /// Drop the URL's database if it exists (refused for a non-local database without
    /// --force).
    Drop {
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or drop the database the URL names.
    Database {
        #[command(subcommand)]
        action: DatabaseAction,
    },
    /// Print a completion script: `source <(cargo-schema completions bash)`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Add [package.metadata.schema] and a migrations directory to a crate; with
    /// --from-database, also the models of an existing database, a baseline revision, and
    /// the database stamped at it.
    Init {
        /// Adopt this database (its tables become models; default: --database-url).
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
        from_database: Option<String>,
    },
    /// Turn a refinery, sqlx or diesel migrations directory into revisions (SQL the
    /// parser understands becomes operations, the rest stays SQL), with models of the
    /// result; with --database, stamp a database that tool migrated, running nothing.
    Import(commands::import::ImportArgs),
    /// Write a new revision: the operations that take the migrations to the models.
    Revision(commands::revision::RevisionArgs),
    /// Exit 1 when the models and the migrations disagree (and, with --database, the database).
    Check {
        /// Also compare a live database with the schema its recorded revision should have.
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
        database: Option<String>,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Show where the database is: its revision and how many revisions it lacks (with
    /// --targets, every database of a fleet).
    Status {
        /// Also compare each schema with the one its recorded revisions describe.
        #[arg(long)]
        drift: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// List revisions, newest first.
    History {
        /// Also mark each revision applied or pending on a database.
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
        database: Option<String>,
    },
    /// List the heads of every branch.
    Heads,
    /// List branches with their roots and heads.
    Branches,
    /// Show one revision.
    Show {
        revision: String,
        /// Also print the SQL of its upgrade and downgrade for this dialect (postgres,
        /// sqlite or mysql).
        #[arg(long)]
        dialect: Option<String>,
    },
    /// Write a revision that joins several heads.
    Merge {
        #[arg(short, long)]
        message: String,
        #[arg(long, value_parser = revision_id)]
        rev_id: Option<String>,
        #[arg(required = true, num_args = 1..)]
        revisions: Vec<String>,
    },
    /// Apply revisions up to TARGET (default: every head).
    Upgrade {
        #[arg(default_value = "heads")]
        target: String,
        /// Accept applied revisions whose file changed since.
        #[arg(long)]
        allow_edited: bool,
        /// Apply every pending revision in one transaction (all or nothing).
        #[arg(long)]
        single_transaction: bool,
        /// Seconds to wait for another process's migration lock.
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        lock_timeout: u64,
        /// How long a DDL statement waits for another session's lock (PostgreSQL
        /// `lock_timeout`, e.g. `200ms`, `5s`) before its revision is rolled back and
        /// retried, 3 times with backoff [default: the workspace's `ddl-lock-timeout`,
        /// else 5s]
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        ddl_lock_timeout: Option<std::time::Duration>,
        /// Run the pending revisions in a transaction that is rolled back, and report each
        /// step's time, rows and (PostgreSQL) locks; nothing is recorded.
        #[arg(long, conflicts_with_all = ["backup", "single_transaction"])]
        rehearse: bool,
        /// Back the database up to this new file first, when something is pending
        /// (SQLite: a copy; PostgreSQL: `pg_dump -Fc`, restore with `pg_restore`).
        #[arg(long, value_name = "PATH")]
        backup: Option<PathBuf>,
        /// Create the database first when it does not exist.
        #[arg(long)]
        create_database: bool,
        #[command(flatten)]
        script: ScriptArgs,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Revert revisions down to TARGET: an id, -N, base, or BRANCH@base.
    Downgrade {
        #[arg(allow_hyphen_values = true)]
        target: String,
        #[arg(long)]
        allow_edited: bool,
        /// Print what would be reverted, and revert nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        script: ScriptArgs,
        /// Seconds to wait for another process's migration lock.
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        lock_timeout: u64,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Record TARGET as applied without running it.
    Stamp {
        target: String,
        /// Also forget history rows of revisions this code does not know.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Show the revision(s) the database is at.
    Current,
    /// Print the SQL for [FROM:]TO without a database.
    Sql {
        range: String,
        /// postgres, sqlite or mysql (MariaDB); default: the database URL's, else sqlite.
        #[arg(long)]
        dialect: Option<String>,
    },
    /// Drop what the migrations created and upgrade again (local databases only).
    Reset {
        #[arg(long)]
        force: bool,
    },
    /// Record a release tag for the current heads (refused with two heads on a branch or
    /// models that differ from the migrations). Tags are targets for upgrade, downgrade,
    /// stamp and sql.
    Tag { name: String },
    /// Report what takes a strong lock on PostgreSQL (or breaks running code), with the
    /// safe form; exit 1 on errors.
    Lint {
        /// Revisions to lint (default: every one).
        revisions: Vec<String>,
    },
    /// Bring the history in step with the files: re-record revisions renumbered or changed
    /// only in form, and, named with --accept, those whose operations changed.
    Repair {
        /// A revision whose operations changed, once the database has what its file says.
        #[arg(long, value_name = "REV")]
        accept: Vec<String>,
    },
    /// Give a revision file the next free id and put it after the current head of its
    /// branch: the fix for two files that took the same number on two git branches.
    Renumber {
        /// The migration file to renumber (the one no shared database has applied).
        file: PathBuf,
        /// The id to give it (default: the next free one).
        #[arg(long, value_parser = revision_id)]
        rev_id: Option<String>,
    },
}

/// `200ms`, `5s`, or a number of seconds.
fn duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    schema_core::manifest::parse_duration(s)
}

/// `--rev-id`: checked before anything is written, since it becomes a file name.
pub(crate) fn revision_id(s: &str) -> std::result::Result<String, String> {
    schema_core::input::revision_id(s).map(|()| s.to_string())
}

/// Runs the command line; returns the exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // `cargo schema ...` runs `cargo-schema schema ...`.
    if args.get(1).is_some_and(|a| a == "schema") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::Input as i32
            } else {
                0
            };
        }
    };
    let g = &cli.global;
    let out = Output::new(g.format, g.color, g.quiet, g.verbose);
    match dispatch(&cli, &out) {
        Ok(code) => code as i32,
        Err(e) => {
            if !matches!(e, CliError::Difference(_)) || !e.to_string().is_empty() {
                out.error(e.to_string());
            }
            e.exit_code() as i32
        }
    }
}

fn dispatch(cli: &Cli, out: &Output) -> Result<ExitCode, CliError> {
    let g = &cli.global;
    let ws = || workspace::Workspace::discover(g.manifest_path.as_deref());
    match &cli.command {
        Command::Init { from_database } => match from_database {
            None => commands::revision::init(&ws()?, g.package.as_deref(), out),
            Some(url) => {
                let flag = g.database_flag(url);
                commands::db::init_from_database(
                    &ws()?,
                    g.package.as_deref(),
                    flag,
                    g.manifest_path.as_deref(),
                    out,
                )
            }
        },
        Command::Import(args) => {
            let flag = args.database.as_deref().and_then(|u| g.database_flag(u));
            commands::import::import(
                &ws()?,
                g.package.as_deref(),
                args,
                flag,
                g.manifest_path.as_deref(),
                out,
            )
        }
        Command::Revision(args) => {
            commands::revision::revision(&ws()?, g.package.as_deref(), args, out)
        }
        Command::Check { database, fleet } => {
            let ws = ws()?;
            // One load of the migrations serves both comparisons.
            let graph = ws.graph()?;
            // The database's drift first, so that one report (one JSON document) says all.
            let drift = match database {
                Some(url) if fleet.targets.is_none() => {
                    let flag = g.database_flag(url);
                    let cx = commands::db::DbContext {
                        ws: &ws,
                        url_flag: flag,
                        out,
                    };
                    Some(commands::db::drift(&cx, &graph)?)
                }
                _ => None,
            };
            let code =
                commands::inspect::check(&ws, &graph, g.package.as_deref(), drift.as_deref(), out)?;
            if let Some(opts) = fleet.options() {
                let fleet_code = commands::fleet::run(&ws, out, &opts, FleetAction::Check)?;
                return Ok(if code == ExitCode::Success {
                    fleet_code
                } else {
                    code.max(fleet_code)
                });
            }
            Ok(code)
        }
        Command::Status { drift, fleet } => {
            let ws = ws()?;
            let action = FleetAction::Status { drift: *drift };
            match fleet.options() {
                Some(opts) => commands::fleet::run(&ws, out, &opts, action),
                None => {
                    let url = database::resolve_url(g.database_url.as_deref(), Some(&ws.root))?;
                    commands::fleet::run_one(&ws, out, &url, action)
                }
            }
        }
        Command::History { database } => {
            let ws = ws()?;
            let graph = ws.graph()?;
            let applied = match database {
                None => None,
                Some(url) => {
                    let flag = g.database_flag(url);
                    let cx = commands::db::DbContext {
                        ws: &ws,
                        url_flag: flag,
                        out,
                    };
                    Some(commands::db::applied(&cx, &graph)?)
                }
            };
            commands::inspect::history(&ws, &graph, applied.as_ref(), out)
        }
        Command::Database { action } => {
            let root = workspace::Workspace::discover(g.manifest_path.as_deref())
                .ok()
                .map(|w| w.root);
            let url = database::resolve_url(g.database_url.as_deref(), root.as_deref())?;
            let shown = database::redact(&url);
            match action {
                DatabaseAction::Create => {
                    let created = database::create_database(&url)?;
                    if out.json() {
                        out.print_json(&serde_json::json!({"database": shown, "created": created}));
                    } else if created {
                        out.say(format!("Created {shown}"));
                    } else {
                        out.say(format!("{shown} exists already"));
                    }
                }
                DatabaseAction::Drop { force } => {
                    if !force && !database::is_local(&database::parse_url(&url)?) {
                        return Err(CliError::input(format!(
                            "{shown} is not a local database; `database drop --force` drops it anyway"
                        )));
                    }
                    let dropped = database::drop_database(&url)?;
                    if out.json() {
                        out.print_json(&serde_json::json!({"database": shown, "dropped": dropped}));
                    } else if dropped {
                        out.say(format!("Dropped {shown}"));
                    } else {
                        out.say(format!("{shown} does not exist"));
                    }
                }
            }
            Ok(ExitCode::Success)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "cargo-schema", &mut text);
            output::stdout(&String::from_utf8_lossy(&text));
            Ok(ExitCode::Success)
        }
        Command::Heads => commands::inspect::heads(&ws()?, out),
        Command::Branches => commands::inspect::branches(&ws()?, out),
        Command::Show { revision, dialect } => {
            commands::inspect::show(&ws()?, revision, dialect.as_deref(), out)
        }
        Command::Merge {
            message,
            rev_id,
            revisions,
        } => commands::revision::merge(&ws()?, message, rev_id.as_deref(), revisions, out),
        Command::Upgrade {
            target,
            allow_edited,
            single_transaction,
            lock_timeout,
            ddl_lock_timeout,
            backup,
            rehearse,
            script,
            fleet,
            create_database,
        } => {
            let ws = ws()?;
            if *create_database {
                if fleet.targets.is_some() || script.sql {
                    return Err(CliError::input(
                        "--create-database creates the one database of --database-url",
                    ));
                }
                let url = database::resolve_url(g.database_url.as_deref(), Some(&ws.root))?;
                if database::create_database(&url)? && !out.json() {
                    out.say(format!("Created {}", database::redact(&url)));
                }
            }
            // What every upgrade here runs with; the CLI never works on a database ahead
            // of its files.
            let options = schema::RunOptions {
                allow_edited: *allow_edited,
                single_transaction: *single_transaction,
                lock_timeout_secs: *lock_timeout,
                ddl_lock_timeout: ddl_lock_timeout
                    .or(ws.ddl_lock_timeout)
                    .unwrap_or(schema::RunOptions::default().ddl_lock_timeout),
                ahead: schema::runner::AheadPolicy::Refuse,
                ..Default::default()
            };
            if let Some(opts) = fleet.options() {
                if *rehearse || script.sql || backup.is_some() {
                    return Err(CliError::input(
                        "--targets runs the upgrade on every target; --rehearse, --sql and --backup are for one database",
                    ));
                }
                let action = FleetAction::Upgrade {
                    target: target.clone(),
                    options,
                };
                return commands::fleet::run(&ws, out, &opts, action);
            }
            if *rehearse {
                return commands::db::rehearse(&db_cx(&ws, g, out), target, options);
            }
            if script.sql {
                return commands::db::script(
                    &db_cx(&ws, g, out),
                    target,
                    true,
                    script.from.as_deref(),
                    script.dialect.as_deref(),
                );
            }
            let options = schema::RunOptions {
                backup: backup.clone(),
                observer: output::RunProgress::for_output(out),
                ..options
            };
            commands::db::upgrade(&db_cx(&ws, g, out), target, options)
        }
        Command::Downgrade {
            target,
            allow_edited,
            dry_run,
            lock_timeout,
            script,
            fleet,
        } => {
            let ws = ws()?;
            let options = schema::RunOptions {
                allow_edited: *allow_edited,
                lock_timeout_secs: *lock_timeout,
                ahead: schema::runner::AheadPolicy::Refuse,
                ..Default::default()
            };
            if let Some(opts) = fleet.options() {
                if script.sql || *dry_run {
                    return Err(CliError::input(
                        "--targets reverts every target; --sql and --dry-run are for one database",
                    ));
                }
                let action = FleetAction::Downgrade {
                    target: target.clone(),
                    options,
                };
                return commands::fleet::run(&ws, out, &opts, action);
            }
            if script.sql {
                return commands::db::script(
                    &db_cx(&ws, g, out),
                    target,
                    false,
                    script.from.as_deref(),
                    script.dialect.as_deref(),
                );
            }
            commands::db::downgrade(&db_cx(&ws, g, out), target, options, *dry_run)
        }
        Command::Stamp {
            target,
            force,
            fleet,
        } => {
            let ws = ws()?;
            if let Some(opts) = fleet.options() {
                let action = FleetAction::Stamp {
                    target: target.clone(),
                    force: *force,
                };
                return commands::fleet::run(&ws, out, &opts, action);
            }
            commands::db::stamp(&db_cx(&ws, g, out), target, *force)
        }
        Command::Current => {
            let ws = ws()?;
            commands::db::current(&db_cx(&ws, g, out))
        }
        Command::Reset { force } => {
            let ws = ws()?;
            commands::db::reset(&db_cx(&ws, g, out), *force)
        }
        Command::Sql { range, dialect } => commands::db::sql(
            &ws()?,
            g.database_url.as_deref(),
            range,
            dialect.as_deref(),
            out,
        ),
        Command::Tag { name } => commands::inspect::tag(&ws()?, name, out),
        Command::Lint { revisions } => commands::inspect::lint(&ws()?, revisions, out),
        Command::Repair { accept } => commands::db::repair(&db_cx(&ws()?, g, out), accept),
        Command::Renumber { file, rev_id } => {
            commands::revision::renumber(&ws()?, file, rev_id.as_deref(), out)
        }
    }
}

fn db_cx<'a>(
    ws: &'a workspace::Workspace,
    g: &'a Global,
    out: &'a Output,
) -> commands::db::DbContext<'a> {
    commands::db::DbContext {
        ws,
        url_flag: g.database_url.as_deref(),
        out,
    }
}
