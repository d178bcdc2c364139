//! Embedding (schema-build in the blog app's build.rs), the app started twice at once,
//! the plugin workspace's partial downgrade, and release tags.

use std::process::Command;

use schema_e2e::{target_dir, Fixture, TestDb};

/// Copies of the blog fixture share the target directory and, since cargo hashes a
/// workspace member by its path inside the workspace, the same build-script outputs:
/// tests that build the app take turns.
static APP_BUILDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cargo(f: &Fixture, args: &[&str]) -> (bool, String) {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .current_dir(&f.dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn build_script_ran(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        l.contains("Running") && l.contains("blog-app") && l.contains("build-script-build")
    })
}

#[test]
fn the_build_validates_embeds_and_reruns_only_for_migrations() {
    let _turn = APP_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new("blog");
    let (ok, err) = cargo(&f, &["build", "-v", "-p", "blog-app"]);
    assert!(ok, "{err}");

    // A broken migration fails the build with file:line.
    let rel = "models/migrations/20251108_0003_tags_and_post_tags.toml";
    let good = f.read(rel);
    f.write(
        rel,
        &good.replacen("op = \"create_table\"", "op = \"create_tabel\"", 1),
    );
    let (ok, err) = cargo(&f, &["build", "-p", "blog-app"]);
    assert!(!ok, "a broken migration must fail the build");
    assert!(err.contains("20251108_0003_tags_and_post_tags.toml:7: in [[upgrade]]: unknown variant `create_tabel`"), "{err}");

    // Two heads on one branch fail it too.
    f.write(rel, &good);
    f.write(
        "models/migrations/20251124_0009_side.toml",
        "revision = \"0009\"\ndown_revision = \"0006\"\n",
    );
    let (ok, err) = cargo(&f, &["build", "-p", "blog-app"]);
    assert!(!ok);
    assert!(err.contains("branch `blog` has 2 heads"), "{err}");
    std::fs::remove_file(f.path("models/migrations/20251124_0009_side.toml")).expect("rm");

    // Fixed: it builds again, and the build script ran for the change.
    let (ok, err) = cargo(&f, &["build", "-v", "-p", "blog-app"]);
    assert!(ok, "{err}");
    // An edit of an unrelated source file does not re-run the build script...
    f.edit(
        "app/src/main.rs",
        "fn main() {",
        "// an unrelated edit\nfn main() {",
    );
    let (ok, err) = cargo(&f, &["build", "-v", "-p", "blog-app"]);
    assert!(ok && !build_script_ran(&err), "{err}");
    // ...an edit of a migration does, and a new migration file does.
    f.edit(
        rel,
        "message = \"tags and post_tags\"",
        "message = \"tags, and post_tags\"",
    );
    let (ok, err) = cargo(&f, &["build", "-v", "-p", "blog-app"]);
    assert!(ok && build_script_ran(&err), "{err}");
    f.schema(&["revision", "--empty", "-m", "new file"])
        .expect(0);
    let (ok, err) = cargo(&f, &["build", "-v", "-p", "blog-app"]);
    assert!(ok && build_script_ran(&err), "{err}");
    let generated = std::fs::read_dir(target_dir().join("debug/build"))
        .expect("build dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("blog-app-"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("out/schema_migrations.rs")).ok())
        .any(|code| code.contains("_0008_new_file.toml"));
    assert!(generated, "the new revision is embedded");
}

#[test]
fn the_app_started_twice_at_once_applies_the_schema_once() {
    let _turn = APP_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new("blog");
    let (ok, err) = cargo(&f, &["build", "-p", "blog-app"]);
    assert!(ok, "{err}");
    let bin = target_dir().join("debug/blog-app");
    for db in TestDb::both("app_twice") {
        let url = db.url();
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(&bin)
                    .arg("migrate")
                    .env("DATABASE_URL", &url)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let history = db.rows("SELECT revision FROM _schema_history ORDER BY revision");
        assert_eq!(
            history.len(),
            7,
            "each revision recorded once on {:?}",
            db.dialect()
        );
        // The app works on the schema it made.
        let run = |args: &[&str]| {
            let out = Command::new(&bin)
                .args(args)
                .env("DATABASE_URL", &url)
                .output()
                .expect("run");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let id = run(&["add-user", "ann@example.com", "Ann"]);
        run(&["post", id.trim(), "Hello", "world"]);
        assert!(run(&["posts"]).contains("Ann\tHello\t0 comment(s)"));
    }
}

#[test]
fn plugins_upgrade_partial_downgrade_and_again() {
    for db in TestDb::both("plugins_cli") {
        let f = Fixture::new("plugins");
        let url = db.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let names = |db: &TestDb| db.introspect().tables.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&db), ["accounts", "audit_events", "orgs"]);
        let r = f.schema(&["downgrade", "audit@base", "--database-url", &url]);
        r.expect(0);
        assert_eq!(r.stdout().trim(), "Reverted 0002");
        assert_eq!(
            names(&db),
            ["accounts", "orgs"],
            "only the plugin's tables are gone"
        );
        // Downgrading the core to base takes the plugin with it (it depends on the core).
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.schema(&["downgrade", "core@base", "--database-url", &url])
            .expect(0);
        assert!(names(&db).is_empty());
        f.schema(&["upgrade", "audit@head", "--database-url", &url])
            .expect(0);
        assert_eq!(
            names(&db),
            ["accounts", "audit_events", "orgs"],
            "the plugin's head pulls in the core it needs"
        );
        f.schema(&["check", "--database", &url]).expect(0);
    }
}

