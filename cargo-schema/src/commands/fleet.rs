//! `--targets FILE`: one command over many databases, stage by stage, in parallel with a
//! bound on connections per server; one line per target as it finishes, then a summary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::commands::db::{self, FleetAction, TargetOutcome};
use crate::database;
use crate::error::{CliError, ExitCode, Result};
use crate::fleet::{parse_fleet, server_key, stage_urls, Stage, UrlSource};
use crate::output::Output;
use crate::workspace::Workspace;

/// How a fleet run goes: the flags beside `--targets`.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The fleet file, or `-` for URLs on standard input.
    pub file: PathBuf,
    pub parallel: Option<usize>,
    pub per_server: usize,
    pub connect_timeout: Option<Duration>,
    pub continue_on_error: bool,
    /// Whether to end with a summary line (not for one database).
    pub summary: bool,
}

/// One target's line.
struct TargetLine {
    stage: String,
    target: String,
    /// None: not started (its stage, or one before it, failed too often).
    result: Option<std::result::Result<TargetOutcome, String>>,
    elapsed: Duration,
}

/// Connections open per server, at most `limit` at once.
struct Servers {
    open: Mutex<HashMap<String, usize>>,
    freed: Condvar,
    limit: usize,
}

impl Servers {
    fn acquire(&self, key: &str) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while open.get(key).copied().unwrap_or(0) >= self.limit {
            open = self.freed.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        *open.entry(key.to_string()).or_default() += 1;
    }

    fn release(&self, key: &str) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(key) {
            *n = n.saturating_sub(1);
        }
        self.freed.notify_all();
    }
}

/// What a target's result is called in its line and in the summary.
fn verdict(action: &FleetAction, line: &TargetLine) -> &'static str {
    let o = match &line.result {
        None => return "skipped",
        Some(Err(_)) => return "failed",
        Some(Ok(o)) => o,
    };
    match action {
        FleetAction::Upgrade { .. } if o.changed.is_empty() => "at head",
        FleetAction::Upgrade { .. } => "upgraded",
        FleetAction::Downgrade { .. } if o.changed.is_empty() => "unchanged",
        FleetAction::Downgrade { .. } => "reverted",
        FleetAction::Stamp { .. } => "stamped",
        FleetAction::Status { .. } => {
            if o.drift.as_ref().is_some_and(|d| !d.is_empty()) {
                "drifted"
            } else if o.pending == 0 {
                "at head"
            } else {
                "behind"
            }
        }
        FleetAction::Check if o.drift.as_ref().is_some_and(|d| !d.is_empty()) => "differs",
        FleetAction::Check => "matches",
    }
}

fn print_line(out: &Output, action: &FleetAction, line: &TargetLine) {
    let verdict = verdict(action, line);
    let ms = line.elapsed.as_millis() as u64;
    if out.json() {
        let mut v = json!({
            "stage": line.stage,
            "target": line.target,
            "result": verdict,
            "duration_ms": ms,
        });
        match &line.result {
            None => {}
            Some(Ok(o)) => {
                v["revisions"] = json!(o.changed);
                if matches!(action, FleetAction::Status { .. }) {
                    v["current"] = json!(o.current);
                    v["pending"] = json!(o.pending);
                }
                if let Some(d) = &o.drift {
                    v["drift"] = json!(d);
                }
            }
            Some(Err(e)) => v["error"] = json!(e),
        }
        out.json_line(&v);
        return;
    }
    let detail = match &line.result {
        None => String::new(),
        Some(Err(e)) => e.lines().next().unwrap_or_default().to_string(),
        Some(Ok(o)) => {
            let mut parts = Vec::new();
            if !o.changed.is_empty() {
                parts.push(o.changed.join(", "));
            }
            if matches!(action, FleetAction::Status { .. }) {
                let at = if o.current.is_empty() {
                    "<base>".to_string()
                } else {
                    o.current.join(", ")
                };
                parts.push(format!("{at}, {} pending", o.pending));
            }
            if let Some(d) = o.drift.as_ref().filter(|d| !d.is_empty()) {
                parts.push(format!("{} difference(s): {}", d.len(), d.join("; ")));
            }
            parts.join("; ")
        }
    };
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!("  {detail}")
    };
    out.say(format!("{verdict:<9} {}{detail} ({ms} ms)", line.target));
}

/// Runs `action` on every target of the fleet file, stage by stage.
pub fn run(
    ws: &Workspace,
    out: &Output,
    opts: &FleetOptions,
    action: FleetAction,
) -> Result<ExitCode> {
    let (stages, base) = if opts.file.as_os_str() == "-" {
        let stdin = Stage {
            name: "stdin".into(),
            source: UrlSource::Stdin,
            parallel: None,
            max_failures: 0,
        };
        (vec![stdin], PathBuf::from("."))
    } else {
        let text = std::fs::read_to_string(&opts.file)
            .map_err(|e| CliError::input(format!("cannot read {}: {e}", opts.file.display())))?;
        let base = opts
            .file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        (parse_fleet(&text, &opts.file)?, base)
    };
    // Every stage's targets are known before anything runs: a bad list changes nothing.
    let mut planned = Vec::new();
    for stage in &stages {
        let urls = stage_urls(stage, &base, database::first_column)?;
        for u in &urls {
            database::parse_url(u)
                .map_err(|e| CliError::input(format!("stage `{}`: {e}", stage.name)))?;
        }
        planned.push(urls);
    }
    execute(ws, out, opts, &stages, &planned, action)
}

