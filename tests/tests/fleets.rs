//! Fleets on real servers: about 100 SQLite files and 20 PostgreSQL databases on each of
//! two throwaway servers in one command, stages that stop a rollout, PgBouncer in
//! transaction mode, and the library API for applications that host tenants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schema::testing::{PgBouncer, PgCluster};
use schema_e2e::{Fixture, TestDb};

/// Throwaway PostgreSQL servers for one test, stopped (and removed) when it ends, or when
/// the test process exits after a panic.
struct Servers(Vec<PgCluster>, Vec<PgBouncer>);

impl Servers {
    fn start(n: usize) -> Servers {
        let clusters: Vec<PgCluster> = (0..n)
            .map(|_| {
                let c = PgCluster::start().expect("a throwaway PostgreSQL server");
                c.stop_when_process_exits(std::process::id());
                c
            })
            .collect();
        Servers(clusters, vec![])
    }

    /// `n` new databases on server `i`, their URLs (over the server's unix socket).
    fn databases(&self, i: usize, prefix: &str, n: usize) -> Vec<String> {
        let rt = schema_e2e::runtime();
        let admin = schema_e2e::pg_connect(&rt, &self.0[i].url("postgres"));
        (0..n)
            .map(|k| {
                let name = format!("{prefix}_{k:03}");
                rt.block_on(admin.batch_execute(&format!("CREATE DATABASE {name}")))
                    .expect("create database");
                self.0[i].url(&name)
            })
            .collect()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for b in &self.1 {
            b.stop();
        }
        for c in &self.0 {
            c.stop();
        }
    }
}

/// The JSON lines of a fleet run: each target's object by target, and the summary.
fn json_lines(stdout: &str) -> (BTreeMap<String, serde_json::Value>, serde_json::Value) {
    let mut targets = BTreeMap::new();
    let mut summary = serde_json::Value::Null;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        if let Some(s) = v.get("summary") {
            summary = s.clone();
        } else {
            let t = v["target"].as_str().expect("target").to_string();
            assert!(
                targets.insert(t.clone(), v).is_none(),
                "one line per target: {t}"
            );
        }
    }
    (targets, summary)
}

