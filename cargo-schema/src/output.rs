//! How the CLI prints: human text (with optional colour) or JSON, quiet or verbose.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Output {
    pub fn new(format: Format, color: ColorChoice, quiet: bool, verbose: bool) -> Output {
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Output {
            format,
            color,
            quiet,
            verbose,
        }
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// A line of normal output (stdout), unless quiet.
    pub fn say(&self, s: impl AsRef<str>) {
        if !self.quiet {
            stdout(&format!("{}\n", s.as_ref()));
        }
    }

    pub fn warn(&self, s: impl AsRef<str>) {
        eprintln!("{} {}", self.paint("33;1", "warning:"), s.as_ref());
    }

    pub fn error(&self, s: impl AsRef<str>) {
        eprintln!("{} {}", self.paint("31;1", "error:"), s.as_ref());
    }

    /// One JSON document on one line (for streams: one per target).
    pub fn json_line(&self, v: &serde_json::Value) {
        stdout(&format!("{v}\n"));
    }

    pub fn print_json(&self, v: &serde_json::Value) {
        stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(v).unwrap_or_default()
        ));
    }
}

/// Writes text to standard output as it is. A reader that went away (`history | head
/// -1`) is not an error of ours: the rest of the output is dropped instead of panicking.
pub fn stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// What the CLI shows while an upgrade runs: on a terminal, a progress bar (revision n of
/// N, the current one, elapsed); with `-v`, each step with its time. Nothing on a pipe,
/// with `--format json` or `-q`, apart from `-v`'s lines.
pub struct RunProgress {
    bar: Option<indicatif::ProgressBar>,
    verbose: bool,
}

impl RunProgress {
    pub fn for_output(out: &Output) -> Option<schema::runner::Observer> {
        let human = out.format == Format::Human && !out.quiet;
        let terminal = std::io::stderr().is_terminal();
        if !(human && (terminal || out.verbose)) {
            return None;
        }
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::hidden();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} revision {pos}/{len} {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Some(schema::runner::Observer(std::sync::Arc::new(RunProgress {
            bar,
            verbose: out.verbose,
        })))
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

impl schema::runner::RunObserver for RunProgress {
    fn revision_started(&self, n: usize, total: usize, id: &str) {
        if let Some(bar) = &self.bar {
            // A bar for many revisions; one or two need none.
            if total > 2 && bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(total as u64);
            bar.set_position((n - 1) as u64);
            bar.set_message(id.to_string());
        }
        if self.verbose {
            self.line(format!("revision {id} ({n} of {total})"));
        }
    }

    fn wants_steps(&self) -> bool {
        self.verbose
    }

    fn step_done(&self, statements: &[String], elapsed: std::time::Duration) {
        for (i, s) in statements.iter().enumerate() {
            let first = s.lines().next().unwrap_or("");
            let time = if i == 0 {
                format!("{:>9.1} ms", elapsed.as_secs_f64() * 1000.0)
            } else {
                " ".repeat(12)
            };
            self.line(format!("  {time}  {first}"));
        }
    }

    fn finished(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
