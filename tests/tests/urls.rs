//! Every form of a database URL, through the commands' success and failure paths: the
//! password is found in no output.

use schema_e2e::{Fixture, TestDb};

/// A password with every character that splits a URL.
const PASSWORD: &str = "a/b?c:d";
const ENCODED: &str = "a%2Fb%3Fc%3Ad";

/// A form's name, its URL (none: the environment says), extra environment, and the exit
/// code of `upgrade`.
type Case = (
    &'static str,
    Option<String>,
    Vec<(&'static str, String)>,
    i32,
);

#[test]
fn no_url_form_prints_its_password() {
    let db = TestDb::postgres("urls");
    let url = db.url();
    // The test server's URL: postgres://postgres@localhost:PORT/DB[?host=...].
    let (port, dbname) = url
        .split("localhost:")
        .nth(1)
        .and_then(|r| r.split('?').next())
        .and_then(|r| r.split_once('/'))
        .map(|(p, d)| (p.to_string(), d.to_string()))
        .expect("port and database");
    db.execute(&format!(
        "DO $$ BEGIN CREATE ROLE url_user LOGIN SUPERUSER PASSWORD '{PASSWORD}'; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    ));
    let f = Fixture::new("blog");
    let good = format!("postgres://url_user:{ENCODED}@localhost:{port}/{dbname}");
    let cases: Vec<Case> = vec![
        ("encoded", Some(good.clone()), vec![], 0),
        (
            "encoded, wrong database",
            Some(format!(
                "postgres://url_user:{ENCODED}@localhost:{port}/no_such_db"
            )),
            vec![],
            3,
        ),
        (
            "unencoded / ? :",
            // tokio-postgres takes the userinfo up to the first `@`.
            Some(format!(
                "postgres://url_user:{PASSWORD}@localhost:{port}/{dbname}"
            )),
            vec![],
            0,
        ),
        (
            "?password=",
            Some(format!(
                "postgresql://url_user@localhost:{port}/{dbname}?password={ENCODED}"
            )),
            vec![],
            0,
        ),
        (
            "?Password= (unknown to the parser)",
            Some(format!(
                "postgresql://url_user@localhost:{port}/{dbname}?Password={ENCODED}"
            )),
            vec![],
            2,
        ),
        (
            "libpq key=value",
            Some(format!(
                "host=localhost port={port} user=url_user password='{PASSWORD}' dbname={dbname}"
            )),
            vec![],
            0,
        ),
        (
            "libpq key=value, wrong database",
            Some(format!(
                "host=localhost port={port} user=url_user password='{PASSWORD}' dbname=no_such_db"
            )),
            vec![],
            3,
        ),
        (
            "PG* variables",
            None,
            vec![
                ("PGHOST", "localhost".to_string()),
                ("PGPORT", port.clone()),
                ("PGUSER", "url_user".to_string()),
                ("PGPASSWORD", PASSWORD.to_string()),
                ("PGDATABASE", dbname.clone()),
            ],
            0,
        ),
        (
            "unencoded @",
            Some(format!(
                "postgres://url_user:p@{PASSWORD}@localhost:{port}/{dbname}"
            )),
            vec![],
            2,
        ),
        (
            "sqlite with credentials",
            Some(format!(
                "sqlite://url_user:{PASSWORD}@/nonexistent/dir/app.db"
            )),
            vec![],
            3,
        ),
    ];
    for (form, url, env, code) in &cases {
        let mut commands: Vec<Vec<&str>> = vec![
            vec!["upgrade"],
            vec!["current"],
            vec!["check", "--database"],
        ];
        for args in &mut commands {
            if let Some(u) = url {
                args.extend(["--database-url", u.as_str()]);
            }
        }
        for (i, args) in commands.iter().enumerate() {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = f.schema_env(args, &env);
            let out = format!("{}{}", r.stdout(), r.stderr());
            assert!(
                !out.contains(PASSWORD) && !out.contains(ENCODED) && !out.contains("p@a/b"),
                "{form} / {args:?}: a password in the output:\n{out}"
            );
            if i == 0 {
                assert_eq!(r.code(), *code, "{form}: {out}");
            }
        }
    }
    // The role stays (it owns this database's tables); the server is a throwaway one.
}
