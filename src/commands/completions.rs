//! `nono completions SHELL` and `nono man`.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::CmdResult;
use crate::cli::{Cli, CompletionsArgs};

/// Prints completions for a shell.
pub fn completions(args: CompletionsArgs) -> CmdResult {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "nono", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Prints the man page.
pub fn man() -> CmdResult {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = std::io::stdout().lock();
    page.render(&mut out).map_err(anyhow::Error::from)?;
    Ok(ExitCode::SUCCESS)
}
