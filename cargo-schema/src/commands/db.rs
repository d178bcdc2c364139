//! Commands that talk to a database: `upgrade`, `downgrade`, `stamp`, `current`, `reset`,
//! `check --database`; and `sql`, which renders offline.

use std::collections::BTreeSet;

use schema::compare::differences;
use schema::runner::{drop_all, Migrator, RunError, RunOptions};
use schema_core::graph::MigrationGraph;
use schema_core::plan::render_range;
use schema_core::Dialect;
use schema_core::Schema;
use serde_json::json;

use crate::database::{self, Connection};
use crate::error::{CliError, ExitCode, Result};
use crate::output::Output;
use crate::workspace::Workspace;

/// Runs an async body against whichever backend the connection is.
macro_rules! on_backend {
    ($conn:expr, |$db:ident| $body:expr) => {
        match $conn {
            Connection::Sqlite(c) => {
                let mut $db = schema::sqlite::SqliteBackend::new(c);
                schema::embed::block_on($body)
            }
            Connection::Postgres {
                client,
                target,
                tls,
                runtime,
            } => {
                let mut $db = Connection::postgres_backend(client, target, tls);
                runtime.block_on($body)
            }
            Connection::Mysql { conn, runtime } => {
                let mut $db = schema::mysql::MysqlBackend::new(conn);
                runtime.block_on($body)
            }
        }
    };
}

fn run_err(e: RunError) -> CliError {
    match e {
        RunError::Target(m) => CliError::Input(m),
        RunError::Edited { .. }
        | RunError::Ahead(_)
        | RunError::Replay { .. }
        | RunError::PartlyReverted { .. }
        | RunError::Backup(_)
        | RunError::Renumbered { .. }
        | RunError::AheadBreaking(_) => CliError::Input(e.to_string()),
        other => CliError::Database(other.to_string()),
    }
}

pub struct DbContext<'a> {
    pub ws: &'a Workspace,
    pub url_flag: Option<&'a str>,
    pub out: &'a Output,
}

impl DbContext<'_> {
    fn connect(&self) -> Result<(Connection, database::Target, String)> {
        let url = database::resolve_url(self.url_flag, Some(&self.ws.root))?;
        let target = database::parse_url(&url)?;
        let conn = database::connect(&url)?.with_history_schema(&self.ws.history_schema);
        Ok((conn, target, database::redact(&url)))
    }
}

fn options(allow_edited: bool) -> RunOptions {
    RunOptions {
        // The CLI never works on a database ahead of its files; it says which revisions.
        ahead: schema::runner::AheadPolicy::Refuse,
        allow_edited,
        ..RunOptions::default()
    }
}

pub fn upgrade(cx: &DbContext<'_>, target: &str, options: RunOptions) -> Result<ExitCode> {
    let (mut conn, _, shown) = cx.connect()?;
    // At head, nothing needs parsing: compare ids and checksums with the history.
    if matches!(target, "heads" | "head") && at_head(cx.ws, &mut conn, &options)? {
        if cx.out.json() {
            cx.out.print_json(&json!({"applied": []}));
        } else {
            cx.out.say(format!("{shown} is up to date"));
        }
        return Ok(ExitCode::Success);
    }
    let graph = cx.ws.graph()?;
    let m = Migrator::new(&graph, options);
    let report = on_backend!(&mut conn, |db| m.upgrade(&mut db, target)).map_err(run_err)?;
    if cx.out.json() {
        cx.out.print_json(&json!({"applied": report.revisions}));
    } else if report.revisions.is_empty() {
        cx.out.say(format!("{shown} is up to date"));
    } else {
        for r in &report.revisions {
            cx.out.say(format!("Applied {r}"));
        }
    }
    Ok(ExitCode::Success)
}

/// Whether the database records exactly the revisions the files hold, with their
/// checksums (a quick scan, no parsing). Any doubt answers no.
fn at_head(ws: &Workspace, conn: &mut Connection, options: &RunOptions) -> Result<bool> {
    history_at(conn, head_checksums(ws)?.as_deref(), options)
}

/// Every revision file's id and checksum, from a quick scan (none when a file's id cannot
/// be read that way: then only parsing decides).
pub fn head_checksums(ws: &Workspace) -> Result<Option<Vec<(String, String)>>> {
    let files = schema_core::resolver::scan(&ws.sources())?;
    Ok(files
        .iter()
        .map(|f| Some((f.id.clone()?, f.checksum.clone())))
        .collect())
}

