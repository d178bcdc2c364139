//! Fuzz-style cases in the normal test run: arbitrary bytes and structured mutations of a
//! revision file and of a model source, run in process through the CLI's library entry.
//! Whatever the input, no panic: `check` ends with 0, 1 or an input error (2), and the
//! file's own parser names the file (and a line where there is one).

use std::path::Path;

use schema_e2e::Fixture;

/// xorshift64*: deterministic, so a failure names a case that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Text that reaches places a user writes: hostile SQL, quotes, nesting, control bytes.
const SNIPPETS: &[&str] = &[
    "'; DROP TABLE users; --",
    "\"",
    "'",
    "]]",
    "[[upgrade]]",
    "op = \"drop_table\"",
    "type = \"text; DROP TABLE x\"",
    "expr = \"1=1) --\"",
    "\u{feff}",
    "\r\n",
    "\0",
    "Option<Option<Option<i64>>>",
    "#[column(",
    ")]",
    "{{{{",
    "🦀",
    "9999999999999999999999",
    "-1",
    "\\",
];

/// One mutation of `text`: arbitrary bytes, or an edit of its structure.
fn mutate(rng: &mut Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let lines: Vec<&str> = text.lines().collect();
    match rng.below(7) {
        // Arbitrary bytes.
        0 => (0..rng.below(400)).map(|_| rng.next() as u8).collect(),
        // Truncated anywhere.
        1 => {
            bytes.truncate(rng.below(bytes.len()));
            bytes
        }
        // Random bytes flipped in place.
        2 => {
            for _ in 0..=rng.below(8) {
                let i = rng.below(bytes.len());
                if let Some(b) = bytes.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            bytes
        }
        // A line deleted or duplicated.
        3 => {
            let i = rng.below(lines.len());
            let mut out: Vec<&str> = lines.clone();
            if rng.below(2) == 0 {
                out.remove(i.min(out.len().saturating_sub(1)));
            } else {
                out.insert(i, lines[i.min(lines.len() - 1)]);
            }
            out.join("\n").into_bytes()
        }
        // A snippet inserted at a random place.
        4 | 5 => {
            let at = rng.below(bytes.len());
            let snippet = SNIPPETS[rng.below(SNIPPETS.len())].as_bytes();
            bytes.splice(at..at, snippet.iter().copied());
            bytes
        }
        // A quoted value replaced by a snippet.
        _ => {
            let quoted: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
            if quoted.len() < 2 {
                return bytes;
            }
            let k = rng.below(quoted.len() - 1);
            let (a, b) = (quoted[k] + 1, quoted[k + 1]);
            let snippet = SNIPPETS[rng.below(SNIPPETS.len())].as_bytes();
            bytes.splice(a..b, snippet.iter().copied());
            bytes
        }
    }
}

/// Runs `cargo schema check` in process; a panic fails the case.
fn check(f: &Fixture) -> i32 {
    let manifest = f.path("Cargo.toml");
    let args = vec![
        "cargo-schema".into(),
        "check".into(),
        "--manifest-path".into(),
        manifest.into_os_string(),
        "-q".into(),
    ];
    std::panic::catch_unwind(|| cargo_schema::run(args)).unwrap_or(101)
}

/// Runs the cases; returns how many ended in an input error.
fn run_cases(
    f: &Fixture,
    rel: &str,
    seed: u64,
    cases: usize,
    parse_alone: impl Fn(&Path, &[u8]),
) -> usize {
    let original = f.read(rel);
    let path = f.path(rel);
    let mut rng = Rng(seed);
    let mut input_errors = 0;
    for case in 0..cases {
        let mutated = mutate(&mut rng, &original);
        std::fs::write(&path, &mutated).expect("write");
        parse_alone(&path, &mutated);
        let code = check(f);
        assert!(
            matches!(code, 0..=2),
            "case {case} (seed {seed}) of {rel}: exit {code}\n{}",
            String::from_utf8_lossy(&mutated)
        );
        input_errors += usize::from(code == 2);
    }
    std::fs::write(&path, original).expect("restore");
    input_errors
}

#[test]
fn mutated_revision_files_never_panic_and_errors_name_the_file() {
    let f = Fixture::new("blog");
    let rel = "models/migrations/20251123_0007_user_karma.toml";
    let refused = run_cases(&f, rel, 0x5eed_0001, 128, |path, bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        if let Err(e) = schema_core::file::parse(text, path) {
            assert_eq!(e.path, path, "{e}");
            assert!(
                e.to_string().starts_with(&path.display().to_string()),
                "{e}"
            );
        }
    });
    assert!(refused > 32, "only {refused} of 128 mutations were refused");
}

#[test]
fn mutated_model_sources_never_panic_and_errors_name_file_and_line() {
    let f = Fixture::new("blog");
    let rel = "models/src/users.rs";
    let settings = schema_core::manifest::ModelSettings::default();
    let refused = run_cases(&f, rel, 0x5eed_0002, 128, |path, bytes| {
        let root = path.with_file_name("lib.rs");
        if let Err(errors) =
            schema_syntax::source::crate_models(&root, &settings, &Default::default(), &[])
        {
            for e in errors {
                assert!(
                    !e.path.as_os_str().is_empty()
                        && (e.line > 0 || std::str::from_utf8(bytes).is_err()),
                    "an error without a location: {e}"
                );
            }
        }
    });
    assert!(refused > 32, "only {refused} of 128 mutations were refused");
}
