//! The one error type of the console crate: what stops it from starting
//! (bad options, an unreadable users file, a port in use) and what the
//! core reports. Messages name the option or field and its value.

use std::path::PathBuf;

/// Everything that can keep the console from running.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// An option has a value that is not allowed.
    #[error("invalid {option} `{value}`: {reason}")]
    InvalidOption {
        /// The option as typed on the command line (e.g. `--listen`).
        option: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The users file (`--auth`) cannot be read or has a bad line.
    #[error("users file {}: {reason}", path.display())]
    UsersFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line number when there is one.
        reason: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The core refused (history URL, registry options).
    #[error(transparent)]
    Core(#[from] elasticjob::Error),
}

impl ConsoleError {
    /// Shorthand for [`ConsoleError::InvalidOption`].
    pub fn option(option: &str, value: impl ToString, reason: impl Into<String>) -> Self {
        ConsoleError::InvalidOption {
            option: option.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