/// One database, reported as a fleet's target is (`status` without `--targets`).
pub fn run_one(ws: &Workspace, out: &Output, url: &str, action: FleetAction) -> Result<ExitCode> {
    let stage = Stage {
        name: "database".into(),
        source: UrlSource::Urls(vec![url.to_string()]),
        parallel: Some(1),
        max_failures: 0,
    };
    let opts = FleetOptions {
        file: PathBuf::new(),
        parallel: Some(1),
        per_server: 1,
        connect_timeout: None,
        continue_on_error: false,
        summary: false,
    };
    execute(ws, out, &opts, &[stage], &[vec![url.to_string()]], action)
}

fn execute(
    ws: &Workspace,
    out: &Output,
    opts: &FleetOptions,
    stages: &[Stage],
    planned: &[Vec<String>],
    action: FleetAction,
) -> Result<ExitCode> {
    let graph = ws.graph()?;
    let heads = db::head_checksums(ws)?;
    let servers = Servers {
        open: Mutex::new(HashMap::new()),
        freed: Condvar::new(),
        limit: opts.per_server.max(1),
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let printing = Mutex::new(());
    let mut lines: Vec<TargetLine> = Vec::new();
    let mut stopped: Option<String> = None;
    for (stage, urls) in stages.iter().zip(planned) {
        if let Some(why) = &stopped {
            for u in urls {
                let line = TargetLine {
                    stage: stage.name.clone(),
                    target: database::redact(u),
                    result: None,
                    elapsed: Duration::ZERO,
                };
                skipped_line(out, &line, why);
                lines.push(line);
            }
            continue;
        }
        let parallel = opts.parallel.or(stage.parallel).unwrap_or(cores).max(1);
        let next = AtomicUsize::new(0);
        let failures = AtomicUsize::new(0);
        let halt = AtomicBool::new(false);
        let results: Mutex<Vec<(usize, TargetLine)>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..parallel.min(urls.len()) {
                s.spawn(|| loop {
                    if halt.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(url) = urls.get(i) else { break };
                    let key = server_key(url);
                    servers.acquire(&key);
                    let started = Instant::now();
                    let result = db::on_target(
                        &graph,
                        heads.as_deref(),
                        url,
                        &action,
                        opts.connect_timeout,
                        &ws.history_schema,
                    )
                    .map_err(|e| e.to_string());
                    servers.release(&key);
                    if result.is_err() {
                        let n = failures.fetch_add(1, Ordering::SeqCst) + 1;
                        if n > stage.max_failures && !opts.continue_on_error {
                            halt.store(true, Ordering::SeqCst);
                        }
                    }
                    let line = TargetLine {
                        stage: stage.name.clone(),
                        target: database::redact(url),
                        result: Some(result),
                        elapsed: started.elapsed(),
                    };
                    {
                        let _whole = printing.lock().unwrap_or_else(|e| e.into_inner());
                        print_line(out, &action, &line);
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, line));
                });
            }
        });
        let mut done = results.into_inner().unwrap_or_else(|e| e.into_inner());
        done.sort_by_key(|(i, _)| *i);
        let started: std::collections::BTreeSet<usize> = done.iter().map(|(i, _)| *i).collect();
        let failed = failures.load(Ordering::SeqCst);
        lines.extend(done.into_iter().map(|(_, l)| l));
        if failed > stage.max_failures {
            let why = format!(
                "stage `{}` had {failed} failure(s), more than its max-failures ({})",
                stage.name, stage.max_failures
            );
            for (_, u) in urls
                .iter()
                .enumerate()
                .filter(|(i, _)| !started.contains(i))
            {
                let line = TargetLine {
                    stage: stage.name.clone(),
                    target: database::redact(u),
                    result: None,
                    elapsed: Duration::ZERO,
                };
                skipped_line(out, &line, &why);
                lines.push(line);
            }
            stopped = Some(why);
        }
    }
    summarize(out, &action, &lines, stopped.as_deref(), opts.summary)
}

fn skipped_line(out: &Output, line: &TargetLine, why: &str) {
    if out.json() {
        out.json_line(&json!({
            "stage": line.stage,
            "target": line.target,
            "result": "skipped",
            "error": format!("not started: {why}"),
        }));
    } else {
        out.say(format!(
            "{:<9} {}  not started: {why}",
            "skipped", line.target
        ));
    }
}

fn summarize(
    out: &Output,
    action: &FleetAction,
    lines: &[TargetLine],
    stopped: Option<&str>,
    summary_line: bool,
) -> Result<ExitCode> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for l in lines {
        *counts.entry(verdict(action, l)).or_default() += 1;
    }
    let failed = counts.get("failed").copied().unwrap_or(0);
    if !summary_line {
    } else if out.json() {
        let mut summary = json!({"targets": lines.len()});
        for (k, v) in &counts {
            summary[k.replace(' ', "_")] = json!(v);
        }
        out.json_line(&json!({ "summary": summary }));
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        out.say(format!("{} target(s): {}", lines.len(), parts.join(", ")));
        if let Some(why) = stopped.filter(|_| counts.contains_key("skipped")) {
            out.warn(format!("the rollout stopped: {why}"));
        }
        for l in lines {
            if let Some(Err(e)) = &l.result {
                out.error(format!("{}: {e}", l.target));
            }
        }
    }
    Ok(if failed > 0 || stopped.is_some() {
        ExitCode::Database
    } else if counts.contains_key("differs") || counts.contains_key("drifted") {
        ExitCode::Difference
    } else {
        ExitCode::Success
    })
}
