//! Targets: what `heads`, `head`, `base`, `BRANCH@head|base|-N|+N|ID`, `-N`, `+N`, an id
//! or a release tag names, and which revisions an upgrade or a downgrade to it touches.
//! The one place where this is decided, for the runner, `sql` and the CLI alike.

use std::collections::BTreeSet;

use crate::graph::{GraphError, MigrationGraph};

/// A target, resolved against the graph (relative steps still need the applied set).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Point {
    /// These revisions (and, for an upgrade, everything they follow).
    Revisions(Vec<String>),
    /// No revision at all.
    Base,
    /// Before the first revision of a branch.
    BranchBase(String),
    /// N revisions forward (positive) or back (negative), on a branch or the only one
    /// concerned.
    Relative { branch: Option<String>, steps: i64 },
}

/// What a downgrade reverts: the revisions, newest first, and the branches the target is
/// on (several for a release tag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DowngradePlan {
    pub revisions: Vec<String>,
    pub branches: BTreeSet<Option<String>>,
}

impl DowngradePlan {
    /// The reverted revisions that are not on the target's branch: a user is told about
    /// each before anything is reverted.
    pub fn other_branches<'p>(&'p self, graph: &'p MigrationGraph) -> Vec<&'p str> {
        self.revisions
            .iter()
            .filter(|id| !self.branches.contains(&graph.branch_of(id)))
            .map(String::as_str)
            .collect()
    }
}

/// The revisions between two points, as `sql FROM:TO` renders them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Range {
    /// Where the script starts: FROM and everything it follows.
    pub from: BTreeSet<String>,
    /// Revisions to upgrade, in graph order.
    pub upgrade: Vec<String>,
    /// Revisions to revert, newest first.
    pub downgrade: Vec<String>,
}

fn relative(s: &str) -> Option<i64> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().map(|n| sign * n)
}

impl MigrationGraph {
    /// The branch a revision is on: the first label it carries or inherits.
    pub fn branch_of(&self, key: &str) -> Option<String> {
        self.labels_of(key).into_iter().next()
    }