/// Whether the history records exactly `expected` (see [`head_checksums`]).
fn history_at(
    conn: &mut Connection,
    expected: Option<&[(String, String)]>,
    options: &RunOptions,
) -> Result<bool> {
    use schema::runner::Backend;
    let Some(expected) = expected else {
        return Ok(false);
    };
    let applied = on_backend!(conn, |db| db.read_history()).map_err(run_err)?;
    Ok(schema::runner::history_matches(
        &applied,
        expected.iter().map(|(i, c)| (i.as_str(), c.as_str())),
        options.allow_edited,
    ))
}

pub fn downgrade(
    cx: &DbContext<'_>,
    target: &str,
    options: RunOptions,
    dry_run: bool,
) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let (mut conn, _, _) = cx.connect()?;
    let m = Migrator::new(&graph, options);
    // The plan is shown before anything is reverted: every revision of another branch by
    // name, since reverting it drops what that branch's crate created.
    let plan = on_backend!(&mut conn, |db| async {
        let applied = m.applied(&mut db).await?;
        m.downgrade_plan(&applied, target)
    })
    .map_err(run_err)?;
    let others = plan.other_branches(&graph);
    let branch_of = |id: &str| graph.branch_of(id).unwrap_or_default();
    if cx.out.json() && dry_run {
        cx.out.print_json(&json!({
            "reverts": plan.revisions,
            "other_branches": others.iter().map(|id| json!({"revision": id, "branch": branch_of(id)})).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::Success);
    }
    if !others.is_empty() {
        for id in &others {
            cx.out.warn(format!(
                "{id} (branch `{}`) follows a revision being reverted, so it is reverted too",
                branch_of(id)
            ));
        }
    }
    if dry_run {
        if plan.revisions.is_empty() {
            cx.out.say("Nothing to downgrade");
        }
        for id in &plan.revisions {
            cx.out.say(format!("Would revert {id}"));
        }
        return Ok(ExitCode::Success);
    }
    let report = on_backend!(&mut conn, |db| m.downgrade(&mut db, target)).map_err(run_err)?;
    if cx.out.json() {
        cx.out.print_json(&json!({"reverted": report.revisions}));
    } else if report.revisions.is_empty() {
        cx.out.say("Nothing to downgrade");
    } else {
        for r in &report.revisions {
            cx.out.say(format!("Reverted {r}"));
        }
    }
    Ok(ExitCode::Success)
}

pub fn stamp(cx: &DbContext<'_>, target: &str, forget_unknown: bool) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let (mut conn, _, _) = cx.connect()?;
    let m = Migrator::new(
        &graph,
        RunOptions {
            forget_unknown,
            ..options(true)
        },
    );
    let report = on_backend!(&mut conn, |db| m.stamp(&mut db, target)).map_err(run_err)?;
    if cx.out.json() {
        cx.out
            .print_json(&json!({"stamped": target, "recorded": report.revisions}));
    } else {
        cx.out.say(format!(
            "Stamped {target} ({} revision(s) recorded)",
            report.revisions.len()
        ));
    }
    Ok(ExitCode::Success)
}

pub fn current(cx: &DbContext<'_>) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let (mut conn, _, shown) = cx.connect()?;
    let m = Migrator::new(&graph, options(false));
    let (current, half_done) = on_backend!(&mut conn, |db| async {
        Ok::<_, RunError>((m.current(&mut db).await?, m.half_done(&mut db).await?))
    })
    .map_err(run_err)?;
    let heads: BTreeSet<String> = graph.heads().iter().map(|h| h.id().to_string()).collect();
    // Where DDL commits itself, a revision can be half done: say so beside where it is.
    let half: Vec<String> = half_done
        .iter()
        .map(|(id, p)| format!("{id} ({})", p.to_column().unwrap_or_default()))
        .collect();
    if cx.out.json() {
        cx.out.print_json(&json!({
            "current": current,
            "at_head": current.iter().cloned().collect::<BTreeSet<_>>() == heads && half.is_empty(),
            "stopped_halfway": half,
        }));
        return Ok(ExitCode::Success);
    }
    for h in &half {
        cx.out.warn(format!(
            "{h} stopped halfway; `cargo schema upgrade` continues it, `cargo schema downgrade` reverts it"
        ));
    }
    if cx.out.json() {
    } else if current.is_empty() {
        cx.out.say(format!("{shown}: <base> (no revision applied)"));
    } else {
        for c in &current {
            let mark = if heads.contains(c) { " (head)" } else { "" };
            cx.out.say(format!("{c}{mark}"));
        }
    }
    Ok(ExitCode::Success)
}

pub fn reset(cx: &DbContext<'_>, force: bool) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let url = database::resolve_url(cx.url_flag, Some(&cx.ws.root))?;
    let shown = database::redact(&url);
    if !force && !database::is_local(&database::parse_url(&url)?) {
        return Err(CliError::input(format!(
            "{shown} is not a local database; reset refuses without --force"
        )));
    }
    let mut conn = database::connect(&url)?.with_history_schema(&cx.ws.history_schema);
    let m = Migrator::new(&graph, options(true));
    let report = on_backend!(&mut conn, |db| async {
        let applied = m.applied(&mut db).await?;
        let state = m.state_of(&applied)?;
        drop_all(&mut db, &state).await?;
        m.upgrade(&mut db, "heads").await
    })
    .map_err(run_err)?;
    if cx.out.json() {
        cx.out
            .print_json(&json!({"reset": shown, "applied": report.revisions}));
    } else {
        cx.out.say(format!(
            "Reset {shown}: dropped the migrated tables, applied {} revision(s)",
            report.revisions.len()
        ));
    }
    Ok(ExitCode::Success)
}

/// `upgrade --rehearse`: the pending revisions run and rolled back, with what each step
/// cost.
pub fn rehearse(cx: &DbContext<'_>, target: &str, options: RunOptions) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let (mut conn, _, shown) = cx.connect()?;
    let m = Migrator::new(&graph, options);
    let report = on_backend!(&mut conn, |db| m.rehearse(&mut db, target)).map_err(run_err)?;
    if cx.out.json() {
        cx.out.print_json(&json!({
            "database": shown,
            "rolled_back": true,
            "revisions": report.iter().map(|r| json!({
                "revision": r.revision,
                "steps": r.steps.iter().map(|s| json!({
                    "statements": s.statements,
                    "ms": s.elapsed.as_secs_f64() * 1000.0,
                    "rows": s.rows,
                    "locks": s.locks.iter().map(|(rel, mode)| json!({"relation": rel, "mode": mode})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::Success);
    }
    if report.is_empty() {
        cx.out.say(format!("{shown}: nothing to rehearse"));
        return Ok(ExitCode::Success);
    }
    for r in &report {
        cx.out.say(format!("Rehearsed {}", r.revision));
        for s in &r.steps {
            let first = s.statements.first().map(String::as_str).unwrap_or("");
            let first = first.lines().next().unwrap_or("");
            let mut line = format!("  {:>9.1} ms", s.elapsed.as_secs_f64() * 1000.0);
            if let Some(n) = s.rows {
                line.push_str(&format!("  {n} row(s)"));
            }
            line.push_str(&format!("  {first}"));
            if s.statements.len() > 1 {
                line.push_str(&format!(" (+{} more)", s.statements.len() - 1));
            }
            cx.out.say(line);
            for (rel, mode) in &s.locks {
                cx.out.say(format!("               lock {mode} on {rel}"));
            }
        }
    }
    cx.out.say(format!(
        "Rolled back: {shown} is as it was; nothing was recorded"
    ));
    Ok(ExitCode::Success)
}

/// `repair`: bring the history in step with the files where that is safe (see
/// [`Migrator::repair`]); exit 1 when revisions whose operations changed are left.
pub fn repair(cx: &DbContext<'_>, accept: &[String]) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let (mut conn, _, shown) = cx.connect()?;
    let m = Migrator::new(&graph, options(true));
    let report = on_backend!(&mut conn, |db| m.repair(&mut db, accept)).map_err(run_err)?;
    if cx.out.json() {
        cx.out.print_json(&json!({
            "renumbered": report.renumbered.iter().map(|(a, b)| json!({"recorded": a, "now": b})).collect::<Vec<_>>(),
            "rerecorded": report.rerecorded,
            "accepted": report.accepted,
            "changed": report.changed,
            "unknown": report.unknown,
        }));
    } else {
        for (a, b) in &report.renumbered {
            cx.out
                .say(format!("{a} is {b} now (renumbered): recorded as {b}"));
        }
        for id in &report.rerecorded {
            cx.out
                .say(format!("{id}: only its file's form changed: re-recorded"));
        }
        for id in &report.accepted {
            cx.out.say(format!(
                "{id}: its operations changed: re-recorded, as --accept says"
            ));
        }
        for id in &report.changed {
            cx.out.warn(format!(
                "{id}: its operations differ from what {shown} recorded; the file now says:"
            ));
            if let Some(r) = graph.get(id) {
                for op in &r.file.upgrade {
                    cx.out.warn(format!("  {}", op.summary()));
                }
            }
            cx.out.warn(format!(
                "  check that the database has this, then `cargo schema repair --accept {id}`"
            ));
        }
        for id in &report.unknown {
            cx.out
                .warn(format!("{id}: recorded, but this code does not know it"));
        }
        if report.renumbered.is_empty()
            && report.rerecorded.is_empty()
            && report.accepted.is_empty()
            && report.changed.is_empty()
        {
            cx.out
                .say(format!("{shown}: the history matches the files"));
        }
    }
    Ok(if report.changed.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Difference
    })
}

/// What the database records as applied (`history --database`).
pub fn applied(cx: &DbContext<'_>, graph: &MigrationGraph) -> Result<BTreeSet<String>> {
    let (mut conn, _, _) = cx.connect()?;
    let m = Migrator::new(graph, options(true));
    on_backend!(&mut conn, |db| m.applied(&mut db)).map_err(run_err)
}

/// `check --database`: the live schema against the schema its recorded revisions produce.
pub fn drift(cx: &DbContext<'_>, graph: &MigrationGraph) -> Result<Vec<String>> {
    let (mut conn, target, _) = cx.connect()?;
    let dialect = target.dialect();
    let m = Migrator::new(graph, options(true));
    let (expected, actual) = on_backend!(&mut conn, |db| async {
        use schema::runner::Backend;
        let applied = m.applied(&mut db).await?;
        let expected = m.state_of(&applied)?;
        let actual = db.introspect().await?;
        Ok::<(Schema, Schema), RunError>((expected, actual))
    })
    .map_err(run_err)?;
    Ok(differences(dialect, &expected, &actual))
}

/// The SQL a range of revisions would run, without a database.
/// The dialect a script is for: `--dialect`, else the configured URL's (no connection is
/// made), else `fallback`.
fn script_dialect(
    ws: &Workspace,
    url_flag: Option<&str>,
    flag: Option<&str>,
    fallback: Option<Dialect>,
) -> Result<Dialect> {
    if let Some(d) = flag {
        return Dialect::parse(d).ok_or_else(|| {
            CliError::input(format!(
                "unknown dialect `{d}`, expected postgres, sqlite or mysql"
            ))
        });
    }
    if let Ok(url) = database::resolve_url(url_flag, Some(&ws.root)) {
        if let Ok(t) = database::parse_url(&url) {
            return Ok(t.dialect());
        }
    }
    fallback.ok_or_else(|| {
        CliError::input("give --dialect (postgres, sqlite or mysql) or a database URL")
    })
}

/// The SQL a range of revisions would run, without a database; the dialect is
/// `--dialect`, else the configured database's, else SQLite.
pub fn sql(
    ws: &Workspace,
    url_flag: Option<&str>,
    range: &str,
    dialect: Option<&str>,
    out: &Output,
) -> Result<ExitCode> {
    let dialect = script_dialect(ws, url_flag, dialect, Some(Dialect::Sqlite))?;
    let graph = ws.graph()?;
    let (from, to) = match range.split_once(':') {
        Some((f, t)) => (f, t),
        None => ("base", range),
    };
    let range = graph.range(from, to).map_err(CliError::input)?;
    let script = render_range(&graph, dialect, &range).map_err(CliError::Input)?;
    print_sql(out, dialect, &script);
    Ok(ExitCode::Success)
}

/// `upgrade --sql` / `downgrade --sql`: the script the runner would run, transactions and
/// history rows included, from the database's recorded revisions or from `--from REV`
/// (then no database is needed).
pub fn script(
    cx: &DbContext<'_>,
    target: &str,
    up: bool,
    from: Option<&str>,
    dialect: Option<&str>,
) -> Result<ExitCode> {
    let graph = cx.ws.graph()?;
    let (range, dialect, start) = match from {
        Some(rev) => {
            let d = script_dialect(cx.ws, cx.url_flag, dialect, None)?;
            let from_set = graph
                .upgrade_set(rev, &BTreeSet::new())
                .map_err(|e| CliError::input(e.to_string()))?;
            let range = graph
                .range_from(from_set, target)
                .map_err(|e| CliError::input(e.to_string()))?;
            (range, d, format!("from {rev}"))
        }
        None => {
            let (mut conn, t, shown) = cx.connect()?;
            if let Some(d) = dialect.and_then(Dialect::parse) {
                if d != t.dialect() {
                    return Err(CliError::input(format!(
                        "--dialect {d} does not match {shown}, which is {}",
                        t.dialect()
                    )));
                }
            }
            let m = Migrator::new(&graph, options(false));
            let applied = on_backend!(&mut conn, |db| m.applied(&mut db)).map_err(run_err)?;
            let range = graph
                .range_from(applied, target)
                .map_err(|e| CliError::input(e.to_string()))?;
            (range, t.dialect(), format!("from what {shown} records"))
        }
    };
    let verb = if up { "upgrade" } else { "downgrade" };
    if (up && !range.downgrade.is_empty()) || (!up && !range.upgrade.is_empty()) {
        return Err(CliError::input(format!(
            "`{target}` is {} that point; use `{} --sql`",
            if up { "behind" } else { "ahead of" },
            if up { "downgrade" } else { "upgrade" }
        )));
    }
    let run_with = match dialect {
        Dialect::Postgres => "psql -v ON_ERROR_STOP=1 -f FILE (not psql -1: each revision has its own transaction)",
        Dialect::Sqlite => "sqlite3 -bail DATABASE < FILE",
        Dialect::Mysql => "mariadb DATABASE < FILE (each DDL statement commits itself; the runner's upgrade records progress, this script does not)",
    };
    let heading = format!(
        "cargo schema {verb} --sql {target}, {start}, for {dialect}\nRun it with: {run_with}"
    );
    let text = schema_core::plan::render_script(
        &graph,
        dialect,
        &range,
        &heading,
        cx.ws.history_schema.as_deref(),
    )
    .map_err(CliError::Input)?;
    print_sql(cx.out, dialect, &text);
    Ok(ExitCode::Success)
}

/// SQL as it is, or with `--format json` one document holding it.
fn print_sql(out: &Output, dialect: Dialect, sql: &str) {
    if out.json() {
        out.print_json(&json!({"dialect": dialect.name(), "sql": sql}));
    } else {
        crate::output::stdout(sql);
    }
}

/// What a fleet run asks of each of its targets.
#[derive(Debug, Clone)]
pub enum FleetAction {
    Upgrade { target: String, options: RunOptions },
    Downgrade { target: String, options: RunOptions },
    Stamp { target: String, force: bool },
    Status { drift: bool },
    Check,
}

/// What one target of a fleet run did and where it is.
#[derive(Debug, Clone, Default)]
pub struct TargetOutcome {
    /// Revisions applied, reverted or stamped.
    pub changed: Vec<String>,
    /// Where it is (status), when asked.
    pub current: Vec<String>,
    /// Revisions of the files it does not record (status).
    pub pending: usize,
    /// How its schema differs from the one its history describes (status --drift, check).
    pub drift: Option<Vec<String>>,
}

/// Runs one fleet action on one database, the way the single-database command does (an
/// upgrade at head costs one query), without printing.
pub fn on_target(
    graph: &MigrationGraph,
    heads: Option<&[(String, String)]>,
    url: &str,
    action: &FleetAction,
    connect_timeout: Option<std::time::Duration>,
    history_schema: &Option<String>,
) -> Result<TargetOutcome> {
    let mut conn =
        database::connect_within(url, connect_timeout)?.with_history_schema(history_schema);
    let dialect = database::parse_url(url)?.dialect();
    let mut out = TargetOutcome::default();
    match action {
        FleetAction::Upgrade { target, options } => {
            if matches!(target.as_str(), "heads" | "head") && history_at(&mut conn, heads, options)?
            {
                return Ok(out);
            }
            let m = Migrator::new(graph, options.clone());
            out.changed = on_backend!(&mut conn, |db| m.upgrade(&mut db, target))
                .map_err(run_err)?
                .revisions;
        }
        FleetAction::Downgrade { target, options } => {
            let m = Migrator::new(graph, options.clone());
            out.changed = on_backend!(&mut conn, |db| m.downgrade(&mut db, target))
                .map_err(run_err)?
                .revisions;
        }
        FleetAction::Stamp { target, force } => {
            let m = Migrator::new(
                graph,
                RunOptions {
                    forget_unknown: *force,
                    ..options(true)
                },
            );
            out.changed = on_backend!(&mut conn, |db| m.stamp(&mut db, target))
                .map_err(run_err)?
                .revisions;
        }
        FleetAction::Status { drift } => {
            let m = Migrator::new(graph, options(false));
            let want_drift = *drift;
            let (current, applied, diff) = on_backend!(&mut conn, |db| async {
                use schema::runner::Backend;
                let applied = m.applied(&mut db).await?;
                let current = m.current(&mut db).await?;
                let diff = if want_drift {
                    let expected = m.state_of(&applied)?;
                    Some(differences(dialect, &expected, &db.introspect().await?))
                } else {
                    None
                };
                Ok::<_, RunError>((current, applied, diff))
            })
            .map_err(run_err)?;
            out.pending = graph
                .ordered()
                .filter(|r| !applied.contains(r.id()))
                .count();
            out.current = current;
            out.drift = diff;
        }
        FleetAction::Check => {
            let m = Migrator::new(graph, options(true));
            let diff = on_backend!(&mut conn, |db| async {
                use schema::runner::Backend;
                let applied = m.applied(&mut db).await?;
                let expected = m.state_of(&applied)?;
                Ok::<_, RunError>(differences(dialect, &expected, &db.introspect().await?))
            })
            .map_err(run_err)?;
            out.drift = Some(diff);
        }
    }
    Ok(out)
}

/// The database's history rows (none: it has no history table).
pub fn read_history(conn: &mut Connection) -> Result<Vec<schema::runner::AppliedRevision>> {
    use schema::runner::Backend;
    on_backend!(conn, |db| db.read_history()).map_err(run_err)
}

/// Runs statements in one transaction (where DDL allows).
pub fn execute_all(conn: &mut Connection, statements: &[String]) -> Result<()> {
    use schema::runner::Backend;
    on_backend!(conn, |db| db.execute_all(statements)).map_err(run_err)
}

/// Records `target` (and what it needs) as applied, running nothing.
pub fn stamp_with(conn: &mut Connection, m: &Migrator<'_>, target: &str) -> Result<()> {
    on_backend!(conn, |db| m.stamp(&mut db, target))
        .map(drop)
        .map_err(run_err)
}

/// The crate a history is adopted into (`init --from-database`, `import`): made a model
/// crate if it is not one, refused when it has revisions or a `tables.rs` already, so
/// that nothing is overwritten. Returns the workspace as it now is, and the crate.
pub fn adopting_crate(
    ws: &Workspace,
    package: Option<&str>,
    manifest_path: Option<&std::path::Path>,
) -> Result<(Workspace, crate::workspace::ModelCrate)> {
    if let Ok(k) = ws.select(package) {
        let graph = ws.graph()?;
        if graph
            .ordered()
            .any(|r| r.path.starts_with(&k.migrations_dir))
        {
            return Err(CliError::input(format!(
                "`{}` has revisions already; adopt a history into a crate that has none",
                k.name
            )));
        }
    }
    crate::commands::revision::init(ws, package, &quiet())?;
    let ws = Workspace::discover(manifest_path)?;
    let krate = ws.select(package)?.clone();
    let models = models_file(&krate);
    if models.exists() {
        return Err(CliError::input(format!(
            "{} exists; move it away to adopt a history into `{}`",
            models.display(),
            krate.name
        )));
    }
    Ok((ws, krate))
}

/// The output of a command run as a step of another.
fn quiet() -> Output {
    Output::new(
        crate::output::Format::Human,
        crate::output::ColorChoice::Never,
        true,
        false,
    )
}

fn models_file(krate: &crate::workspace::ModelCrate) -> std::path::PathBuf {
    krate
        .root_file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("tables.rs")
}

/// Writes `tables` and `views` as models to the crate's `src/tables.rs` and declares the
/// module.
pub fn write_models(
    krate: &crate::workspace::ModelCrate,
    tables: &[schema_core::TableDef],
    views: &[schema_core::ViewDef],
    header: &str,
) -> Result<std::path::PathBuf> {
    let models = models_file(krate);
    let mut text = schema_syntax::write::model_source(tables, header);
    text.push_str(&schema_syntax::write::view_source(views));
    std::fs::write(&models, text)
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", models.display())))?;
    let root = std::fs::read_to_string(&krate.root_file)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", krate.root_file.display())))?;
    if !root.contains("mod tables;") {
        let sep = if root.is_empty() || root.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        std::fs::write(&krate.root_file, format!("{root}{sep}\npub mod tables;\n")).map_err(
            |e| CliError::input(format!("cannot write {}: {e}", krate.root_file.display())),
        )?;
    }
    Ok(models)
}

/// `init --from-database`: a database no history manages yet becomes a model crate's
/// starting point: its tables written as models (`src/tables.rs`), a baseline revision
/// autogenerated from them, and the database stamped at it, so that `check` and
/// `check --database` pass at once. Refused (with nothing written) for a database that has
/// a history or no tables, and for a crate that has revisions or a `tables.rs`.
pub fn init_from_database(
    ws: &Workspace,
    package: Option<&str>,
    url_flag: Option<&str>,
    manifest_path: Option<&std::path::Path>,
    out: &Output,
) -> Result<ExitCode> {
    use schema::runner::Backend;
    let url = database::resolve_url(url_flag, Some(&ws.root))?;
    let shown = database::redact(&url);
    let mut conn = database::connect(&url)?.with_history_schema(&ws.history_schema);
    let (history, live) = on_backend!(&mut conn, |db| async {
        Ok::<_, RunError>((db.read_history().await?, db.introspect().await?))
    })
    .map_err(run_err)?;
    if !history.is_empty() {
        return Err(CliError::input(format!(
            "{shown} has a migration history already ({} revision(s) recorded); `init --from-database` adopts a database that has none",
            history.len()
        )));
    }
    if live.tables.is_empty() {
        return Err(CliError::input(format!("{shown} has no tables to adopt")));
    }
    let (_, krate) = adopting_crate(ws, package, manifest_path)?;
    let tables: Vec<schema_core::TableDef> = live.tables.values().cloned().collect();
    let header = format!(
        "The tables of {shown}, as `cargo schema init --from-database` read them.\nThese structs are the source of truth from now on: edit them, then `cargo schema revision`."
    );
    let models = write_models(&krate, &tables, &[], &header)?;
    let ws = Workspace::discover(manifest_path)?;
    crate::commands::revision::revision(
        &ws,
        Some(&krate.name),
        &crate::commands::revision::RevisionArgs::with_message("baseline from the database"),
        &quiet(),
    )?;
    let ws = Workspace::discover(manifest_path)?;
    let graph = ws.graph()?;
    let baseline = graph
        .ordered()
        .find(|r| r.path.starts_with(&krate.migrations_dir))
        .ok_or_else(|| CliError::input("the baseline revision was not written"))?;
    let m = Migrator::new(&graph, options(true));
    on_backend!(&mut conn, |db| m.stamp(&mut db, baseline.id())).map_err(run_err)?;
    let written = [
        models.display().to_string(),
        baseline.path.display().to_string(),
    ];
    if out.json() {
        out.print_json(&json!({
            "adopted": shown,
            "tables": tables.len(),
            "models": written[0],
            "revision": baseline.id(),
            "path": written[1],
        }));
    } else {
        out.say(format!(
            "Adopted {shown}: {} table(s) written as models to {}, baseline revision {} ({}), database stamped at it",
            tables.len(),
            written[0],
            baseline.id(),
            written[1]
        ));
        out.warn("the models use chrono, uuid, rust_decimal or serde_json types where the columns need them: add those crates to the model crate's dependencies");
    }
    Ok(ExitCode::Success)
}
