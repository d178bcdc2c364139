//! Workspace discovery: which crates hold models, where their migrations live, and the
//! workspace-wide settings, all from `cargo metadata` (no compilation).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schema_core::graph::MigrationGraph;
use schema_core::manifest::SchemaConfig;
use schema_core::resolver::BranchSource;
use schema_core::NamingConvention;
use schema_syntax::source::{crate_models, CrateModels, SourceError};
use schema_syntax::ModelEnum;

use crate::error::{CliError, Result};

/// A crate with `[package.metadata.schema]`: a workspace member, or a dependency.
#[derive(Debug, Clone)]
pub struct ModelCrate {
    pub name: String,
    pub root_file: PathBuf,
    pub migrations_dir: PathBuf,
    pub branch: String,
    pub depends_on: Vec<String>,
    /// Its `[package.metadata.schema]`.
    pub config: SchemaConfig,
    /// A crate among the dependencies: its history is read-only here.
    pub dependency: bool,
    /// The crate's naming convention (its own, else its workspace's).
    pub naming: NamingConvention,
    /// Whether `///` doc comments are comments (`doc-comments`, its own, else its
    /// workspace's).
    pub doc_comments: bool,
    /// The dialects its history must run on (its own, else its workspace's, else all).
    pub dialects: Vec<schema_core::Dialect>,
    pub manifest_path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub crates: Vec<ModelCrate>,
    /// Every workspace package (for `init`).
    pub packages: Vec<(String, PathBuf)>,
    /// `ddl-lock-timeout`, when the workspace sets it.
    pub ddl_lock_timeout: Option<std::time::Duration>,
    /// `history-schema`: where PostgreSQL keeps the history table (none: the
    /// connection's own schema).
    pub history_schema: Option<String>,
}

impl ModelCrate {
    /// How its models are read.
    pub fn model_settings(&self) -> schema_core::manifest::ModelSettings {
        schema_core::manifest::ModelSettings {
            naming: self.naming.clone(),
            doc_comments: self.doc_comments,
        }
    }
}

impl Workspace {
    /// Reads the manifests directly; falls back to `cargo metadata` for layouts the
    /// direct reader does not handle. Spawning cargo costs more than everything else a
    /// `check` does, which is why it is not the first choice.
    pub fn discover(manifest_path: Option<&Path>) -> Result<Workspace> {
        let start = manifest_path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if let Ok(m) = schema_core::manifest::read_workspace(&start) {
            return Workspace::from_manifest(m);
        }
        Workspace::from_cargo_metadata(manifest_path)
    }

    fn from_manifest(m: schema_core::manifest::WorkspaceManifest) -> Result<Workspace> {
        let model_crates =
            schema_core::manifest::model_crates(&m, schema_core::manifest::RunCargo::Online)
                .map_err(CliError::Input)?;
        let mut crates = Vec::new();
        let mut packages = Vec::new();
        for c in &m.members {
            packages.push((c.name.clone(), c.manifest_path.clone()));
        }
        for (c, dependency) in &model_crates {
            let (c, dependency) = (c, *dependency);
            let Some(cfg) = &c.schema else { continue };
            let root_file = c.root_file.clone().ok_or_else(|| {
                CliError::input(format!("crate `{}` has no library or binary", c.name))
            })?;
            // A dependency's settings are its own (or its own workspace's), as its derive
            // reads them.
            let own_ws;
            let (ws, me) = if dependency {
                own_ws = schema_core::manifest::read_workspace(&c.manifest_path)
                    .map_err(CliError::Input)?;
                let me = own_ws
                    .members
                    .iter()
                    .find(|o| o.manifest_path == c.manifest_path);
                (&own_ws, me.or(Some(c)))
            } else {
                (&m, Some(c))
            };
            let at = |e: String| CliError::input(format!("{}: {e}", c.manifest_path.display()));
            let model = schema_core::manifest::crate_model_settings(ws, me).map_err(at)?;
            let dialects = schema_core::manifest::crate_dialects(ws, me).map_err(at)?;
            crates.push(ModelCrate {
                name: c.name.clone(),
                root_file,
                migrations_dir: cfg.migrations.clone(),
                branch: cfg.branch.clone(),
                depends_on: cfg.depends_on.clone(),
                config: cfg.clone(),
                dependency,
                naming: model.naming,
                doc_comments: model.doc_comments,
                dialects,
                manifest_path: c.manifest_path.clone(),
            });
        }
        crates.sort_by(|a, b| a.name.cmp(&b.name));
        let ddl_lock_timeout =
            schema_core::manifest::workspace_ddl_lock_timeout(&m).map_err(|e| {
                CliError::input(format!("{}: {e}", m.root.join("Cargo.toml").display()))
            })?;
        let history_schema = schema_core::manifest::workspace_history_schema(&m).map_err(|e| {
            CliError::input(format!("{}: {e}", m.root.join("Cargo.toml").display()))
        })?;
        Ok(Workspace {
            root: m.root,
            crates,
            packages,
            ddl_lock_timeout,
            history_schema,
        })
    }

    /// For member patterns the direct reader does not expand: cargo lists the members,
    /// and their settings are read by the same reader as always.
    fn from_cargo_metadata(manifest_path: Option<&Path>) -> Result<Workspace> {
        let mut cmd = cargo_metadata::MetadataCommand::new();
        cmd.no_deps();
        if let Some(p) = manifest_path {
            cmd.manifest_path(p);
        }
        let meta = cmd.exec().map_err(|e| {
            CliError::input(format!(
                "cannot read the workspace with `cargo metadata`: {}",
                e.to_string().trim()
            ))
        })?;
        let members: BTreeSet<_> = meta.workspace_members.iter().collect();
        let manifests: Vec<PathBuf> = meta
            .packages
            .iter()
            .filter(|p| members.contains(&p.id))
            .map(|p| p.manifest_path.clone().into_std_path_buf())
            .collect();
        let m = schema_core::manifest::workspace_of_members(
            meta.workspace_root.as_std_path(),
            &manifests,
        )
        .map_err(CliError::Input)?;
        Workspace::from_manifest(m)
    }

