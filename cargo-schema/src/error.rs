//! The CLI's errors and the exit codes they map to.

use std::fmt;

/// Exit codes: 0 success, 1 a check found a difference, 2 usage or input error,
/// 3 a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    Success = 0,
    Difference = 1,
    Input = 2,
    Database = 3,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, bad files, bad models: the user must fix something.
    #[error("{0}")]
    Input(String),
    /// The database refused or could not be reached.
    #[error("{0}")]
    Database(String),
    /// A check found a difference; the details were printed already.
    #[error("{0}")]
    Difference(String),
}

impl CliError {
    pub fn input(msg: impl fmt::Display) -> CliError {
        CliError::Input(msg.to_string())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Input(_) => ExitCode::Input,
            CliError::Database(_) => ExitCode::Database,
            CliError::Difference(_) => ExitCode::Difference,
        }
    }
}

impl From<schema_core::resolver::ResolveError> for CliError {
    fn from(e: schema_core::resolver::ResolveError) -> Self {
        CliError::Input(e.to_string())
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
