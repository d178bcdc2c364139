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