    /// The key of the revision `name` names: a key (`0003`, `upstream@0003`),
    /// `BRANCH@ID` for a revision of a workspace branch, or a bare id that one branch
    /// alone has.
    pub fn revision_key(&self, name: &str) -> Result<String, GraphError> {
        if let Some((branch, id)) = name.split_once('@') {
            if self.get(name).is_some() {
                return Ok(name.to_string());
            }
            if self.get(id).is_some() && self.labels_of(id).contains(branch) {
                return Ok(id.to_string());
            }
            return Err(GraphError::UnknownTarget(name.to_string()));
        }
        let mut keys: Vec<String> = self
            .get(name)
            .map(|_| name.to_string())
            .into_iter()
            .collect();
        let suffix = format!("@{name}");
        keys.extend(
            self.ordered()
                .filter(|r| r.id().ends_with(&suffix))
                .map(|r| r.id().to_string()),
        );
        match keys.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(GraphError::UnknownTarget(name.to_string())),
            _ => Err(GraphError::AmbiguousId {
                id: name.to_string(),
                choices: keys
                    .iter()
                    .map(|k| match k.split_once('@') {
                        Some(_) => k.clone(),
                        None => format!(
                            "{}@{k}",
                            self.branch_of(k).unwrap_or_else(|| "BRANCH".into())
                        ),
                    })
                    .collect(),
            }),
        }
    }

    /// A target that names exactly the revision `key`, even where its bare id is
    /// ambiguous (`core@0001` beside `accounts@0001`).
    pub fn target_for(&self, key: &str) -> String {
        match (key.contains('@'), self.branch_of(key)) {
            (false, Some(branch)) if self.revision_key(key).is_err() => format!("{branch}@{key}"),
            _ => key.to_string(),
        }
    }

    fn point(&self, target: &str) -> Result<Point, GraphError> {
        let ids = |rs: Vec<&crate::graph::Revision>| {
            Point::Revisions(rs.into_iter().map(|r| r.id().to_string()).collect())
        };
        match target {
            "heads" => return Ok(ids(self.heads())),
            "head" => {
                let heads = self.heads();
                if heads.len() > 1 {
                    return Err(GraphError::SeveralHeads {
                        target: target.to_string(),
                        heads: heads.iter().map(|h| h.id().to_string()).collect(),
                    });
                }
                return Ok(ids(heads));
            }
            "base" => return Ok(Point::Base),
            _ => {}
        }
        if let Some(steps) = relative(target) {
            return Ok(Point::Relative {
                branch: None,
                steps,
            });
        }
        if let Some((branch, rest)) = target.split_once('@') {
            if self.get(target).is_some() {
                return Ok(Point::Revisions(vec![target.to_string()]));
            }
            if !self.branch_labels().contains(branch) {
                return Err(GraphError::UnknownBranch {
                    target: target.to_string(),
                    branch: branch.to_string(),
                    branches: self.branch_labels().into_iter().collect(),
                });
            }
            return match rest {
                "head" | "heads" => Ok(ids(self.heads_of(branch))),
                "base" => Ok(Point::BranchBase(branch.to_string())),
                _ => match relative(rest) {
                    Some(steps) => Ok(Point::Relative {
                        branch: Some(branch.to_string()),
                        steps,
                    }),
                    None => Ok(Point::Revisions(vec![self.revision_key(target)?])),
                },
            };
        }
        match self.revision_key(target) {
            Ok(key) => Ok(Point::Revisions(vec![key])),
            Err(GraphError::UnknownTarget(_)) => match self.tags().get(target) {
                Some(ids) => Ok(Point::Revisions(ids.clone())),
                None => Err(GraphError::UnknownTarget(target.to_string())),
            },
            Err(e) => Err(e),
        }
    }

    /// The revisions of `branch` (those carrying or inheriting its label), in graph order.
    fn on_branch<'s>(&'s self, branch: &'s str) -> impl DoubleEndedIterator<Item = &'s str> + 's {
        self.ordered()
            .filter(move |r| self.labels_of(r.id()).contains(branch))
            .map(|r| r.id())
    }

    /// The branch a relative step moves: the one named, else the only one among `among`.
    fn step_branch(
        &self,
        target: &str,
        branch: Option<String>,
        among: &BTreeSet<String>,
    ) -> Result<Option<String>, GraphError> {
        if branch.is_some() {
            return Ok(branch);
        }
        let branches: BTreeSet<Option<String>> =
            among.iter().map(|id| self.branch_of(id)).collect();
        match branches.len() {
            0 | 1 => Ok(branches.into_iter().next().flatten()),
            _ => Err(GraphError::SeveralBranches {
                target: target.to_string(),
                branches: branches.into_iter().flatten().collect(),
            }),
        }
    }

    /// The revisions that must be applied for `target`, given the `applied` ones: the
    /// target and everything it follows (for `+N`, what is applied and N more).
    pub fn upgrade_set(
        &self,
        target: &str,
        applied: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, GraphError> {
        match self.point(target)? {
            Point::Revisions(ids) => Ok(self.ancestors(ids.iter().map(String::as_str))),
            Point::Base | Point::BranchBase(_) => Ok(BTreeSet::new()),
            Point::Relative { branch, steps } if steps > 0 => {
                let pending: BTreeSet<String> = self
                    .ordered()
                    .map(|r| r.id().to_string())
                    .filter(|id| !applied.contains(id))
                    .collect();
                let branch = self.step_branch(target, branch, &pending)?;
                let next: Vec<String> = self
                    .ordered()
                    .map(|r| r.id())
                    .filter(|id| pending.contains(*id) && self.branch_of(id) == branch)
                    .take(usize::try_from(steps).unwrap_or(usize::MAX))
                    .map(str::to_string)
                    .collect();
                let mut wanted = applied.clone();
                wanted.extend(self.ancestors(next.iter().map(String::as_str)));
                Ok(wanted)
            }
            Point::Relative { .. } => Err(GraphError::WrongDirection {
                target: target.to_string(),
                expected: "an upgrade target (+N, not -N)",
            }),
        }
    }

    /// What a downgrade to `target` reverts among the `applied` revisions: the revisions
    /// of the target's branch applied after it, then every applied revision (of any
    /// branch) that follows one of those through `down_revision` or `depends_on`; newest
    /// first, and nothing else.
    pub fn downgrade_plan(
        &self,
        target: &str,
        applied: &BTreeSet<String>,
    ) -> Result<DowngradePlan, GraphError> {
        let (first, branches): (BTreeSet<String>, BTreeSet<Option<String>>) =
            match self.point(target)? {
                Point::Revisions(ids) => {
                    let mut after = self.followers(ids.iter().map(String::as_str));
                    for id in &ids {
                        after.remove(id);
                    }
                    let branches = ids.iter().map(|id| self.branch_of(id)).collect();
                    (after, branches)
                }
                Point::Base => (
                    applied.clone(),
                    applied.iter().map(|id| self.branch_of(id)).collect(),
                ),
                Point::BranchBase(b) => (
                    self.on_branch(&b).map(str::to_string).collect(),
                    [Some(b)].into(),
                ),
                Point::Relative { branch, steps } if steps < 0 => {
                    let branch = self.step_branch(target, branch, applied)?;
                    let last: BTreeSet<String> = self
                        .ordered()
                        .rev()
                        .map(|r| r.id())
                        .filter(|id| applied.contains(*id) && self.branch_of(id) == branch)
                        .take(usize::try_from(-steps).unwrap_or(usize::MAX))
                        .map(str::to_string)
                        .collect();
                    (last, [branch].into())
                }
                Point::Relative { .. } => {
                    return Err(GraphError::WrongDirection {
                        target: target.to_string(),
                        expected: "a downgrade target (-N, not +N)",
                    })
                }
            };
        let revert = self.descendants(first.iter().map(String::as_str));
        Ok(DowngradePlan {
            revisions: self
                .ordered()
                .rev()
                .map(|r| r.id())
                .filter(|id| revert.contains(*id) && applied.contains(*id))
                .map(str::to_string)
                .collect(),
            branches,
        })
    }

    /// `ids` and the revisions that follow them through `down_revision` alone (their own
    /// branch, merges included).
    fn followers<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = ids.into_iter().map(str::to_string).collect();
        for r in self.ordered() {
            if r.file.down_revisions.iter().any(|p| seen.contains(p)) {
                seen.insert(r.id().to_string());
            }
        }
        seen
    }

    /// What `sql FROM:TO` renders: the upgrade from FROM to TO when TO needs revisions
    /// FROM lacks, else the downgrade from FROM to TO, by the rules of
    /// [`Self::upgrade_set`] and [`Self::downgrade_plan`].
    pub fn range(&self, from: &str, to: &str) -> Result<Range, GraphError> {
        let from_set = self.upgrade_set(from, &BTreeSet::new())?;
        self.range_from(from_set, to)
    }

    /// [`Self::range`] from a set of applied revisions (a database's history).
    pub fn range_from(&self, from_set: BTreeSet<String>, to: &str) -> Result<Range, GraphError> {
        let wanted = self.upgrade_set(to, &from_set);
        let upgrade: Vec<String> = match &wanted {
            Ok(w) => self
                .ordered()
                .map(|r| r.id())
                .filter(|id| w.contains(*id) && !from_set.contains(*id))
                .map(str::to_string)
                .collect(),
            Err(GraphError::WrongDirection { .. }) => vec![],
            Err(e) => return Err(e.clone()),
        };
        let downgrade = if upgrade.is_empty() {
            self.downgrade_plan(to, &from_set)?.revisions
        } else {
            vec![]
        };
        Ok(Range {
            from: from_set,
            upgrade,
            downgrade,
        })
    }
}
