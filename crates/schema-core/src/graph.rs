//! The revision graph: parents (`down_revision`), merges, branch labels, cross-branch
//! `depends_on`, heads, and their validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::file::RevisionFile;

/// One revision: its file's content plus where it came from and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub file: RevisionFile,
    pub path: PathBuf,
    pub checksum: String,
}

impl Revision {
    pub fn id(&self) -> &str {
        &self.file.revision
    }

    /// The checksum of what the revision does (`v2:` + SHA-256 of its operations,
    /// `depends_on` and branch labels in the file's canonical form): comments, layout, key
    /// order, line endings, the message, and the id and parent (which `renumber`
    /// changes) are not part of it.
    pub fn content_checksum(&self) -> String {
        let canonical = crate::file::RevisionFile {
            revision: String::new(),
            down_revisions: vec![],
            message: String::new(),
            created: String::new(),
            breaking: None,
            ..self.file.clone()
        };
        format!(
            "v2:{}",
            crate::checksum::checksum(&crate::file::write(&canonical, &[]))
        )
    }

    /// Every revision this one must follow: its parents and its cross-branch dependencies.
    fn prerequisites(&self) -> impl Iterator<Item = &String> {
        self.file.down_revisions.iter().chain(&self.file.depends_on)
    }
}

/// A problem with the graph as a whole, naming the files involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    #[error("revision `{id}` is defined twice: {} and {}; renumber the one no shared database has applied with `cargo schema renumber <file>`", .first.display(), .second.display())]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: `{field}` names `{missing}`, which no migration file defines", .path.display())]
    MissingParent {
        path: PathBuf,
        field: &'static str,
        missing: String,
    },
    #[error("revisions form a cycle: {}", .ids.join(" -> "))]
    Cycle { ids: Vec<String> },
    #[error("branch `{branch}` has {} heads: {}; join them with `cargo schema merge -m \"merge\" {}`", .heads.len(), .heads.iter().map(|(id, p)| format!("{id} ({})", p.display())).collect::<Vec<_>>().join(", "), .heads.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(" "))]
    MultipleHeads {
        branch: String,
        heads: Vec<(String, PathBuf)>,
    },
    #[error("branch label `{label}` is used by more than one branch: {}", .paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DuplicateLabel { label: String, paths: Vec<PathBuf> },
    #[error("unknown revision or target `{0}`")]
    UnknownTarget(String),
    #[error("`{id}` names a revision on several branches; say which: {}", .choices.join(", "))]
    AmbiguousId { id: String, choices: Vec<String> },
    #[error("`{target}`: there are {} heads ({}); name them all with `heads`, or one branch's with `BRANCH@head`", .heads.len(), .heads.join(", "))]
    SeveralHeads { target: String, heads: Vec<String> },
    #[error("`{target}`: no branch `{branch}` (branches: {})", .branches.join(", "))]
    UnknownBranch {
        target: String,
        branch: String,
        branches: Vec<String>,
    },
    #[error("`{target}` is a relative step, but it concerns several branches ({}); say which with `BRANCH@{target}`", .branches.join(", "))]
    SeveralBranches {
        target: String,
        branches: Vec<String>,
    },
    #[error("`{target}` is not {expected}")]
    WrongDirection {
        target: String,
        expected: &'static str,
    },
    #[error("{}: revision `{id}` has no `down_revision` and no branch label, so it starts a second history beside the first; give it the `down_revision` it follows, or a `branch_labels` entry if it starts a branch of its own", .path.display())]
    UnlabelledRoot { id: String, path: PathBuf },
}

/// All revisions of a workspace, validated into a graph.
#[derive(Debug, Clone, Default)]
pub struct MigrationGraph {
    revisions: Vec<Revision>,
    index: BTreeMap<String, usize>,
    /// Revisions in an order that respects parents and `depends_on`, ties by id.
    order: Vec<usize>,
    /// Branch labels each revision carries or inherits from its parents.
    labels: Vec<BTreeSet<String>>,
    /// Release tags: a name for the heads at a release.
    tags: BTreeMap<String, Vec<String>>,
}

