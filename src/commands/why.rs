//! `nono why`: would a path or host be allowed, and why.
//!
//! Exit status: 0 when allowed, 1 when denied, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use nono_enforcer::capability::Access;
use nono_enforcer::plan::RealFs;
use nono_enforcer::query::{self, Status};

use crate::CmdResult;
use crate::cli::{Op, WhyArgs};
use crate::context;
use crate::flags;
use crate::output::{Style, print_json};

/// Runs `nono why`.
pub fn run(args: WhyArgs) -> CmdResult {
    let sandbox = context::sandbox(&args.sandbox)?;
    let style = Style::stdout();
    let status = if let Some(host) = &args.host {
        let answer = query::query_host(sandbox.caps(), host, args.port);
        let suggested_flag = answer.suggestion.as_ref().map(flags::suggestion);
        if args.json {
            print_json(&WithFlag {
                answer: &answer,
                suggested_flag,
            })?;
        } else {
            println!(
                "{} connect {}:{}",
                verdict(&style, answer.status),
                answer.host,
                answer.port
            );
            println!(
                "  reason: {} — {}",
                serde_name(&answer.reason),
                answer.detail
            );
            if let Some(flag) = &suggested_flag {
                println!("  to allow: {flag}");
            }
        }
        answer.status
    } else {
        let raw = args.path.clone().unwrap_or_default();
        let path = expand_path(sandbox.vars(), raw);
        let op = match args.op {
            Op::Read => Access::Read,
            Op::Write => Access::Write,
            Op::Readwrite => Access::ReadWrite,
        };
        let answer = query::query_path(sandbox.plan(), &RealFs, &path, op);
        let suggested_flag = answer.suggestion.as_ref().map(flags::suggestion);
        if args.json {
            print_json(&WithFlag {
                answer: &answer,
                suggested_flag,
            })?;
        } else {
            println!(
                "{} {} {}",
                verdict(&style, answer.status),
                answer.op,
                answer.path.display()
            );
            if answer.canonical != answer.path {
                println!(
                    "  {}",
                    style.dim(&format!("resolves to {}", answer.canonical.display()))
                );
            }
            println!(
                "  reason: {} — {}",
                serde_name(&answer.reason),
                answer.detail
            );
            if let Some(flag) = &suggested_flag {
                println!("  to allow: {flag}");
            }
        }
        answer.status
    };
    Ok(match status {
        Status::Allowed => ExitCode::SUCCESS,
        Status::Denied => ExitCode::from(1),
    })
}

/// An answer with what would allow it, as a flag.
#[derive(serde::Serialize)]
struct WithFlag<'a, T: serde::Serialize> {
    #[serde(flatten)]
    answer: &'a T,
    /// A flag that would allow it, when one can.
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_flag: Option<String>,
}

fn verdict(style: &Style, status: Status) -> String {
    match status {
        Status::Allowed => style.ok("ALLOWED"),
        Status::Denied => style.bad("DENIED"),
    }
}

fn serde_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `~` and variables are expanded as in profiles (a quoted `~` reaches us unexpanded);
/// relative paths are relative to the working directory.
fn expand_path(vars: &nono_enforcer::PathVars, raw: PathBuf) -> PathBuf {
    match raw.to_str() {
        Some(s) => vars
            .expand(s, Some(&vars.workdir))
            .unwrap_or_else(|_| vars.workdir.join(&raw)),
        None => vars.workdir.join(raw),
    }
}
