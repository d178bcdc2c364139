//! The build-script helper: finds the workspace's migration directories, validates them
//! at compile time with the same resolver the CLI uses, and embeds them into the binary.
//!
//! ```text
//! // build.rs
//! fn main() {
//!     schema_build::Embed::new().run_or_exit();
//! }
//! // main.rs: schema::include_migrations!(); ... MIGRATIONS.upgrade(&mut conn).await?
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use schema_core::checksum::checksum;
use schema_core::file::RevisionFile;
use schema_core::graph::{MigrationGraph, Revision};
use schema_core::manifest::RunCargo;
use schema_core::resolver::{
    migration_files, parse_revision, read_migration_files, settle, BranchSource,
};

/// The name of the generated file in `OUT_DIR`.
pub const GENERATED: &str = "schema_migrations.rs";

/// What to embed: the directories (default: every model crate's of the workspace,
/// dependencies included).
#[derive(Debug, Default, Clone)]
pub struct Embed {
    dirs: Vec<PathBuf>,
}

impl Embed {
    pub fn new() -> Embed {
        Embed::default()
    }

    /// Embeds this directory (relative to the crate) instead of discovering them.
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Embed {
        self.dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Validates and writes `OUT_DIR/schema_migrations.rs`; on error prints every problem
    /// with file:line and exits, which fails the build.
    pub fn run_or_exit(self) {
        if let Err(e) = self.run() {
            eprintln!("error: cargo-schema migrations are invalid:\n{e}");
            std::process::exit(1);
        }
    }

    /// Validates and writes the generated file; returns the problems as text.
    pub fn run(self) -> Result<(), String> {
        let manifest_dir = PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .ok_or("CARGO_MANIFEST_DIR is not set: call this from build.rs")?,
        );
        let out_dir = PathBuf::from(
            std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set: call this from build.rs")?,
        );
        let sources = if self.dirs.is_empty() {
            discover(&manifest_dir)?
        } else {
            self.dirs
                .iter()
                .map(|d| BranchSource {
                    branch: String::new(),
                    dir: manifest_dir.join(d),
                    dependency: false,
                    sees: vec![],
                })
                .collect()
        };
        let code = generate_cached(&sources, Some(&out_dir.join(CACHE)))?;
        // Re-run when a file is added or removed (the directory) or edited (each file).
        for d in sources.iter().map(|s| &s.dir) {
            println!("cargo:rerun-if-changed={}", d.display());
            for f in migration_files(d).map_err(|e| e.to_string())? {
                println!("cargo:rerun-if-changed={}", f.display());
            }
        }
        let path = out_dir.join(GENERATED);
        // Only write when the content changes, so dependents do not rebuild for nothing.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(code.as_str()) {
            std::fs::write(&path, code).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// The name of the cache file in `OUT_DIR`: the graph shape of every file already
/// validated, by checksum, so a re-run parses only the files that changed.
pub const CACHE: &str = "schema_migrations.cache";

/// What the graph needs of one revision, as the cache keeps it.
struct Shape {
    checksum: String,
    path: PathBuf,
    id: String,
    parents: Vec<String>,
    depends_on: Vec<String>,
    labels: Vec<String>,
}

impl Shape {
    fn line(&self) -> Option<String> {
        let fields = [
            self.id.clone(),
            self.parents.join(","),
            self.depends_on.join(","),
            self.labels.join(","),
        ];
        let clean = |s: &str| !s.contains(['\t', '\n', '\r']);
        let listed = [&self.parents, &self.depends_on, &self.labels]
            .iter()
            .all(|l| l.iter().all(|x| !x.contains(',') && !x.is_empty()));
        let path = self.path.to_str()?;
        (fields.iter().all(|f| clean(f)) && clean(path) && listed && !self.id.is_empty())
            .then(|| format!("{}\t{path}\t{}", self.checksum, fields.join("\t")))
    }

    fn parse(line: &str) -> Option<Shape> {
        let f: Vec<&str> = line.split('\t').collect();
        let list = |s: &str| {
            if s.is_empty() {
                vec![]
            } else {
                s.split(',').map(str::to_string).collect()
            }
        };
        match f.as_slice() {
            [checksum, path, id, parents, depends, labels] => Some(Shape {
                checksum: checksum.to_string(),
                path: PathBuf::from(path),
                id: id.to_string(),
                parents: list(parents),
                depends_on: list(depends),
                labels: list(labels),
            }),
            _ => None,
        }
    }
}

/// Validates the branches and returns the Rust source that embeds them (no cache).
pub fn generate(sources: &[BranchSource]) -> Result<String, String> {
    generate_cached(sources, None)
}

/// Like [`generate`]; files whose checksum is in the cache at `cache` are not parsed again,
/// and the cache is rewritten after a successful run. Every file is still read and
/// hashed, so an edit is never missed.
pub fn generate_cached(sources: &[BranchSource], cache: Option<&Path>) -> Result<String, String> {
    let cached: std::collections::HashMap<(PathBuf, String), Shape> = cache
        .and_then(|c| std::fs::read_to_string(c).ok())
        .map(|text| {
            text.lines()
                .filter_map(Shape::parse)
                .map(|s| ((s.path.clone(), s.checksum.clone()), s))
                .collect()
        })
        .unwrap_or_default();
    let mut per_source = Vec::new();
    let mut shapes = Vec::new();
    let mut errors = Vec::new();
    for source in sources {
        let mut revisions = Vec::new();
        let files =
            read_migration_files(std::slice::from_ref(&source.dir)).map_err(|e| e.to_string())?;
        for (path, text) in files {
            let sum = checksum(&text);
            let shape = match cached.get(&(path.clone(), sum.clone())) {
                Some(s) => Shape {
                    checksum: sum,
                    path: path.clone(),
                    id: s.id.clone(),
                    parents: s.parents.clone(),
                    depends_on: s.depends_on.clone(),
                    labels: s.labels.clone(),
                },
                None => match parse_revision(&text, &path) {
                    Ok(r) => Shape {
                        checksum: sum,
                        path: path.clone(),
                        id: r.file.revision,
                        parents: r.file.down_revisions,
                        depends_on: r.file.depends_on,
                        labels: r.file.branch_labels,
                    },
                    Err(e) => {
                        errors.push(e.to_string());
                        continue;
                    }
                },
            };
            // The graph only needs the shape; the operations were validated when parsed.
            revisions.push(Revision {
                file: RevisionFile {
                    revision: shape.id.clone(),
                    down_revisions: shape.parents.clone(),
                    branch_labels: shape.labels.clone(),
                    depends_on: shape.depends_on.clone(),
                    ..Default::default()
                },
                path: path.clone(),
                checksum: shape.checksum.clone(),
            });
            shapes.push(shape);
        }
        per_source.push(revisions);
    }
    let revisions = settle(sources, per_source);
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let graph = MigrationGraph::new(revisions).map_err(|es| {
        es.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let head_errors = graph.head_errors();
    if !head_errors.is_empty() {
        return Err(head_errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"));
    }
    let mut code = String::from("// Generated by schema-build; do not edit.\n");
    code.push_str("pub static MIGRATIONS: ::schema::EmbeddedMigrations = ::schema::EmbeddedMigrations::generated(\n    &[\n");
    for r in graph.ordered() {
        // The graph's view of the revision (ids of dependencies qualified, references
        // resolved, a branch's root labelled), which the text alone does not give.
        let _ = writeln!(
            code,
            "        ::schema::embed::EmbeddedRevision {{ id: {:?}, path: {:?}, checksum: {:?}, text: include_str!({:?}), down_revisions: &{:?}, depends_on: &{:?}, branch_labels: &{:?} }},",
            r.id(),
            r.path.display().to_string(),
            r.checksum,
            r.path.display().to_string(),
            r.file.down_revisions,
            r.file.depends_on,
            r.file.branch_labels,
        );
    }
    let digest = schema_core::checksum::history_digest(
        graph.ordered().map(|r| (r.id(), r.checksum.as_str())),
    );
    let _ = writeln!(code, "    ],\n    {digest:?},\n);");
    if let Some(c) = cache {
        let lines: Vec<String> = shapes.iter().filter_map(Shape::line).collect();
        let _ = std::fs::write(c, lines.join("\n") + "\n");
    }
    Ok(code)
}

/// The branches of the workspace that holds `manifest_dir`: every model crate's, members
/// and dependencies, found by the reader the CLI uses.
pub fn discover(manifest_dir: &Path) -> Result<Vec<BranchSource>, String> {
    let ws = schema_core::manifest::read_workspace(manifest_dir)?;
    let crates = schema_core::manifest::model_crates(&ws, RunCargo::Offline)?;
    let sources = schema_core::manifest::branch_sources(
        crates
            .iter()
            .filter_map(|(m, dep)| Some((m.name.as_str(), m.schema.as_ref()?, *dep))),
    );
    if sources.is_empty() {
        return Err(format!(
            "no crate with [package.metadata.schema] in the workspace at {}",
            ws.root.display()
        ));
    }
    Ok(sources)
}