impl MigrationGraph {
    /// Builds the graph. Duplicate ids, missing parents and cycles are errors (all of them
    /// are reported); several heads on one branch are not, see [`Self::head_errors`].
    pub fn new(revisions: Vec<Revision>) -> Result<MigrationGraph, Vec<GraphError>> {
        let mut errors = Vec::new();
        let mut index = BTreeMap::new();
        for (i, r) in revisions.iter().enumerate() {
            if let Some(&j) = index.get(r.id()) {
                let first: &Revision = &revisions[j];
                errors.push(GraphError::DuplicateId {
                    id: r.id().to_string(),
                    first: first.path.clone(),
                    second: r.path.clone(),
                });
            } else {
                index.insert(r.id().to_string(), i);
            }
        }
        for r in &revisions {
            for (field, list) in [
                ("down_revision", &r.file.down_revisions),
                ("depends_on", &r.file.depends_on),
            ] {
                for p in list {
                    if !index.contains_key(p) {
                        errors.push(GraphError::MissingParent {
                            path: r.path.clone(),
                            field,
                            missing: p.clone(),
                        });
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Kahn's algorithm, smallest id first, for a stable order.
        let n = revisions.len();
        let mut pending: Vec<usize> = vec![0; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, r) in revisions.iter().enumerate() {
            let parents: BTreeSet<&String> = r.prerequisites().collect();
            pending[i] = parents.len();
            for p in parents {
                children[index[p.as_str()]].push(i);
            }
        }
        let mut ready: BTreeSet<(&str, usize)> = (0..n)
            .filter(|&i| pending[i] == 0)
            .map(|i| (revisions[i].id(), i))
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(&first) = ready.iter().next() {
            ready.remove(&first);
            let i = first.1;
            order.push(i);
            for &c in &children[i] {
                pending[c] -= 1;
                if pending[c] == 0 {
                    ready.insert((revisions[c].id(), c));
                }
            }
        }
        if order.len() < n {
            let ids = (0..n)
                .filter(|&i| pending[i] > 0)
                .map(|i| revisions[i].id().to_string())
                .collect();
            return Err(vec![GraphError::Cycle { ids }]);
        }
        let mut labels: Vec<BTreeSet<String>> = vec![BTreeSet::new(); n];
        for &i in &order {
            let mut own: BTreeSet<String> =
                revisions[i].file.branch_labels.iter().cloned().collect();
            for p in &revisions[i].file.down_revisions {
                own.extend(labels[index[p.as_str()]].iter().cloned());
            }
            labels[i] = own;
        }
        Ok(MigrationGraph {
            revisions,
            index,
            order,
            labels,
            tags: BTreeMap::new(),
        })
    }

    /// Adds release tags; a tag naming an unknown revision is an error.
    pub fn set_tags(&mut self, tags: BTreeMap<String, Vec<String>>) -> Result<(), GraphError> {
        for (tag, ids) in &tags {
            for id in ids {
                if self.get(id).is_none() {
                    return Err(GraphError::UnknownTarget(format!(
                        "{id} (named by tag {tag})"
                    )));
                }
            }
        }
        self.tags = tags;
        Ok(())
    }

    pub fn tags(&self) -> &BTreeMap<String, Vec<String>> {
        &self.tags
    }

    /// The tags that name this revision.
    pub fn tags_of(&self, id: &str) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == id))
            .map(|(t, _)| t.as_str())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.index.get(id).map(|&i| &self.revisions[i])
    }

    /// Every revision, parents before children.
    pub fn ordered(&self) -> impl DoubleEndedIterator<Item = &Revision> + '_ {
        self.order.iter().map(|&i| &self.revisions[i])
    }

    /// Branch labels a revision carries or inherits.
    pub fn labels_of(&self, id: &str) -> BTreeSet<String> {
        self.index
            .get(id)
            .map(|&i| self.labels[i].clone())
            .unwrap_or_default()
    }

    /// All branch labels in the graph.
    pub fn branch_labels(&self) -> BTreeSet<String> {
        self.labels.iter().flatten().cloned().collect()
    }

    /// Revisions nothing follows through `down_revision`, in graph order.
    pub fn heads(&self) -> Vec<&Revision> {
        let mut has_child = BTreeSet::new();
        for r in &self.revisions {
            for p in &r.file.down_revisions {
                has_child.insert(p.as_str());
            }
        }
        self.ordered()
            .filter(|r| !has_child.contains(r.id()))
            .collect()
    }