fn results(targets: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for v in targets.values() {
        *out.entry(v["result"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    out
}

fn history_len(db: &TestDb) -> String {
    db.rows("SELECT count(*) FROM _schema_history")[0][0].clone()
}

/// `n` SQLite files in a fresh directory, their URLs.
fn sqlite_files(dir: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|k| {
            format!(
                "sqlite://{}",
                dir.join(format!("tenant_{k:03}.db")).display()
            )
        })
        .collect()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = schema::testing::sqlite_test_dir(name).expect("temp dir");
    let sub = dir.join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&sub).expect("dir");
    sub
}

#[test]
fn a_fleet_brings_every_target_to_head_names_the_broken_one_and_resumes() {
    let servers = Servers::start(2);
    let f = Fixture::new("blog");
    let dir = fresh_dir("fleet");
    let mut urls = sqlite_files(&dir, 100);
    let canary = urls.remove(0);
    // One target broken on purpose: a table in the way of the first revision.
    let broken = urls[41].clone();
    let broken_db = TestDb::Sqlite(PathBuf::from(broken.trim_start_matches("sqlite://")));
    broken_db.execute("CREATE TABLE users (x integer)");
    urls.extend(servers.databases(0, "tenant_a", 20));
    urls.extend(servers.databases(1, "tenant_b", 20));
    std::fs::write(f.path("tenants.txt"), urls.join("\n") + "\n").expect("write");
    f.write(
        "fleet.toml",
        &format!(
            "[[stage]]\nname = \"canary\"\nurls = [\"{canary}\"]\n\n[[stage]]\nname = \"all\"\nurls-file = \"tenants.txt\"\nmax-failures = 1\n"
        ),
    );

    // Watch the connections to server a while the fleet runs: 8 at once in all, at most
    // 4 targets (each a connection and one for its run lock) on one server.
    let done = std::sync::atomic::AtomicBool::new(false);
    let most = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let rt = schema_e2e::runtime();
            let c = schema_e2e::pg_connect(&rt, &servers.0[0].url("postgres"));
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let rows = rt
                    .block_on(c.simple_query(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'tenant_a%'",
                    ))
                    .expect("count");
                for m in &rows {
                    if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                        most = most.max(r.get(0).and_then(|n| n.parse().ok()).unwrap_or(0));
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            most
        });
        let r = f.schema(&[
            "upgrade",
            "--targets",
            "fleet.toml",
            "--parallel",
            "8",
            "--continue-on-error",
            "--format",
            "json",
        ]);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (r, watcher.join().expect("watcher"))
    });
    let (r, most) = most;
    assert!(
        (1..=8).contains(&most),
        "connections to one server at once: {most} (--per-server 4, two each)"
    );
    r.expect(3);
    let (targets, summary) = json_lines(&r.stdout());
    assert_eq!(targets.len(), 140);
    assert_eq!(
        results(&targets),
        BTreeMap::from([("failed".to_string(), 1), ("upgraded".to_string(), 139)])
    );
    let failed = &targets[&broken];
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("revision 0001") && e.contains("users")),
        "{failed}"
    );
    assert_eq!(summary["upgraded"], 139);
    assert_eq!(summary["failed"], 1);
    assert_eq!(targets[&canary]["stage"], "canary");
    assert_eq!(
        targets[&canary]["revisions"],
        serde_json::json!(["0001", "0002", "0003", "0004", "0005", "0006", "0007"])
    );
    // (A TestDb removes its database when dropped: these live to the end of the test.)
    let mut checked = Vec::new();
    for u in [&urls[0], &urls[98], &urls[99], &urls[138]] {
        let db = match u.strip_prefix("sqlite://") {
            Some(p) => TestDb::Sqlite(PathBuf::from(p)),
            None => TestDb::Postgres(u.clone()),
        };
        assert_eq!(history_len(&db), "7", "{u}");
        assert!(db.introspect().tables.contains_key("post_tags"), "{u}");
        checked.push(db);
    }

    // Fixed, a second run upgrades only that one; every other target costs one query.
    broken_db.execute("DROP TABLE users");
    let r = f.schema(&["upgrade", "--targets", "fleet.toml", "--format", "json"]);
    r.expect(0);
    let (targets, _) = json_lines(&r.stdout());
    assert_eq!(
        results(&targets),
        BTreeMap::from([("at head".to_string(), 139), ("upgraded".to_string(), 1)]),
        "{:?}",
        targets
            .values()
            .filter(|v| v["result"] != "at head")
            .collect::<Vec<_>>()
    );
    assert_eq!(targets[&broken]["result"], "upgraded");

    // Text lines: one per target and a summary.
    let r = f.schema(&["status", "--targets", "fleet.toml"]);
    r.expect(0);
    let out = r.stdout();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("at head")).count(),
        140
    );
    assert!(out.contains("140 target(s): 140 at head"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("tenant_b_019") && l.contains("0007, 0 pending")),
        "{out}"
    );
    assert!(!out.contains("secret"));
    f.schema(&["check", "--targets", "fleet.toml"]).expect(0);
    drop(checked);
}

