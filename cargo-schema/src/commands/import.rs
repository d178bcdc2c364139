//! `import --from refinery|sqlx|diesel DIR`: another tool's history becomes a model crate's
//! revisions, one per migration in the same order, its SQL converted to operations where
//! the parser understands it; with `--database`, a database that tool migrated is adopted
//! (stamped at the revision of the last migration it applied, nothing re-run).

use std::path::{Path, PathBuf};

use schema::runner::{Migrator, RunOptions};
use schema_core::file::{self, RevisionFile};
use schema_core::foreign::{self, ForeignMigration, Tool};
use schema_core::Dialect;
use serde_json::json;

use crate::commands::db::{adopting_crate, write_models};
use crate::commands::{next_id, WorkspaceState};
use crate::database;
use crate::error::{CliError, ExitCode, Result};
use crate::output::Output;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The tool whose migrations DIR holds: refinery, sqlx or diesel.
    #[arg(long, value_parser = ["refinery", "sqlx", "diesel"])]
    pub from: String,
    /// The tool's migrations directory.
    pub dir: PathBuf,
    /// A database that tool migrated: stamped at the matching revision, nothing re-run.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub database: Option<String>,
    /// The database the SQL is written for: postgres, sqlite or mysql (default: the
    /// database's, else the crate's one dialect).
    #[arg(long)]
    pub dialect: Option<String>,
}

/// What one migration became.
struct Imported {
    revision: String,
    version: String,
    name: String,
    from: PathBuf,
    path: PathBuf,
    kept_as_sql: Vec<String>,
    /// How its downgrade was made: `converted`, or `generated` and why.
    downgrade: &'static str,
}

impl Imported {
    fn json(&self) -> serde_json::Value {
        json!({
            "revision": self.revision,
            "version": self.version,
            "name": self.name,
            "from": self.from.display().to_string(),
            "path": self.path.display().to_string(),
            "kept_as_sql": self.kept_as_sql,
            "downgrade": self.downgrade,
        })
    }
}

/// Every file up to two levels below `dir` (diesel keeps one directory per migration),
/// relative to it, with its text.
fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let fail = |p: &Path, e: std::io::Error| CliError::input(format!("{}: {e}", p.display()));
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| fail(&d, e))? {
            let path = entry.map_err(|e| fail(&d, e))?.path();
            if path.is_dir() {
                if depth == 0 {
                    pending.push((path, 1));
                }
            } else if path.extension().is_some_and(|e| e == "sql" || e == "rs") {
                let text = std::fs::read_to_string(&path).map_err(|e| fail(&path, e))?;
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                out.push((rel, text));
            }
        }
    }
    Ok(out)
}

/// The versions the database applied, which must be the first of `migrations`, in
/// order; the index of the last one (none: nothing applied).
fn applied_prefix(
    tool: Tool,
    applied: &[String],
    migrations: &[ForeignMigration],
    shown: &str,
) -> Result<Option<usize>> {
    let normal = |v: &str| v.trim().trim_start_matches('0').replace('-', "");
    let applied: Vec<String> = applied.iter().map(|v| normal(v)).collect();
    for v in &applied {
        if !migrations.iter().any(|m| normal(&m.version) == *v) {
            return Err(CliError::input(format!(
                "{shown} applied {} migration {v}, which is not in the directory; import the directory the database was migrated from",
                tool.name()
            )));
        }
    }
    let count = applied.len();
    for (i, m) in migrations.iter().enumerate() {
        let done = applied.contains(&normal(&m.version));
        if done != (i < count) {
            return Err(CliError::input(format!(
                "{shown} applied {} migrations out of order ({} {} is {}applied); apply the missing ones with {} first",
                tool.name(),
                m.version,
                m.name,
                if done { "" } else { "not " },
                tool.name()
            )));
        }
    }
    Ok(count.checked_sub(1))
}

