//! `nono setup --check`: what this machine can enforce and trace. Exits 1 when
//! Landlock is unavailable (nono cannot enforce filesystem rules here).

use std::process::ExitCode;

use serde::Serialize;

use crate::CmdResult;
use crate::cli::SetupArgs;
use crate::output::{Style, print_json};

#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    enforce: nono_enforcer::support::SupportReport,
    #[serde(flatten)]
    trace: nono_tracer::support::TraceSupport,
}

/// Runs `nono setup`.
pub fn run(args: SetupArgs) -> CmdResult {
    // `--check` is the only mode: nono needs no installation step on Linux.
    let _ = args.check;
    let report = Report {
        enforce: nono_enforcer::support::probe(),
        trace: nono_tracer::support::probe(),
    };
    let code = if report.enforce.landlock.available {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if args.json {
        print_json(&report)?;
        return Ok(code);
    }
    let style = Style::stdout();
    let e = &report.enforce;
    let t = &report.trace;
    println!(
        "{}",
        style.bold(&format!("nono on {} (kernel {})", e.platform, e.kernel))
    );
    let line = |name: &str, ok: bool, detail: &str| {
        let mark = if ok {
            style.ok("yes")
        } else {
            style.bad("no ")
        };
        println!("  {name:16} {mark}  {detail}");
    };
    line("Landlock", e.landlock.available, &e.landlock.detail);
    if e.landlock.available {
        println!(
            "  {:16}       filesystem rights: {}",
            "",
            e.landlock.fs_rights.join(", ")
        );
        let mut extra = Vec::new();
        if e.landlock.net_tcp {
            extra.push("TCP bind/connect rules");
        }
        if e.landlock.scope_abstract_unix {
            extra.push("abstract unix socket scoping");
        }
        if e.landlock.scope_signal {
            extra.push("signal scoping");
        }
        if !extra.is_empty() {
            println!("  {:16}       also: {}", "", extra.join(", "));
        }
    }
    line("seccomp", e.seccomp.available, &e.seccomp.detail);
    line(
        "user namespaces",
        e.user_namespaces.unprivileged,
        &e.user_namespaces.detail,
    );
    line("ptrace", t.ptrace.available, &t.ptrace.detail);
    line("eBPF", t.ebpf.available, &t.ebpf.detail);
    if !e.landlock.available {
        println!();
        println!(
            "{} without Landlock nono cannot enforce filesystem rules here.",
            style.warn("warning:")
        );
    }
    Ok(code)
}
