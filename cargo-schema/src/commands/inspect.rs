//! Read commands that need no database: `check`, `history`, `heads`, `branches`, `show`.

use serde_json::json;

use super::{crate_heads, plan, WorkspaceState};
use crate::commands::revision::display_path;
use crate::error::{CliError, ExitCode, Result};
use crate::output::Output;
use crate::workspace::Workspace;

/// `check`; with `drift` (`check --database`: how the database differs from the schema
/// its recorded revisions describe) that too, in the same report.
pub fn check(
    ws: &Workspace,
    graph: &schema_core::MigrationGraph,
    package: Option<&str>,
    drift: Option<&[String]>,
    out: &Output,
) -> Result<ExitCode> {
    let head_errors = graph.head_errors();
    let crates: Vec<_> = match package {
        Some(_) => vec![ws.select(package)?],
        None => ws.crates.iter().filter(|c| !c.dependency).collect(),
    };
    if crates.is_empty() {
        return Err(CliError::input(
            "no model crate in this workspace: add [package.metadata.schema] to a crate",
        ));
    }
    let state = WorkspaceState::of(graph)?;
    let mut report = Vec::new();
    let mut differs = false;
    for krate in crates {
        let p = plan(ws, graph, &state, krate)?;
        differs |= !p.diff.is_empty();
        report.push((krate, p));
    }
    // Steps that do nothing on a dialect the crate lists.
    let gaps: Vec<String> = report
        .iter()
        .flat_map(|(k, _)| {
            graph
                .ordered()
                .filter(|r| r.path.starts_with(&k.migrations_dir))
                .flat_map(|r| schema_core::plan::dialect_gaps(r, &k.dialects))
                .collect::<Vec<_>>()
        })
        .collect();
    if out.json() {
        out.print_json(&json!({
            "in_sync": !differs && head_errors.is_empty(),
            "warnings": gaps,
            "crates": report.iter().map(|(k, p)| json!({
                "crate": k.name,
                "in_sync": p.diff.is_empty(),
                "operations": p.diff.upgrade.iter().map(|o| o.summary()).collect::<Vec<_>>(),
                "hints": p.diff.hints,
            })).collect::<Vec<_>>(),
            "errors": head_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "database": drift.map(|d| json!({"in_sync": d.is_empty(), "drift": d})),
        }));
    } else {
        for (k, p) in &report {
            if p.diff.is_empty() {
                out.say(format!("{}: models match the migrations", k.name));
            } else {
                out.say(format!(
                    "{}: the models differ from the migrations; `cargo schema revision -p {} -m \"...\"` would write:",
                    k.name, k.name
                ));
                for op in &p.diff.upgrade {
                    out.say(format!("  {}", op.summary()));
                }
                for h in &p.diff.hints {
                    out.warn(format!("possible rename: {h}"));
                }
            }
        }
        for g in &gaps {
            out.warn(g.clone());
        }
    }
    if !head_errors.is_empty() {
        return Err(CliError::Input(
            head_errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    if let Some(d) = drift.filter(|_| !out.json()) {
        if d.is_empty() {
            out.say("database: matches the schema of its recorded revisions");
        } else {
            out.say("database: differs from the schema of its recorded revisions (drift):");
            for line in d {
                out.say(format!("  {line}"));
            }
        }
    }
    Ok(if differs || drift.is_some_and(|d| !d.is_empty()) {
        ExitCode::Difference
    } else {
        ExitCode::Success
    })
}

fn labels(graph: &schema_core::MigrationGraph, id: &str) -> Vec<String> {
    graph.labels_of(id).into_iter().collect()
}

/// `history`; with `applied` (what a database records, `history --database`) each
/// revision is marked applied or pending.
pub fn history(
    ws: &Workspace,
    graph: &schema_core::MigrationGraph,
    applied: Option<&std::collections::BTreeSet<String>>,
    out: &Output,
) -> Result<ExitCode> {
    let heads: Vec<String> = graph.heads().iter().map(|h| h.id().to_string()).collect();
    if out.json() {
        let revs: Vec<_> = graph
            .ordered()
            .rev()
            .map(|r| {
                let mut v = revision_json(ws, graph, r);
                v.insert("head".into(), json!(heads.iter().any(|h| h == r.id())));
                v.insert("tags".into(), json!(graph.tags_of(r.id())));
                if let Some(a) = applied {
                    v.insert("applied".into(), json!(a.contains(r.id())));
                }
                v
            })
            .collect();
        out.print_json(&json!(revs));
        return Ok(ExitCode::Success);
    }
    if graph.is_empty() {
        out.say("No revisions yet.");
    }
    for r in graph.ordered().rev() {
        let parents = if r.file.down_revisions.is_empty() {
            "<base>".to_string()
        } else {
            r.file.down_revisions.join(", ")
        };
        let mut line = format!("{parents} -> {}", r.id());
        if heads.iter().any(|h| h == r.id()) {
            line.push_str(" (head)");
        }
        for t in graph.tags_of(r.id()) {
            line.push_str(&format!(" (tag {t})"));
        }
        if let Some(a) = applied {
            line.push_str(if a.contains(r.id()) {
                " (applied)"
            } else {
                " (pending)"
            });
        }
        let ls = labels(graph, r.id());
        if !ls.is_empty() {
            line.push_str(&format!(" [{}]", ls.join(", ")));
        }
        line.push_str(&format!(", {}", r.file.message));
        out.say(line);
        if out.verbose {
            out.say(format!("    path:     {}", display_path(ws, &r.path)));
            out.say(format!("    created:  {}", r.file.created));
            if !r.file.depends_on.is_empty() {
                out.say(format!("    depends:  {}", r.file.depends_on.join(", ")));
            }
            out.say(format!("    checksum: {}", r.checksum));
            for op in &r.file.upgrade {
                out.say(format!("    {}", op.summary()));
            }
        }
    }
    Ok(ExitCode::Success)
}

/// What `history` and `show` both say about a revision in JSON.
fn revision_json(
    ws: &Workspace,
    graph: &schema_core::MigrationGraph,
    r: &schema_core::Revision,
) -> serde_json::Map<String, serde_json::Value> {
    let v = json!({
        "revision": r.id(),
        "down_revision": r.file.down_revisions,
        "branch_labels": labels(graph, r.id()),
        "depends_on": r.file.depends_on,
        "message": r.file.message,
        "created": r.file.created,
        "path": display_path(ws, &r.path),
        "checksum": r.checksum,
        "upgrade": r.file.upgrade.iter().map(|o| o.summary()).collect::<Vec<_>>(),
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

pub fn heads(ws: &Workspace, out: &Output) -> Result<ExitCode> {
    let graph = ws.graph()?;
    let heads = graph.heads();
    if out.json() {
        out.print_json(&json!(heads
            .iter()
            .map(|h| json!({"revision": h.id(), "branch_labels": labels(&graph, h.id()), "path": display_path(ws, &h.path)}))
            .collect::<Vec<_>>()));
    } else {
        for h in heads {
            let ls = labels(&graph, h.id());
            out.say(format!(
                "{} ({}) {}",
                h.id(),
                if ls.is_empty() {
                    "-".into()
                } else {
                    ls.join(", ")
                },
                display_path(ws, &h.path)
            ));
        }
    }
    Ok(ExitCode::Success)
}

pub fn branches(ws: &Workspace, out: &Output) -> Result<ExitCode> {
    let graph = ws.graph()?;
    let mut rows = Vec::new();
    for label in graph.branch_labels() {
        let root = graph
            .ordered()
            .find(|r| r.file.branch_labels.contains(&label))
            .map(|r| r.id().to_string());
        let heads: Vec<String> = graph
            .heads_of(&label)
            .iter()
            .map(|h| h.id().to_string())
            .collect();
        let krate = graph
            .ordered()
            .find(|r| r.file.branch_labels.contains(&label))
            .and_then(|r| ws.crate_of(&r.path))
            .map(|c| c.name.clone());
        rows.push((label, root, heads, krate));
    }
    if out.json() {
        out.print_json(&json!(rows
            .iter()
            .map(|(l, r, h, k)| json!({"branch": l, "root": r, "heads": h, "crate": k}))
            .collect::<Vec<_>>()));
    } else {
        for (l, r, h, k) in rows {
            out.say(format!(
                "{l}: root {}, head{} {}{}",
                r.unwrap_or_default(),
                if h.len() == 1 { "" } else { "s" },
                h.join(", "),
                k.map(|k| format!(" (crate {k})")).unwrap_or_default()
            ));
        }
    }
    // Crates whose history has several heads are worth a warning here too.
    for k in &ws.crates {
        let hs = crate_heads(&graph, k);
        if hs.len() > 1 {
            out.warn(format!(
                "`{}` has {} heads; run `cargo schema merge`",
                k.name,
                hs.len()
            ));
        }
    }
    Ok(ExitCode::Success)
}

/// The SQL of a revision's upgrade and downgrade on a dialect, rendered from the schema
/// its ancestors replay to.
fn revision_sql(
    graph: &schema_core::MigrationGraph,
    r: &schema_core::Revision,
    dialect: schema_core::Dialect,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut before = graph.ancestors([r.id()]);
    before.remove(r.id());
    let range = schema_core::targets::Range {
        from: before,
        upgrade: vec![r.id().to_string()],
        downgrade: vec![],
    };
    let up = schema_core::plan::render_range(graph, dialect, &range).map_err(CliError::input)?;
    let mut after = graph.ancestors([r.id()]);
    after.insert(r.id().to_string());
    let range = schema_core::targets::Range {
        from: after,
        upgrade: vec![],
        downgrade: vec![r.id().to_string()],
    };
    let down = schema_core::plan::render_range(graph, dialect, &range).map_err(CliError::input)?;
    let statements = |text: String| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("-- upgrade ") && !l.starts_with("-- downgrade "))
            .map(str::to_string)
            .collect()
    };
    Ok((statements(up), statements(down)))
}

pub fn show(ws: &Workspace, id: &str, dialect: Option<&str>, out: &Output) -> Result<ExitCode> {
    let graph = ws.graph()?;
    let dialect = dialect
        .map(|d| {
            schema_core::Dialect::parse(d).ok_or_else(|| {
                CliError::input(format!(
                    "unknown dialect `{d}`; the dialects are postgres, sqlite and mysql"
                ))
            })
        })
        .transpose()?;
    let ids = graph.resolve(id).map_err(CliError::input)?;
    let [one] = ids.as_slice() else {
        return Err(CliError::input(format!(
            "`{id}` names {} revisions; name one",
            ids.len()
        )));
    };
    let r = graph
        .get(one)
        .ok_or_else(|| CliError::input(format!("no revision `{id}`")))?;
    if out.json() {
        let mut v = revision_json(ws, &graph, r);
        v.insert(
            "downgrade".into(),
            json!(r
                .file
                .downgrade
                .iter()
                .map(|o| o.summary())
                .collect::<Vec<_>>()),
        );
        if let Some(d) = dialect {
            let (up, down) = revision_sql(&graph, r, d)?;
            v.insert(
                "sql".into(),
                json!({"dialect": d.name(), "upgrade": up, "downgrade": down}),
            );
        }
        out.print_json(&serde_json::Value::Object(v));
        return Ok(ExitCode::Success);
    }
    out.say(format!("Revision: {}", r.id()));
    out.say(format!(
        "Parent:   {}",
        if r.file.down_revisions.is_empty() {
            "<base>".into()
        } else {
            r.file.down_revisions.join(", ")
        }
    ));
    let ls = labels(&graph, r.id());
    if !ls.is_empty() {
        out.say(format!("Branch:   {}", ls.join(", ")));
    }
    if !r.file.depends_on.is_empty() {
        out.say(format!("Depends:  {}", r.file.depends_on.join(", ")));
    }
    out.say(format!("Path:     {}", display_path(ws, &r.path)));
    out.say(format!("Created:  {}", r.file.created));
    out.say(format!("Message:  {}", r.file.message));
    out.say("Upgrade:");
    for op in &r.file.upgrade {
        out.say(format!("  {}", op.summary()));
    }
    out.say("Downgrade:");
    for op in &r.file.downgrade {
        out.say(format!("  {}", op.summary()));
    }
    if let Some(d) = dialect {
        let (up, down) = revision_sql(&graph, r, d)?;
        out.say(format!("Upgrade SQL ({d}):"));
        for s in up {
            out.say(format!("  {s}"));
        }
        out.say(format!("Downgrade SQL ({d}):"));
        for s in down {
            out.say(format!("  {s}"));
        }
    }
    Ok(ExitCode::Success)
}

/// `tag NAME`: records the current heads under a release name, if the history is clean.
pub fn tag(ws: &Workspace, name: &str, out: &Output) -> Result<ExitCode> {
    let graph = ws.graph()?;
    let head_errors = graph.head_errors();
    if !head_errors.is_empty() {
        return Err(CliError::Input(format!(
            "cannot tag {name}: {}",
            head_errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }
    let state = WorkspaceState::of(&graph)?;
    for krate in ws.crates.iter().filter(|c| !c.dependency) {
        let p = plan(ws, &graph, &state, krate)?;
        if !p.diff.is_empty() {
            return Err(CliError::Input(format!(
                "cannot tag {name}: the models of `{}` differ from the migrations ({}); run `cargo schema revision` first",
                krate.name,
                p.diff.upgrade.iter().map(|o| o.summary()).collect::<Vec<_>>().join("; ")
            )));
        }
    }
    if graph.is_empty() {
        return Err(CliError::input(format!(
            "cannot tag {name}: there are no revisions"
        )));
    }
    let mut tags = graph.tags().clone();
    if tags.contains_key(name) || graph.get(name).is_some() {
        return Err(CliError::input(format!(
            "`{name}` names a tag or revision already"
        )));
    }
    let heads: Vec<String> = graph.heads().iter().map(|h| h.id().to_string()).collect();
    tags.insert(name.to_string(), heads.clone());
    let path = ws.tags_file();
    std::fs::write(&path, schema_core::resolver::write_tags(&tags))
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
    if out.json() {
        out.print_json(&json!({"tag": name, "heads": heads}));
    } else {
        out.say(format!("Tagged {name} at {}", heads.join(", ")));
    }
    Ok(ExitCode::Success)
}

/// `lint`: the lock risks of revisions on PostgreSQL (all, or the ids given), each with
/// its safe form; exit 1 when any is an error.
pub fn lint(ws: &Workspace, ids: &[String], out: &Output) -> Result<ExitCode> {
    let graph = ws.graph()?;
    for id in ids {
        if graph.get(id).is_none() {
            return Err(CliError::input(format!("no revision `{id}`")));
        }
    }
    let mut state = schema_core::Schema::new();
    let mut findings = Vec::new();
    for rev in graph.ordered() {
        if ids.is_empty() || ids.iter().any(|i| i == rev.id()) {
            findings.extend(schema_core::lint::lint_revision(&state, rev));
        }
        schema_core::replay::replay_revisions(&mut state, [rev])
            .map_err(|e| CliError::input(e.to_string()))?;
    }
    let errors = findings.iter().filter(|f| f.error).count();
    if out.json() {
        out.print_json(&json!(findings
            .iter()
            .map(|f| json!({
                "revision": f.revision,
                "step": f.step,
                "rule": f.rule,
                "error": f.error,
                "message": f.message,
                "safe_form": f.safe_form,
            }))
            .collect::<Vec<_>>()));
    } else {
        for f in &findings {
            out.say(format!(
                "{} step {} [{}] {}: {}\n    safe form: {}",
                f.revision,
                f.step,
                f.rule,
                if f.error { "error" } else { "warning" },
                f.message,
                f.safe_form
            ));
        }
        out.say(format!("{} finding(s), {errors} error(s)", findings.len()));
    }
    Ok(if errors > 0 {
        ExitCode::Difference
    } else {
        ExitCode::Success
    })
}
