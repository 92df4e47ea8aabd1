//! `nono`: run code you don't fully trust under kernel-enforced least privilege.
//!
//! This binary only parses the command line and composes the library crates
//! (`enforcer`, `tracer`, `tui`); see DESIGN.md. Exit codes are documented in
//! docs/cli.md.
//!
//! The binary has its own C entry point (`#![no_main]`, see [`main`]); that is its one
//! use of `unsafe` (an unmangled symbol), which is why `unsafe_code` is denied rather
//! than forbidden.
// Unit tests get the test harness's `main`.
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]

mod cli;
mod commands;
mod context;
mod flags;
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

/// The process's entry point, called by the C runtime in place of Rust's `main` shim.
///
/// The shim finds the main thread's stack by parsing `/proc/self/maps` and installs
/// signal handlers on an alternate stack, only to print a message on stack overflow:
/// about a tenth of a millisecond that `nono wrap` would pay on every start (measured
/// with a hello-world: 0.55 → 0.45 ms of CPU). What it does that matters is done here
/// instead: SIGPIPE ignored (a write to a closed pipe fails with `EPIPE`, which
/// [`nono_main`] reports as success), closed standard descriptors reopened on
/// `/dev/null`, a panic caught (exit code 101, after the panic message), and stdout
/// flushed at the end (by `std::process::exit`). `std::env::args` works as usual: glibc hands the arguments to
/// std before `main`.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    nono_enforcer::sandbox::sys::init_process();
    let code = std::panic::catch_unwind(nono_main).unwrap_or(ExitCode::from(101));
    // Flushes stdout if it was used (flushing it here would first set it up, with a
    // buffer whose allocation consolidates the heap: ~100k instructions).
    std::process::exit(exit_status(code))
}

#[cfg_attr(test, allow(dead_code))]
/// The number behind an exit code (`ExitCode` does not give it out on stable Rust).
fn exit_status(code: ExitCode) -> libc::c_int {
    (0..=u8::MAX)
        .find(|n| ExitCode::from(*n) == code)
        .map_or(1, libc::c_int::from)
}

#[cfg_attr(test, allow(dead_code))]
fn nono_main() -> ExitCode {
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
        Command::Proxy(args) => commands::proxy::run(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man => commands::completions::man(),
        Command::Session(cmd) => commands::session::run(cmd),
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