    /// Every model crate's history as a branch of the workspace's.
    pub fn sources(&self) -> Vec<BranchSource> {
        schema_core::manifest::branch_sources(
            self.crates
                .iter()
                .map(|c| (c.name.as_str(), &c.config, c.dependency)),
        )
    }

    /// The crate `-p` names; else the member crate whose directory holds the current
    /// directory (as cargo picks a package); else the only member model crate.
    pub fn select(&self, package: Option<&str>) -> Result<&ModelCrate> {
        if let Some(name) = package {
            return self.crates.iter().find(|c| c.name == name).ok_or_else(|| {
                CliError::input(format!(
                    "`{name}` is not a model crate (crates with [package.metadata.schema]: {})",
                    self.crate_names()
                ))
            });
        }
        let members: Vec<&ModelCrate> = self.crates.iter().filter(|c| !c.dependency).collect();
        if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize()) {
            let here = members.iter().copied().find(|c| {
                c.manifest_path
                    .parent()
                    .and_then(|d| d.canonicalize().ok())
                    .is_some_and(|d| cwd.starts_with(d))
            });
            if let Some(c) = here {
                return Ok(c);
            }
        }
        match members.as_slice() {
            [one] => Ok(one),
            [] => Err(CliError::input(
                "no model crate in this workspace: add [package.metadata.schema] to a crate (`cargo schema init -p CRATE`)",
            )),
            _ => Err(CliError::input(format!(
                "several model crates ({}); choose one with -p/--package, or run the command inside the crate's directory",
                self.crate_names()
            ))),
        }
    }

    fn crate_names(&self) -> String {
        self.crates
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The crates `depends-on` names, transitively.
    pub fn dependencies_of(&self, krate: &ModelCrate) -> Vec<&ModelCrate> {
        let mut out: Vec<&ModelCrate> = Vec::new();
        let mut stack: Vec<&str> = krate.depends_on.iter().map(String::as_str).collect();
        while let Some(n) = stack.pop() {
            if let Some(c) = self.crates.iter().find(|c| c.name == n) {
                if !out.iter().any(|o| o.name == c.name) {
                    out.push(c);
                    stack.extend(c.depends_on.iter().map(String::as_str));
                }
            }
        }
        out
    }

    /// The models and enum types of a crate, read from its source, as the derive sees
    /// them. `known` holds the tables other crates define (references to them are fine).
    pub fn models(&self, krate: &ModelCrate, known: &BTreeSet<String>) -> Result<CrateModels> {
        let mut other = known.clone();
        let mut enums: Vec<ModelEnum> = Vec::new();
        // The crates furthest down first, so that each one's references are known.
        for dep in self.dependencies_of(krate).into_iter().rev() {
            let found = crate_models(&dep.root_file, &dep.model_settings(), &other, &enums)
                .map_err(|e| source_errors(&e))?;
            other.extend(found.tables.into_iter().map(|f| f.model.table.name));
            enums.extend(found.enums.into_iter().map(|e| e.model));
        }
        crate_models(&krate.root_file, &krate.model_settings(), &other, &enums)
            .map_err(|e| source_errors(&e))
    }

    pub fn graph(&self) -> Result<MigrationGraph> {
        let mut g = schema_core::resolver::load_branches(&self.sources())?;
        self.check_branch_labels(&g)?;
        let tags = schema_core::resolver::load_tags(&self.tags_file())?;
        g.set_tags(tags)
            .map_err(|e| CliError::input(format!("{}: {e}", self.tags_file().display())))?;
        Ok(g)
    }

    /// A crate's `branch` must be the label its history starts with: changing it after
    /// the first revision would orphan every database's record of the branch.
    fn check_branch_labels(&self, graph: &MigrationGraph) -> Result<()> {
        for c in &self.crates {
            let roots = graph.ordered().filter(|r| {
                r.file.down_revisions.is_empty()
                    && self.crate_of(&r.path).is_some_and(|o| o.name == c.name)
            });
            for r in roots {
                let labels = &r.file.branch_labels;
                if !labels.is_empty() && !labels.contains(&c.branch) {
                    return Err(CliError::input(format!(
                        "{}: crate `{}` sets branch = \"{}\", but its history starts branch `{}` at revision {} ({}); a branch keeps its label once a revision exists: set `branch = \"{}\"` back in [package.metadata.schema]",
                        c.manifest_path.display(),
                        c.name,
                        c.branch,
                        labels.join(", "),
                        r.file.revision,
                        r.path.display(),
                        labels[0]
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn tags_file(&self) -> PathBuf {
        self.root.join(schema_core::resolver::TAGS_FILE)
    }

    /// The crate a revision belongs to, by its directory.
    pub fn crate_of(&self, path: &Path) -> Option<&ModelCrate> {
        let dir = path.parent()?;
        self.crates
            .iter()
            .find(|c| same_dir(&c.migrations_dir, dir))
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Source errors as one input error, each with its line of source.
pub fn source_errors(errors: &[SourceError]) -> CliError {
    let shown: Vec<String> = errors
        .iter()
        .map(|e| {
            if e.source_line.is_empty() {
                e.to_string()
            } else {
                format!("{e}\n  {:>4} | {}", e.line, e.source_line)
            }
        })
        .collect();
    CliError::Input(shown.join("\nerror: "))
}
