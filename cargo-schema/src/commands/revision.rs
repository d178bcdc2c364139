//! Commands that write migration files: `init`, `revision`, `merge`, `renumber`.

use std::path::{Path, PathBuf};

use schema_core::dialect::sqlite_rebuild_reason;
use schema_core::file::{self, RevisionFile};
use schema_core::replay::apply;
use schema_core::Operation;

use super::{crate_heads, next_id, plan, WorkspaceState};
use crate::error::{CliError, ExitCode, Result};
use crate::output::Output;
use crate::time::now_utc;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct RevisionArgs {
    /// What the revision does; also names the file.
    #[arg(short, long)]
    message: String,
    /// The revision id (default: the next number, zero-padded to 4).
    #[arg(long, value_parser = crate::revision_id)]
    rev_id: Option<String>,
    /// Write an empty revision for hand-written or data steps; no autogenerate.
    #[arg(long)]
    empty: bool,
    /// The head to build on, e.g. `core@head` or a revision id (default: the crate's head).
    #[arg(long)]
    head: Option<String>,
    /// A branch label for the new revision.
    #[arg(long)]
    branch_label: Option<String>,
    /// A revision (of another branch) this one must follow.
    #[arg(long)]
    depends_on: Vec<String>,
    /// Print the file instead of writing it.
    #[arg(long)]
    dry_run: bool,
    /// Write the compatible changes as one revision (to ship before the code) and the
    /// breaking ones as the next (to ship after it).
    #[arg(long, conflicts_with = "empty")]
    split: bool,
}

impl RevisionArgs {
    /// A plain `revision -m MESSAGE`.
    pub fn with_message(message: &str) -> RevisionArgs {
        RevisionArgs {
            message: message.to_string(),
            rev_id: None,
            empty: false,
            head: None,
            branch_label: None,
            depends_on: vec![],
            dry_run: false,
            split: false,
        }
    }
}