    /// Heads that carry `label`.
    pub fn heads_of(&self, label: &str) -> Vec<&Revision> {
        self.heads()
            .into_iter()
            .filter(|r| self.labels_of(r.id()).contains(label))
            .collect()
    }

    /// The errors that stop a build or a new revision: a branch with several heads, a
    /// label used by two unrelated roots.
    pub fn head_errors(&self) -> Vec<GraphError> {
        let mut errors = Vec::new();
        let mut by_label: BTreeMap<String, Vec<&Revision>> = BTreeMap::new();
        let mut unlabeled = Vec::new();
        for h in self.heads() {
            let labels = self.labels_of(h.id());
            if labels.is_empty() {
                unlabeled.push(h);
            }
            for l in labels {
                by_label.entry(l).or_default().push(h);
            }
        }
        if unlabeled.len() > 1 {
            by_label.insert("(unlabeled)".into(), unlabeled);
        }
        for (branch, heads) in by_label {
            if heads.len() > 1 {
                errors.push(GraphError::MultipleHeads {
                    branch,
                    heads: heads
                        .iter()
                        .map(|h| (h.id().to_string(), h.path.clone()))
                        .collect(),
                });
            }
        }
        // One history may start without a label; a second start must say it is a branch
        // (a deleted `down_revision` otherwise looks like one).
        let roots: Vec<&Revision> = self
            .revisions
            .iter()
            .filter(|r| r.file.down_revisions.is_empty())
            .collect();
        if roots.len() > 1 {
            for r in roots.iter().filter(|r| r.file.branch_labels.is_empty()) {
                errors.push(GraphError::UnlabelledRoot {
                    id: r.id().to_string(),
                    path: r.path.clone(),
                });
            }
        }
        let mut roots_by_label: BTreeMap<&str, Vec<&Revision>> = BTreeMap::new();
        for r in &self.revisions {
            for l in &r.file.branch_labels {
                roots_by_label.entry(l).or_default().push(r);
            }
        }
        for (label, rs) in roots_by_label {
            if rs.len() > 1 {
                errors.push(GraphError::DuplicateLabel {
                    label: label.to_string(),
                    paths: rs.iter().map(|r| r.path.clone()).collect(),
                });
            }
        }
        errors
    }

    /// `ids` and everything they follow (parents and dependencies), transitively.
    pub fn ancestors<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = ids.into_iter().map(str::to_string).collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(r) = self.get(&id) {
                stack.extend(r.prerequisites().cloned());
            }
        }
        seen
    }

    /// `ids` and everything that follows them, transitively.
    pub fn descendants<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = ids.into_iter().map(str::to_string).collect();
        for r in self.ordered() {
            if r.prerequisites().any(|p| seen.contains(p)) {
                seen.insert(r.id().to_string());
            }
        }
        seen
    }

    /// The revisions in `set`, in graph order.
    pub fn in_order<'s>(
        &'s self,
        set: &'s BTreeSet<String>,
    ) -> impl DoubleEndedIterator<Item = &'s Revision> + 's {
        self.ordered().filter(move |r| set.contains(r.id()))
    }

    /// The revisions a target names as a set of heads: `heads`, `head`, `BRANCH@head`,
    /// an id, `BRANCH@ID` or a release tag; `base` names none. Relative steps need a
    /// database: see [`Self::upgrade_set`] and [`Self::downgrade_plan`].
    pub fn resolve(&self, target: &str) -> Result<Vec<String>, GraphError> {
        let set = self.upgrade_set(target, &BTreeSet::new())?;
        Ok(self.heads_within(&set))
    }

    /// The revisions of `set` that nothing else in `set` follows.
    pub fn heads_within(&self, set: &BTreeSet<String>) -> Vec<String> {
        let mut followed = BTreeSet::new();
        for r in self.in_order(set) {
            followed.extend(r.prerequisites().cloned());
        }
        self.in_order(set)
            .filter(|r| !followed.contains(r.id()))
            .map(|r| r.id().to_string())
            .collect()
    }
}