pub fn import(
    ws: &Workspace,
    package: Option<&str>,
    args: &ImportArgs,
    database_flag: Option<&str>,
    manifest_path: Option<&Path>,
    out: &Output,
) -> Result<ExitCode> {
    let tool = Tool::parse(&args.from)
        .ok_or_else(|| CliError::input(format!("unknown tool `{}`", args.from)))?;
    let migrations = foreign::collect(tool, &read_dir(&args.dir)?)
        .map_err(|e| CliError::input(e.to_string()))?;
    if migrations.is_empty() {
        return Err(CliError::input(format!(
            "{} holds no {} migrations",
            args.dir.display(),
            tool.name()
        )));
    }
    // The database first: everything that can refuse does so before a file is written.
    let url = match &args.database {
        Some(_) => Some(database::resolve_url(database_flag, Some(&ws.root))?),
        None => None,
    };
    let dialect = match (&args.dialect, &url) {
        (Some(d), _) => Dialect::parse(d).ok_or_else(|| {
            CliError::input(format!("--dialect takes postgres, sqlite or mysql, not `{d}`"))
        })?,
        (None, Some(u)) => database::parse_url(u)?.dialect(),
        (None, None) => match ws.select(package).map(|k| k.dialects.as_slice()) {
            Ok([one]) => *one,
            _ => {
                return Err(CliError::input(
                    "say which database the SQL is written for: --dialect postgres|sqlite|mysql (or --database URL)",
                ))
            }
        },
    };
    // (the connection, the URL as shown, the index of the last migration it applied)
    let mut adopt = match &url {
        None => None,
        Some(u) => {
            let shown = database::redact(u);
            let applied = database::first_column(u, &tool.applied_query(dialect)).map_err(|e| {
                CliError::input(format!(
                    "{e}; is {shown} a database {} migrated (its {} table)?",
                    tool.name(),
                    tool.history_table()
                ))
            })?;
            let last = applied_prefix(tool, &applied, &migrations, &shown)?;
            let mut conn = database::connect(u)?.with_history_schema(&ws.history_schema);
            let history = crate::commands::db::read_history(&mut conn)?;
            if !history.is_empty() {
                return Err(CliError::input(format!(
                    "{shown} has a cargo-schema history already ({} revision(s) recorded)",
                    history.len()
                )));
            }
            Some((conn, shown, last))
        }
    };
    let (ws, krate) = adopting_crate(ws, package, manifest_path)?;
    let graph = ws.graph()?;
    let mut state = WorkspaceState::of(&graph)?.schema;
    let before_import: Vec<String> = state
        .tables
        .keys()
        .chain(state.views.keys())
        .cloned()
        .collect();
    let created = crate::time::now_utc();
    let mut parent: Vec<String> = vec![];
    let mut taken: Vec<String> = vec![];
    let mut report: Vec<Imported> = Vec::new();
    let mut files = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let before = state.clone();
        let up = foreign::convert(&m.up, dialect, &mut state);
        let (down, used_down) =
            foreign::downgrade(&up.ops, m.down.as_deref(), dialect, &before, &state);
        let id = next_id(&graph, taken.iter().cloned());
        taken.push(id.clone());
        let rev = RevisionFile {
            revision: id.clone(),
            down_revisions: std::mem::replace(&mut parent, vec![id.clone()]),
            branch_labels: if i == 0 {
                vec![krate.branch.clone()]
            } else {
                vec![]
            },
            depends_on: vec![],
            message: format!("{} {} {}", tool.name(), m.version, m.name),
            created: created.clone(),
            breaking: None,
            upgrade: up.ops,
            downgrade: down.ops,
        };
        let path = krate
            .migrations_dir
            .join(file::file_name(&created, &id, &rev.message));
        files.push((path.clone(), file::write(&rev, &[])));
        report.push(Imported {
            revision: id,
            version: m.version.clone(),
            name: m.name.clone(),
            from: args.dir.join(&m.path),
            path,
            kept_as_sql: up.kept,
            downgrade: if used_down {
                "converted"
            } else if m.down.is_some() {
                "generated (the down migration did not restore the schema)"
            } else {
                "generated"
            },
        });
    }
    for (path, text) in &files {
        std::fs::write(path, text)
            .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
    }
    let tables: Vec<schema_core::TableDef> = state
        .tables
        .values()
        .filter(|t| !before_import.contains(&t.name))
        .cloned()
        .collect();
    let header = format!(
        "The tables of the {} history imported from {}.\nThese structs are the source of truth from now on: edit them, then `cargo schema revision`.",
        tool.name(),
        args.dir.display()
    );
    let views: Vec<schema_core::ViewDef> = state
        .views
        .values()
        .filter(|v| !before_import.contains(&v.name))
        .cloned()
        .collect();
    let models = write_models(&krate, &tables, &views, &header)?;
    // The files written are read back as any history is: a mistake here shows now.
    let ws = Workspace::discover(manifest_path)?;
    let graph = ws.graph()?;
    let mut stamped = None;
    if let Some((conn, shown, Some(last))) = &mut adopt {
        let id = report[*last].revision.clone();
        let m = Migrator::new(
            &graph,
            RunOptions {
                ahead: schema::runner::AheadPolicy::Refuse,
                ..RunOptions::default()
            },
        );
        crate::commands::db::stamp_with(conn, &m, &id)?;
        // The views the history created there are the database's: their checksums are
        // recorded as a run would have, so comparisons read them.
        let applied = m
            .state_of(&graph.ancestors([id.as_str()]))
            .map_err(|e| CliError::input(e.to_string()))?;
        let records: Vec<String> = applied
            .views
            .values()
            .flat_map(|v| dialect.view_record_sql(v, true))
            .collect();
        if !records.is_empty() {
            crate::commands::db::execute_all(conn, &records)?;
        }
        stamped = Some((shown.clone(), id));
    }
    if out.json() {
        out.print_json(&json!({
            "tool": tool.name(),
            "crate": krate.name,
            "revisions": report.iter().map(Imported::json).collect::<Vec<_>>(),
            "models": models.display().to_string(),
            "stamped": stamped.as_ref().map(|(db, id)| json!({"database": db, "revision": id})),
        }));
        return Ok(ExitCode::Success);
    }
    out.say(format!(
        "Imported {} {} migration(s) from {} into `{}` as revisions {}..{}; models of {} table(s) in {}",
        migrations.len(),
        tool.name(),
        args.dir.display(),
        krate.name,
        taken.first().map(String::as_str).unwrap_or(""),
        taken.last().map(String::as_str).unwrap_or(""),
        tables.len(),
        models.display()
    ));
    for r in &report {
        for k in &r.kept_as_sql {
            out.say(format!(
                "  {} ({}): kept as SQL: {k}",
                r.revision,
                r.path.display()
            ));
        }
        if r.downgrade != "converted" {
            out.say(format!("  {}: downgrade {}", r.revision, r.downgrade));
        }
    }
    match (&adopt, &stamped) {
        (_, Some((db, id))) => out.say(format!(
            "Stamped {db} at {id}: nothing was run; `cargo schema check --database` compares it"
        )),
        (Some((_, db, None)), _) => out.say(format!(
            "{db} applied no {} migration: nothing to stamp",
            tool.name()
        )),
        _ => {}
    }
    Ok(ExitCode::Success)
}