pub fn revision(
    ws: &Workspace,
    package: Option<&str>,
    args: &RevisionArgs,
    out: &Output,
) -> Result<ExitCode> {
    let krate = ws.select(package)?;
    if krate.dependency {
        return Err(CliError::input(format!(
            "`{}` is a dependency ({}): its migrations are its authors' and read-only here; model what you need in a crate of this workspace",
            krate.name,
            krate.manifest_path.display()
        )));
    }
    let graph = ws.graph()?;
    let state = WorkspaceState::of(&graph)?;
    let plan = plan(ws, &graph, &state, krate)?;
    if plan.diff.is_empty() && !args.empty {
        if out.json() {
            out.print_json(&serde_json::json!({"written": []}));
        } else {
            out.say(format!(
                "No changes in the models of `{}`; no revision written.",
                krate.name
            ));
        }
        return Ok(ExitCode::Success);
    }

    // The parent: an explicit head, or the crate's one head.
    let parents: Vec<String> = match args.head.as_deref() {
        Some("base") => vec![],
        Some(h) => {
            let ids = graph.resolve(h).map_err(CliError::input)?;
            // A crate's revisions go on its own branch (or start one with --branch-label).
            if args.branch_label.is_none() {
                for id in &ids {
                    let on = graph.get(id).and_then(|r| ws.crate_of(&r.path));
                    if let Some(other) = on.filter(|o| o.name != krate.name) {
                        return Err(CliError::input(format!(
                            "--head {h}: revision {id} is on branch `{}` of crate `{}`, and a revision of `{}` goes on its own branch `{}`; to need {id}, use --depends-on {id}",
                            other.branch, other.name, krate.name, krate.branch
                        )));
                    }
                }
            }
            ids
        }
        None => {
            let heads = crate_heads(&graph, krate);
            if heads.len() > 1 {
                return Err(CliError::input(format!(
                    "`{}` has {} heads ({}); merge them first: cargo schema merge -m \"merge\" {}",
                    krate.name,
                    heads.len(),
                    heads
                        .iter()
                        .map(|h| format!("{} in {}", h.id(), h.path.display()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    heads.iter().map(|h| h.id()).collect::<Vec<_>>().join(" ")
                )));
            }
            heads.iter().map(|h| h.id().to_string()).collect()
        }
    };
    if parents.len() > 1 {
        return Err(CliError::input(format!(
            "--head names {} revisions; name one",
            parents.len()
        )));
    }
    let id = match &args.rev_id {
        Some(id) if graph.get(id).is_some() => {
            return Err(CliError::input(format!("revision `{id}` exists already")));
        }
        Some(id) => id.clone(),
        None => next_id(&graph, []),
    };
    let mut branch_labels: Vec<String> = args.branch_label.iter().cloned().collect();
    let mut depends_on = Vec::new();
    for d in &args.depends_on {
        depends_on.push(
            graph
                .revision_key(d)
                .map_err(|e| CliError::input(format!("--depends-on: {e}")))?,
        );
    }
    if parents.is_empty() {
        // A crate's first revision starts its branch and follows the crates it depends on.
        if branch_labels.is_empty() && graph.heads_of(&krate.branch).is_empty() {
            branch_labels.push(krate.branch.clone());
        }
        for dep in ws.dependencies_of(krate) {
            for h in crate_heads(&graph, dep) {
                if !depends_on.iter().any(|d| d == h.id()) {
                    depends_on.push(h.id().to_string());
                }
            }
        }
    }
    // What the changes reference that was created or renamed on another branch.
    for k in &plan.depends_on {
        let covered = graph.ancestors(depends_on.iter().map(String::as_str));
        if !covered.contains(k) {
            depends_on.push(k.clone());
        }
    }
    let (upgrade, downgrade) = if args.empty {
        (vec![], vec![])
    } else {
        (plan.diff.upgrade.clone(), plan.diff.downgrade.clone())
    };
    let refused = schema_core::plan::unsupported_on(&upgrade, &krate.dialects);
    if !refused.is_empty() {
        return Err(CliError::input(refused.join("\n")));
    }
    let created = now_utc();
    let breaking: Vec<&Operation> = upgrade.iter().filter(|o| o.is_breaking()).collect();
    // Whether part of it can ship before the code (a NOT NULL column can, added nullable).
    let split = schema_core::plan::split_breaking(&state.schema, &upgrade);
    let mixed = !args.empty
        && split
            .as_ref()
            .is_ok_and(|[(first, _), (second, _)]| !first.is_empty() && !second.is_empty());
    // One revision, or with --split the compatible part and then the breaking part.
    let mut parts: Vec<Part> = if args.split {
        if !mixed {
            return Err(CliError::input(format!(
                "--split: nothing to split, every change is {}",
                if breaking.is_empty() {
                    "compatible"
                } else {
                    "breaking"
                }
            )));
        }
        let [(up1, down1), (up2, down2)] =
            split.map_err(|e| CliError::input(format!("--split: {e}")))?;
        let second = next_id(&graph, [id.clone()]);
        vec![
            Part(
                id.clone(),
                format!("{} (compatible)", args.message),
                up1,
                down1,
                Some(false),
            ),
            Part(
                second,
                format!("{} (breaking)", args.message),
                up2,
                down2,
                Some(true),
            ),
        ]
    } else {
        if mixed {
            out.warn(format!(
                    "this revision mixes compatible and breaking changes ({}); `--split` writes the compatible ones first, to ship before the code",
                    breaking.iter().map(|o| o.summary()).collect::<Vec<_>>().join("; ")
                ));
        }
        // Written for what autogenerate wrote; an empty revision's data steps decide.
        let flag = (!args.empty).then_some(!breaking.is_empty());
        vec![Part(
            id.clone(),
            args.message.clone(),
            upgrade.clone(),
            downgrade,
            flag,
        )]
    };
    let mut state = state.schema.clone();
    let on_sqlite = krate.dialects.contains(&schema_core::Dialect::Sqlite);
    let mut parent = parents;
    let mut rebuild_warnings = Vec::new();
    // What `--format json` reports: each revision written (or, dry, its text).
    let mut written: Vec<serde_json::Value> = Vec::new();
    let on_postgres = krate.dialects.contains(&schema_core::Dialect::Postgres);
    for (i, Part(rev_id, message, up, down, flag)) in parts.drain(..).enumerate() {
        // PostgreSQL's safe form: constraints on existing tables validated apart.
        let up = if on_postgres {
            schema_core::diff::with_deferred_validation(&state, up)
        } else {
            up
        };
        let rev = RevisionFile {
            revision: rev_id.clone(),
            down_revisions: parent.clone(),
            // The first part starts the branch and carries the cross-branch needs.
            branch_labels: if i == 0 {
                branch_labels.clone()
            } else {
                vec![]
            },
            depends_on: if i == 0 { depends_on.clone() } else { vec![] },
            message: message.clone(),
            created: created.clone(),
            breaking: flag,
            upgrade: up,
            downgrade: down,
        };
        parent = vec![rev_id.clone()];
        let before_part = state.clone();
        // Which upgrade steps rebuild a table on SQLite, for the reviewer.
        let mut rebuilds = Vec::new();
        for (i, op) in rev.upgrade.iter().enumerate() {
            if let Some(why) = sqlite_rebuild_reason(&state, op).filter(|_| on_sqlite) {
                rebuilds.push((
                    i,
                    format!("{why}; it copies the table into a new one (every row kept)"),
                ));
            }
            let _ = apply(&mut state, op);
        }
        if on_postgres && !args.dry_run {
            let as_revision = schema_core::Revision {
                file: rev.clone(),
                path: PathBuf::new(),
                checksum: String::new(),
            };
            for f in schema_core::lint::lint_revision(&before_part, &as_revision) {
                out.warn(format!(
                    "lock risk on PostgreSQL [{}]: {}; safe form: {}",
                    f.rule, f.message, f.safe_form
                ));
            }
        }
        let text = file::write(&rev, &rebuilds);
        if args.dry_run {
            if out.json() {
                written.push(serde_json::json!({"revision": rev_id, "text": text}));
            } else {
                crate::output::stdout(&text);
            }
            continue;
        }
        let path = krate
            .migrations_dir
            .join(file::file_name(&created, &rev_id, &message));
        std::fs::create_dir_all(&krate.migrations_dir).map_err(|e| {
            CliError::input(format!(
                "cannot create {}: {e}",
                krate.migrations_dir.display()
            ))
        })?;
        std::fs::write(&path, &text)
            .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
        if out.json() {
            written.push(serde_json::json!({
                "revision": rev_id,
                "path": display_path(ws, &path),
                "breaking": rev.breaking,
                "upgrade": rev.upgrade.iter().map(|o| o.summary()).collect::<Vec<_>>(),
            }));
        } else {
            out.say(format!("Wrote {}", display_path(ws, &path)));
            for op in &rev.upgrade {
                out.say(format!("  {}", op.summary()));
            }
        }
        for op in &rev.upgrade {
            if let Some(why) = op.destructive() {
                out.warn(format!("destructive: {why}"));
            }
        }
        rebuild_warnings.extend(rebuilds.into_iter().map(|(_, why)| why));
    }
    if out.json() {
        let key = if args.dry_run {
            "would_write"
        } else {
            "written"
        };
        out.print_json(&serde_json::json!({ key: written }));
    }
    if args.dry_run {
        return Ok(ExitCode::Success);
    }
    for why in &rebuild_warnings {
        out.warn(format!("SQLite rebuild: {why}"));
    }
    for h in &plan.diff.hints {
        out.warn(format!("possible rename: {h}"));
    }
    Ok(ExitCode::Success)
}

/// One revision `revision` writes: id, message, upgrade, downgrade, `breaking`.
struct Part(String, String, Vec<Operation>, Vec<Operation>, Option<bool>);

pub fn display_path(ws: &Workspace, path: &Path) -> String {
    path.strip_prefix(&ws.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

pub fn merge(
    ws: &Workspace,
    message: &str,
    rev_id: Option<&str>,
    revisions: &[String],
    out: &Output,
) -> Result<ExitCode> {
    let graph = ws.graph()?;
    if revisions.len() < 2 {
        return Err(CliError::input("merge needs at least two revisions"));
    }
    let mut dir: Option<PathBuf> = None;
    for r in revisions {
        let rev = graph
            .get(r)
            .ok_or_else(|| CliError::input(format!("no revision `{r}`")))?;
        if dir.is_none() {
            dir = rev.path.parent().map(Path::to_path_buf);
        }
    }
    let dir = dir.ok_or_else(|| CliError::input("no revisions to merge"))?;
    let id = match rev_id {
        Some(id) if graph.get(id).is_some() => {
            return Err(CliError::input(format!("revision `{id}` exists already")))
        }
        Some(id) => id.to_string(),
        None => next_id(&graph, []),
    };
    let created = now_utc();
    let rev = RevisionFile {
        revision: id.clone(),
        down_revisions: revisions.to_vec(),
        message: message.to_string(),
        created: created.clone(),
        ..Default::default()
    };
    let path = dir.join(file::file_name(&created, &id, message));
    std::fs::write(&path, file::write(&rev, &[]))
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
    if out.json() {
        out.print_json(&serde_json::json!({
            "written": [{"revision": id, "path": display_path(ws, &path), "merges": revisions}]
        }));
    } else {
        out.say(format!(
            "Wrote {} merging {}",
            display_path(ws, &path),
            revisions.join(", ")
        ));
    }
    Ok(ExitCode::Success)
}

pub fn renumber(
    ws: &Workspace,
    target: &Path,
    rev_id: Option<&str>,
    out: &Output,
) -> Result<ExitCode> {
    let target = target
        .canonicalize()
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", target.display())))?;
    let mut all = schema_core::resolver::load_settled(&ws.sources())?;
    let pos = all
        .iter()
        .position(|r| r.path.canonicalize().ok().as_deref() == Some(target.as_path()))
        .ok_or_else(|| {
            CliError::input(format!(
                "{} is not a migration file of this workspace",
                target.display()
            ))
        })?;
    let moving = all.remove(pos);
    let rest = schema_core::MigrationGraph::new(all).map_err(|es| {
        CliError::input(
            es.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let dir = moving.path.parent().unwrap_or(Path::new("."));
    let heads: Vec<_> = rest
        .heads()
        .into_iter()
        .filter(|h| h.path.parent() == Some(dir))
        .collect();
    let [head] = heads.as_slice() else {
        return Err(CliError::input(format!(
            "cannot renumber: the other revisions of {} have {} heads; merge them instead",
            dir.display(),
            heads.len()
        )));
    };
    let id = match rev_id {
        Some(id) if rest.get(id).is_some() => {
            return Err(CliError::input(format!("revision `{id}` exists already")))
        }
        Some(id) => id.to_string(),
        None => next_id(&rest, []),
    };
    let text = std::fs::read_to_string(&moving.path)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", moving.path.display())))?;
    // Only the two header keys change; comments and layout stay as the author wrote them.
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| CliError::input(format!("{}: {e}", moving.path.display())))?;
    doc["revision"] = toml_edit::value(id.as_str());
    doc["down_revision"] = toml_edit::value(head.id());
    let new_text = doc.to_string();
    let old_name = moving
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let new_name = match old_name.split_once('_') {
        Some((date, rest)) => {
            let slug = rest
                .strip_prefix(moving.id())
                .unwrap_or(rest)
                .trim_start_matches('_');
            if slug.is_empty() || slug == "toml" {
                format!("{date}_{id}.toml")
            } else {
                format!("{date}_{id}_{slug}")
            }
        }
        None => format!("{id}_{old_name}"),
    };
    let new_path = dir.join(new_name);
    schema_core::resolver::parse_revision(&new_text, &new_path).map_err(CliError::input)?;
    std::fs::write(&new_path, new_text)
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", new_path.display())))?;
    if new_path != moving.path {
        std::fs::remove_file(&moving.path).map_err(|e| {
            CliError::input(format!("cannot remove {}: {e}", moving.path.display()))
        })?;
    }
    if out.json() {
        out.print_json(&serde_json::json!({
            "from": {"revision": moving.id(), "path": display_path(ws, &moving.path)},
            "to": {"revision": id, "path": display_path(ws, &new_path)},
            "after": head.id(),
        }));
    } else {
        out.say(format!(
            "Renumbered {} -> {} (revision {} -> {id}, now after {})",
            display_path(ws, &moving.path),
            display_path(ws, &new_path),
            moving.id(),
            head.id()
        ));
    }
    Ok(ExitCode::Success)
}

pub fn init(ws: &Workspace, package: Option<&str>, out: &Output) -> Result<ExitCode> {
    let (name, manifest) = match package {
        Some(p) => ws
            .packages
            .iter()
            .find(|(n, _)| n == p)
            .ok_or_else(|| CliError::input(format!("no package `{p}` in this workspace")))?,
        None => match ws.packages.as_slice() {
            [one] => one,
            _ => {
                return Err(CliError::input(
                    "several packages in this workspace; choose one with -p/--package",
                ))
            }
        },
    };
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", manifest.display())))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let already = text.contains("[package.metadata.schema]");
    if already {
        if !out.json() {
            out.say(format!("`{name}` is a model crate already"));
        }
    } else {
        let mut new_text = text.clone();
        if !new_text.ends_with('\n') {
            new_text.push('\n');
        }
        // The model crates it depends on in Cargo.toml are the ones its tables may
        // reference and whose revisions its first one follows.
        let deps: Vec<String> = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("dependencies").and_then(|d| d.as_table()).cloned())
            .map(|d| {
                d.iter()
                    .map(|(k, v)| {
                        v.get("package")
                            .and_then(|p| p.as_str())
                            .unwrap_or(k)
                            .to_string()
                    })
                    .filter(|n| ws.crates.iter().any(|c| c.name == *n))
                    .collect()
            })
            .unwrap_or_default();
        let list = |v: &[String]| {
            v.iter()
                .map(|d| toml::Value::String(d.clone()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        new_text.push_str(&format!(
            "\n[package.metadata.schema]\nmigrations = \"migrations\"\nbranch = {}\ndepends-on = [{}]\n",
            toml::Value::String(name.clone()),
            list(&deps)
        ));
        std::fs::write(manifest, new_text)
            .map_err(|e| CliError::input(format!("cannot write {}: {e}", manifest.display())))?;
        if !out.json() {
            out.say(format!(
                "Added [package.metadata.schema] to {}",
                display_path(ws, manifest)
            ));
        }
    }
    let mdir = dir.join("migrations");
    std::fs::create_dir_all(&mdir)
        .map_err(|e| CliError::input(format!("cannot create {}: {e}", mdir.display())))?;
    let keep = mdir.join(".gitkeep");
    if !keep.exists() {
        let _ = std::fs::write(&keep, "");
    }
    if out.json() {
        out.print_json(&serde_json::json!({
            "crate": name,
            "added": !already,
            "migrations": display_path(ws, &mdir),
        }));
    } else {
        out.say(format!("Migrations go in {}", display_path(ws, &mdir)));
    }
    Ok(ExitCode::Success)
}