#[test]
fn a_failing_canary_stops_the_rollout_before_the_next_stage() {
    let f = Fixture::new("blog");
    let dir = fresh_dir("canary");
    let urls = sqlite_files(&dir, 4);
    let canary = TestDb::Sqlite(PathBuf::from(urls[0].trim_start_matches("sqlite://")));
    canary.execute("CREATE TABLE users (x integer)");
    f.write(
        "fleet.toml",
        &format!(
            "[[stage]]\nname = \"canary\"\nurls = [\"{}\"]\n\n[[stage]]\nname = \"rest\"\nurls = [\"{}\", \"{}\", \"{}\"]\n",
            urls[0], urls[1], urls[2], urls[3]
        ),
    );
    let r = f.schema(&["upgrade", "--targets", "fleet.toml"]);
    r.expect(3);
    let out = r.stdout();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("skipped")).count(),
        3,
        "{out}"
    );
    assert!(
        r.stderr().contains(
            "the rollout stopped: stage `canary` had 1 failure(s), more than its max-failures (0)"
        ),
        "{}",
        r.stderr()
    );
    for u in &urls[1..] {
        assert!(
            !Path::new(u.trim_start_matches("sqlite://")).exists(),
            "{u} was not touched"
        );
    }

    // `--targets -` reads URLs from standard input: the rest go through.
    let mut child = std::process::Command::new(schema_e2e::binary())
        .args(["schema", "upgrade", "--targets", "-"])
        .current_dir(&f.dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("# the rest\n{}\n\n{}\n{}\n", urls[1], urls[2], urls[3]).as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 target(s): 3 upgraded"));

    // Targets from a command's output and from a catalog query.
    let more = sqlite_files(&dir.join("more"), 2);
    std::fs::create_dir_all(dir.join("more")).expect("dir");
    let catalog = TestDb::Sqlite(dir.join("catalog.db"));
    catalog.execute(&format!(
        "CREATE TABLE tenants (url text); INSERT INTO tenants VALUES ('{}')",
        more[1]
    ));
    f.write(
        "fleet.toml",
        &format!(
            "[[stage]]\nurls-command = [\"sh\", \"-c\", \"echo {}\"]\n\n[[stage]]\nurls-query = {{ url = \"sqlite://{}\", sql = \"SELECT url FROM tenants\" }}\n",
            more[0],
            dir.join("catalog.db").display()
        ),
    );
    let r = f.schema(&["upgrade", "--targets", "fleet.toml"]);
    r.expect(0);
    assert!(
        r.stdout().contains("2 target(s): 2 upgraded"),
        "{}",
        r.stdout()
    );
    f.write(
        "fleet.toml",
        "[[stage]]\nurls-command = [\"sh\", \"-c\", \"exit 4\"]\n",
    );
    let r = f.schema(&["upgrade", "--targets", "fleet.toml"]);
    r.expect(2);
    assert!(
        r.stderr().contains("no target was started"),
        "{}",
        r.stderr()
    );
    drop(catalog);

    // A bad fleet file is an input error that changes nothing.
    f.write(
        "bad.toml",
        "[[stage]]\nname = \"x\"\nurls = []\nurls-file = \"t.txt\"\n",
    );
    let r = f.schema(&["upgrade", "--targets", "bad.toml"]);
    r.expect(2);
    assert!(
        r.stderr()
            .contains("stage `x` gives its targets more than one way"),
        "{}",
        r.stderr()
    );
    f.write("bad.toml", "[[stage]]\nurls = [\"oracle://x/y\"]\n");
    f.schema(&["upgrade", "--targets", "bad.toml"]).expect(2);
}

