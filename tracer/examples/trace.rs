//! Traces a command with the ptrace backend (or, with `--ebpf`, the eBPF backend) and
//! writes its events as JSON lines.
//!
//! ```text
//! cargo run -p nono-tracer --example trace -- [--ebpf] [--out FILE] PROGRAM [ARGS...]
//! ```
//!
//! Events go to FILE (default: discarded, only the summary is printed); a summary goes to
//! standard error. The exit status is the command's.

use std::ffi::OsString;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn main() -> ExitCode {
    use nono_tracer::ptrace::{self, TraceCommand};

    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let ebpf = args.first().is_some_and(|a| a == "--ebpf");
    if ebpf {
        args.remove(0);
    }
    let mut out = None;
    if args.first().is_some_and(|a| a == "--out") && args.len() > 1 {
        out = Some(PathBuf::from(args.remove(1)));
        args.remove(0);
    }
    let Some(program) = args.first().and_then(|p| resolve(Path::new(p))) else {
        eprintln!("usage: trace [--ebpf] [--out FILE] PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let cmd = TraceCommand::new(program, args);
    let (sink, events) = mpsc::channel();
    let writer = std::thread::spawn(move || -> std::io::Result<u64> {
        let mut file = match out {
            Some(path) => Some(BufWriter::new(std::fs::File::create(path)?)),
            None => None,
        };
        let mut count = 0;
        for event in events {
            count += 1;
            if let Some(file) = file.as_mut() {
                serde_json::to_writer(&mut *file, &event)?;
                file.write_all(b"\n")?;
            }
        }
        if let Some(mut file) = file {
            file.flush()?;
        }
        Ok(count)
    });
    let outcome = if ebpf {
        nono_tracer::ebpf::trace(cmd, sink).map_err(|e| e.to_string())
    } else {
        ptrace::trace(cmd, sink).map_err(|e| e.to_string())
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("trace: {err}");
            return ExitCode::from(125);
        }
    };
    match writer.join() {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => eprintln!("trace: writing events: {err}"),
        Err(_) => eprintln!("trace: the writer panicked"),
    }
    eprintln!(
        "trace: exit {} after {:.3}s, {} events, {} dropped{}",
        outcome.exit_code,
        outcome.duration.as_secs_f64(),
        outcome.events,
        outcome.dropped,
        if outcome.timed_out { ", timed out" } else { "" }
    );
    ExitCode::from(outcome.exit_code.clamp(0, 255) as u8)
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn main() -> ExitCode {
    eprintln!("the ptrace backend needs Linux on x86-64 or aarch64");
    ExitCode::from(125)
}

/// `program` if it contains a slash, else the first match in `PATH`.
fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