#[test]
fn release_tags_are_guarded_recorded_and_usable_as_targets() {
    let f = Fixture::new("blog");
    // Refused while the models differ from the migrations...
    f.edit(
        "models/src/users.rs",
        "    pub bio: Option<String>,\n",
        "    pub bio: Option<String>,\n    pub site: Option<String>,\n",
    );
    let r = f.schema(&["tag", "v1.0.0"]);
    r.expect(2);
    assert!(
        r.stderr().contains("differ from the migrations"),
        "{}",
        r.stderr()
    );
    f.schema(&["revision", "-m", "user site"]).expect(0);
    // ...and while a branch has two heads.
    f.schema(&["revision", "--empty", "-m", "side", "--head", "0007"])
        .expect(0);
    let r = f.schema(&["tag", "v1.0.0"]);
    r.expect(2);
    assert!(r.stderr().contains("2 heads"), "{}", r.stderr());
    f.schema(&["merge", "-m", "join", "0008", "0009"]).expect(0);
    f.schema(&["tag", "v1.0.0"]).expect(0);
    f.schema(&["tag", "v1.0.0"]).expect(2);
    assert!(f
        .read("schema-tags.toml")
        .contains("\"v1.0.0\" = [\"0010\"]"));
    let r = f.schema(&["history"]);
    assert!(
        r.stdout().contains("-> 0010 (head) (tag v1.0.0)"),
        "{}",
        r.stdout()
    );

    f.edit("models/src/users.rs", "    pub site: Option<String>,\n", "");
    f.schema(&["revision", "-m", "no site"]).expect(0);
    let db = TestDb::sqlite("tags");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    f.schema(&["downgrade", "v1.0.0", "--database-url", &url])
        .expect(0);
    let r = f.schema(&["current", "--database-url", &url]);
    assert!(r.stdout().starts_with("0010"), "{}", r.stdout());
    assert!(db.introspect().tables["users"].column("site").is_some());
    f.schema(&["stamp", "v1.0.0", "--database-url", &url])
        .expect(0);
    let sql = f.schema(&["sql", "v1.0.0:heads", "--dialect", "postgres"]);
    sql.expect(0);
    assert!(
        sql.stdout()
            .contains("ALTER TABLE \"users\" DROP COLUMN \"site\""),
        "{}",
        sql.stdout()
    );
}

/// Schema first, code later: the app built at 0007 starts on a database one compatible
/// revision ahead (0008 adds a nullable column) and works on it; once a breaking
/// revision is applied (0009 drops a column), it refuses to start and names it.
#[test]
fn an_old_binary_starts_on_a_compatible_schema_and_refuses_a_breaking_one() {
    let _turn = APP_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new("blog");
    let (ok, err) = cargo(&f, &["build", "-p", "blog-app"]);
    assert!(ok, "{err}");
    // Keep this build: the binary of the release at 0007.
    let old = f.path("blog-app-0007");
    std::fs::copy(target_dir().join("debug/blog-app"), &old).expect("copy the binary");
    let compatible = "revision = \"0008\"\ndown_revision = \"0007\"\nmessage = \"nicknames\"\n\n[[upgrade]]\nop = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"nickname\", type = \"text\", nullable = true }\n\n[[downgrade]]\nop = \"drop_column\"\ntable = \"users\"\ncolumn = { name = \"nickname\", type = \"text\", nullable = true }\n";
    let breaking = "revision = \"0009\"\ndown_revision = \"0008\"\nmessage = \"no bios\"\n\n[[upgrade]]\nop = \"drop_column\"\ntable = \"users\"\ncolumn = { name = \"bio\", type = \"text\", nullable = true }\n\n[[downgrade]]\nop = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"bio\", type = \"text\", nullable = true }\n";
    for db in TestDb::both("schema_first") {
        let url = db.url();
        let run = |args: &[&str]| {
            Command::new(&old)
                .args(args)
                .env("DATABASE_URL", &url)
                .output()
                .expect("run the old binary")
        };
        let out = run(&["add-user", "ann@example.com", "Ann"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        f.write("models/migrations/20251124_0008_nicknames.toml", compatible);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let recorded = db.rows("SELECT breaking FROM _schema_history WHERE revision = '0008'");
        assert!(
            matches!(recorded[0][0].as_str(), "f" | "0"),
            "0008 is recorded as compatible: {recorded:?}"
        );
        let out = run(&["posts"]);
        assert!(
            out.status.success(),
            "the old binary starts on a compatible schema: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&["add-user", "bob@example.com", "Bob"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        f.write("models/migrations/20251124_0009_no_bios.toml", breaking);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let out = run(&["posts"]);
        assert!(!out.status.success(), "the old binary must refuse");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("0009 is breaking"), "{err}");
        // The CLI of the old files refuses as before and says which is which.
        std::fs::remove_file(f.path("models/migrations/20251124_0009_no_bios.toml")).expect("rm");
        std::fs::remove_file(f.path("models/migrations/20251124_0008_nicknames.toml")).expect("rm");
        let r = f.schema(&["upgrade", "--database-url", &url]);
        r.expect(2);
        assert!(
            r.stderr().contains("0008 (compatible)") && r.stderr().contains("0009 (breaking)"),
            "{}",
            r.stderr()
        );
    }
}
