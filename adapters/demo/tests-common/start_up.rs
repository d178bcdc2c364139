//! What both demo applications' tests check: two instances started at once on one fresh
//! database migrate it once between them, and the database then has exactly what the
//! models say (read back with the project's own drivers, which the applications do not
//! link), the seeded row and one note from each instance.

use std::process::{Command, Stdio};

use schema_e2e::TestDb;

/// What one start printed.
#[derive(Debug)]
pub struct Started {
    pub applied: usize,
    pub notes: usize,
}

fn number(out: &str, key: &str) -> usize {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` line in {out:?}"))
}

/// Starts `bin` twice at once on `url` and waits for both.
fn start_two(bin: &str, url: &str) -> Vec<Started> {
    let children: Vec<_> = ["first", "second"]
        .iter()
        .map(|title| {
            Command::new(bin)
                .args([url, title])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the application")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait for the application");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{bin} failed: {}\n{stdout}",
                String::from_utf8_lossy(&out.stderr)
            );
            Started {
                applied: number(&stdout, "applied "),
                notes: number(&stdout, "notes "),
            }
        })
        .collect()
}

/// Two instances at once on `db`: the two revisions applied once between them, the
/// schema the models', the seeded row and both notes there.
pub fn check_two_instances(bin: &str, db: &TestDb) {
    let started = start_two(bin, &db.url());
    assert_eq!(
        started.iter().map(|s| s.applied).sum::<usize>(),
        2,
        "each revision applied once between the two: {started:?}"
    );
    let history = db.rows("SELECT revision FROM _schema_history ORDER BY revision");
    assert_eq!(history, [["0001"], ["0002"]]);
    let drift =
        schema::compare::differences(db.dialect(), &demo_models::models(), &db.introspect());
    assert!(
        drift.is_empty(),
        "the database differs from the models: {drift:?}"
    );
    let notes = db.rows("SELECT title FROM notes ORDER BY title");
    assert_eq!(
        notes,
        [["first"], ["second"], ["welcome"]],
        "the seeded note and one from each instance"
    );
    // Each instance saw the seeded note and its own, at least.
    assert!(started.iter().all(|s| s.notes >= 2), "{started:?}");
}
