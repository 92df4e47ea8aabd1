//! `nono`: run code you don't fully trust under kernel-enforced least privilege.
//!
//! This binary only parses the command line and composes the library crates
//! (`enforcer`, `tracer`, `tui`); see DESIGN.md. Exit codes are documented in
//! docs/cli.md.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod context;
mod output;
mod timing;

use std::io::Write;
use std::process::ExitCode;

use crate::cli::Command;

/// A failed command: the error and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

/// Exit code for bad input: a malformed profile, a missing file, an invalid flag.
pub const EXIT_USAGE: u8 = 2;

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure { code: 1, error }
    }
}

/// Wraps an error that is the user's input being wrong (exit code 2).
pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: error.into(),
    }
}

/// What a command returns.
pub type CmdResult = Result<ExitCode, Failure>;

fn main() -> ExitCode {
    timing::init();
    let cli = cli::parse();
    timing::mark("arguments parsed");
    let result = match cli.command {
        Command::Profiles(cmd) => commands::profiles::run(cmd),
        Command::Learn(args) => commands::learn::run(args),
        Command::Run(args) => commands::run::run(args, commands::run::Mode::Supervised),
        Command::Wrap(args) => commands::run::run(args, commands::run::Mode::Wrap),
        Command::Why(args) => commands::why::run(args),
        Command::Setup(args) => commands::setup::run(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man => commands::completions::man(),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            if is_broken_pipe(&failure.error) {
                return ExitCode::SUCCESS;
            }
            let style = output::Style::stderr();
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{} {}", style.error("error:"), failure.error);
            for cause in failure.error.chain().skip(1) {
                let _ = writeln!(stderr, "  caused by: {cause}");
            }
            ExitCode::from(failure.code)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind);
        io.or(json) == Some(std::io::ErrorKind::BrokenPipe)
    })
}
