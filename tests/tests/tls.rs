//! TLS follows `sslmode` as libpq does, against a throwaway server with a self-signed
//! certificate, and against one without TLS.

use std::path::Path;
use std::process::Command;

use schema::testing::PgCluster;
use schema_e2e::{Fixture, TestDb};

/// A self-signed certificate for `localhost`, readable by the server.
fn make_certificate(dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(dir.join("server.crt"))
        .output()
        .expect("openssl runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let chown = |p: &Path| {
        // The server runs as `postgres` when the tests run as root.
        let _ = Command::new("chown").arg("postgres:").arg(p).status();
    };
    chown(dir);
    chown(&dir.join("server.key"));
    chown(&dir.join("server.crt"));
    let _ = Command::new("chmod")
        .arg("600")
        .arg(dir.join("server.key"))
        .status();
}

/// Stops the server and removes the certificates however the test ends.
struct Stop<'a>(&'a PgCluster, std::path::PathBuf);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.stop();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[test]
fn sslmode_is_honoured_like_libpq() {
    let certs = std::env::temp_dir().join(format!("schema-tls-{}", std::process::id()));
    make_certificate(&certs);
    let crt = certs.join("server.crt");
    let cluster = PgCluster::start_with(&format!(
        "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        crt.display(),
        certs.join("server.key").display()
    ))
    .expect("a server with TLS");
    let _stop = Stop(&cluster, certs.clone());
    let rt = schema_e2e::runtime();
    let admin = schema_e2e::pg_connect(&rt, &cluster.url("postgres"));
    for sql in [
        "CREATE ROLE tls_user LOGIN SUPERUSER PASSWORD 'tls-secret'",
        "CREATE DATABASE tls_app",
    ] {
        rt.block_on(admin.batch_execute(sql)).expect(sql);
    }
    let url = |host: &str, params: &str| {
        format!(
            "postgres://tls_user:tls-secret@{host}:{}/tls_app?{params}",
            cluster.port
        )
    };
    let f = Fixture::new("blog");
    let run = |args: &[&str]| {
        let r = f.schema(args);
        let out = format!("{}{}", r.stdout(), r.stderr());
        assert!(
            !out.contains("tls-secret"),
            "a password in the output: {out}"
        );
        r
    };
    let root = format!("sslrootcert={}", crt.display());
    // require: encrypted, certificate not checked.
    run(&[
        "upgrade",
        "--database-url",
        &url("localhost", "sslmode=require"),
    ])
    .expect(0);
    // verify-full: the certificate is checked against the root and the host name.
    let r = run(&[
        "current",
        "--database-url",
        &url("localhost", &format!("sslmode=verify-full&{root}")),
    ]);
    r.expect(0);
    assert!(r.stdout().contains("0007"), "{}", r.stdout());
    // verify-ca checks the chain only, so another name for the host is fine ...
    run(&[
        "current",
        "--database-url",
        &url("127.0.0.1", &format!("sslmode=verify-ca&{root}")),
    ])
    .expect(0);
    // ... and verify-full refuses it.
    let r = run(&[
        "current",
        "--database-url",
        &url("127.0.0.1", &format!("sslmode=verify-full&{root}")),
    ]);
    r.expect(3);
    assert!(r.stderr().contains("cannot connect"), "{}", r.stderr());
    // verify-full without the server's CA: a clear input error.
    let r = run(&[
        "current",
        "--database-url",
        &url(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
        ),
    ]);
    r.expect(2);
    assert!(
        r.stderr().contains("/nonexistent/root.crt"),
        "{}",
        r.stderr()
    );
    // A libpq key=value string says the same.
    run(&[
        "current",
        "--database-url",
        &format!(
            "host=localhost port={} user=tls_user password=tls-secret dbname=tls_app sslmode=verify-full {root}",
            cluster.port
        ),
    ])
    .expect(0);
    // An unknown mode is an input error.
    run(&[
        "current",
        "--database-url",
        &url("localhost", "sslmode=always"),
    ])
    .expect(2);
    drop(admin);

    // A server without TLS: require fails clearly, prefer falls back.
    let plain_db = TestDb::postgres("no-tls");
    let plain = plain_db.url();
    let port = plain
        .split("localhost:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("port")
        .to_string();
    let db = TestDb::Postgres(plain.clone());
    db.execute("DO $$ BEGIN CREATE ROLE plain_user LOGIN SUPERUSER PASSWORD 'plain-secret'; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    let plain_url = |mode: &str| {
        format!("postgres://plain_user:plain-secret@localhost:{port}/postgres?sslmode={mode}")
    };
    let r = run(&["current", "--database-url", &plain_url("require")]);
    r.expect(3);
    assert!(r.stderr().contains("TLS"), "{}", r.stderr());
    run(&["current", "--database-url", &plain_url("prefer")]).expect(0);
    run(&["current", "--database-url", &plain_url("disable")]).expect(0);
    db.execute("DROP ROLE plain_user");
}