#[test]
fn eight_fleet_runs_through_pgbouncer_in_transaction_mode_apply_each_revision_once() {
    let mut servers = Servers::start(1);
    let bouncer = PgBouncer::start(&servers.0[0]).expect("a throwaway PgBouncer");
    servers.1.push(bouncer.clone());
    let direct = servers.databases(0, "pooled", 5);
    let pooled: Vec<String> = (0..5)
        .map(|k| bouncer.url(&format!("pooled_{k:03}")))
        .collect();
    let f = Fixture::new("blog");
    f.write(
        "fleet.toml",
        &format!(
            "[[stage]]\nurls = [{}]\n",
            pooled
                .iter()
                .map(|u| format!("\"{u}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(schema_e2e::binary())
                .args([
                    "schema",
                    "upgrade",
                    "--targets",
                    "fleet.toml",
                    "--format",
                    "json",
                ])
                .current_dir(&f.dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut applied: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (targets, _) = json_lines(&String::from_utf8_lossy(&out.stdout));
        for (t, v) in targets {
            for r in v["revisions"].as_array().into_iter().flatten() {
                applied
                    .entry(t.clone())
                    .or_default()
                    .push(r.as_str().unwrap_or_default().to_string());
            }
        }
    }
    let mut checked = Vec::new();
    for (pooled_url, direct_url) in pooled.iter().zip(&direct) {
        let mut revs = applied.remove(pooled_url).unwrap_or_default();
        revs.sort();
        assert_eq!(
            revs,
            ["0001", "0002", "0003", "0004", "0005", "0006", "0007"],
            "each revision applied once on {pooled_url}"
        );
        let db = TestDb::Postgres(direct_url.clone());
        assert_eq!(history_len(&db), "7");
        f.schema(&["check", "--database", "--database-url", direct_url])
            .expect(0);
        checked.push(db);
    }
    let r = f.schema(&["status", "--targets", "fleet.toml"]);
    r.expect(0);
    assert!(
        r.stdout().contains("5 target(s): 5 at head"),
        "{}",
        r.stdout()
    );
    // The catalog reads of a drift check pass through transaction pooling too.
    let r = f.schema(&["status", "--drift", "--targets", "fleet.toml"]);
    r.expect(0);
    assert!(
        r.stdout().contains("5 target(s): 5 at head"),
        "{}",
        r.stdout()
    );
    f.schema(&["check", "--targets", "fleet.toml"]).expect(0);
    drop(checked);
}

/// The blog's history as `schema-build` would embed it.
fn embedded_blog() -> schema::EmbeddedMigrations {
    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }
    fn leak_all(v: &[String]) -> &'static [&'static str] {
        Box::leak(
            v.iter()
                .map(|s| leak(s.clone()))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )
    }
    let graph = schema_e2e::fixture_graph(&["blog/models/migrations"]);
    let revisions: Vec<schema::embed::EmbeddedRevision> = graph
        .ordered()
        .map(|r| schema::embed::EmbeddedRevision {
            id: leak(r.id().to_string()),
            path: leak(r.path.display().to_string()),
            checksum: leak(r.checksum.clone()),
            text: leak(std::fs::read_to_string(&r.path).expect("read")),
            down_revisions: leak_all(&r.file.down_revisions),
            depends_on: leak_all(&r.file.depends_on),
            branch_labels: leak_all(&r.file.branch_labels),
        })
        .collect();
    let digest =
        schema::core::checksum::history_digest(revisions.iter().map(|r| (r.id, r.checksum)));
    schema::EmbeddedMigrations::generated(Box::leak(revisions.into_boxed_slice()), leak(digest))
}

#[test]
fn the_library_upgrades_every_tenant_and_reports_each() {
    let migrations = embedded_blog();
    let tenants: Vec<TestDb> = (0..6).map(|_| TestDb::postgres("tenant")).collect();
    tenants[4].execute("CREATE TABLE users (x integer)");
    let rt = schema_e2e::runtime();
    let run = || {
        let clients: Vec<(String, tokio_postgres::Client)> = tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("tenant {i}"), schema_e2e::pg_connect(&rt, &t.url())))
            .collect();
        rt.block_on(schema::fleet::upgrade_all(
            &migrations,
            clients,
            &schema::RunOptions::default(),
            3,
        ))
    };
    let report = run();
    assert_eq!(report.tenants.len(), 6);
    assert_eq!(report.upgraded(), 5);
    let failed: Vec<&str> = report.failed().map(|t| t.tenant.as_str()).collect();
    assert_eq!(failed, ["tenant 4"]);
    assert_eq!(
        report.tenants[0]
            .result
            .as_ref()
            .map(|r| r.revisions.len())
            .ok(),
        Some(7)
    );
    for (i, t) in tenants.iter().enumerate() {
        if i != 4 {
            assert_eq!(history_len(t), "7");
        }
    }
    tenants[4].execute("DROP TABLE users");
    let report = run();
    assert_eq!((report.at_head(), report.upgraded()), (5, 1));
    assert_eq!(history_len(&tenants[4]), "7");
}
