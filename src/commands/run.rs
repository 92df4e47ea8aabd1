//! `nono run` (supervised child) and `nono wrap` (sandbox self, then exec).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use nono_enforcer::capability::{Access, NetworkMode, Source};
use nono_enforcer::env;
use nono_enforcer::exec::{CommandSpec, ExecError};
use nono_enforcer::facade::ExecInPlaceError;
use nono_enforcer::plan::cache::PlanCache;
use nono_enforcer::plan::{EntryKind, Rule, SkipReason};
use nono_enforcer::sandbox::{self, Enforcement, SandboxOptions};
use nono_enforcer::{PreparedSandbox, Sandbox};
use serde::Serialize;

use crate::cli::RunArgs;
use crate::context;
use crate::output::{Style, print_json};
use crate::{CmdResult, Failure, usage};

/// Supervised child or exec in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `nono run`.
    Supervised,
    /// `nono wrap`.
    Wrap,
}

/// Runs `nono run` or `nono wrap`.
pub fn run(args: RunArgs, mode: Mode) -> CmdResult {
    let builder = context::builder(&args.sandbox)?;
    let state_dir = context::Dirs::new(builder.vars()).state;
    let cache = PlanCache::new(&state_dir);
    let options = SandboxOptions {
        mount_view: !args.no_mount_view,
        single_threaded: true,
        guard_metadata: true,
        state_dir: Some(state_dir),
        masks_only: false,
        isolate_processes: true,
        exec_in_place: mode == Mode::Wrap,
    };
    let sandbox = context::plan(builder.options(options).plan_cache(cache))?;
    refuse_withheld_flags(&sandbox)?;
    let filtered = env::filter(std::env::vars_os(), &sandbox.caps().environment);
    if args.dry_run {
        return dry_run(&args, &sandbox, &filtered);
    }
    let workdir = sandbox.caps().workdir.clone();
    let mut prepared = sandbox
        .prepare()
        .map_err(|e| context::sandbox_failure(e, sandbox.vars()))?;
    crate::timing::mark("sandbox prepared");
    let report = prepared.report().clone();
    if report.sockets_unhidden && !args.allow_unhidden_sockets {
        return Err(Failure::from(anyhow!(
            "no mount view can be built here{}, so pathname sockets outside the grants \
             (docker.sock, ssh and gpg agents, D-Bus) would stay connectable: Landlock before \
             ABI 9 does not mediate connecting to them. Pass --allow-unhidden-sockets to run \
             anyway",
            if args.no_mount_view {
                " (--no-mount-view)"
            } else {
                ""
            }
        )));
    }
    let style = Style::stderr();
    if report.enforcement != Enforcement::Full {
        if args.require_full {
            return Err(Failure::from(anyhow!("--require-full: {report}")));
        }
        eprintln!("{} {report}", style.warn("nono:"));
    } else if !args.quiet {
        eprintln!("{}", style.dim(&format!("nono: {report}")));
    }
    warn_git_credentials(&sandbox, &style);
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let spec = CommandSpec {
        program: program.clone(),
        args: rest.to_vec(),
        env: filtered.vars.clone(),
        cwd: workdir,
    };
    let path = PreparedSandbox::resolve_program(&spec).map_err(exec_failure)?;
    if args.snapshot.snapshot && mode == Mode::Wrap {
        return Err(usage(anyhow!(
            "--snapshot needs `nono run`: `nono wrap` leaves no supervisor to take the final snapshot"
        )));
    }
    // Baseline snapshot (and session) before the command starts; final one after it.
    let snapshots = super::session::begin(&args.snapshot, &sandbox, &args.command)?;
    match mode {
        Mode::Supervised => {
            // On a terminal, the command gets one of its own that nono relays: nothing
            // it leaves behind can take the user's terminal over.
            let relay = nono_enforcer::terminal::Relay::open().map_err(|e| {
                Failure::from(anyhow!(
                    "cannot open a pseudo-terminal for the command: {e}"
                ))
            })?;
            let child = match relay {
                Some(relay) => prepared.spawn_relayed(&spec, relay),
                None => prepared.spawn(&spec),
            }
            .map_err(exec_failure)?;
            crate::timing::mark("child started");
            let outcome = child.wait(None).map_err(exec_failure)?;
            crate::timing::mark("child exited");
            super::session::end(snapshots, outcome.code)?;
            // The process ends now: freeing the sandbox's description piece by piece
            // (thousands of paths and sources) would only delay the exit status.
            std::mem::forget(sandbox);
            Ok(ExitCode::from(outcome.code.clamp(0, 255) as u8))
        }
        Mode::Wrap => {
            // The sandbox is applied, then exec replaces nono, keeping the process id.
            Err(match prepared.exec_resolved(&path, &spec) {
                ExecInPlaceError::Exec(e) => exec_failure(e),
                other => Failure::from(anyhow::Error::from(other)),
            })
        }
    }
}

/// Says plainly when a git configuration the sandbox lets the command read holds
/// credentials (`git_config` grants `~/.gitconfig`, which often embeds a token in a
/// URL or a helper): line numbers and setting names, never the secret. Not silenced by
/// `-q`: it is about what the sandbox exposes.
fn warn_git_credentials(sandbox: &Sandbox, style: &Style) {
    let vars = sandbox.vars();
    for file in [
        vars.home.join(".gitconfig"),
        vars.xdg_config_home.join("git/config"),
    ] {
        let Ok(canonical) = std::fs::canonicalize(&file) else {
            continue;
        };
        let Some(rule) = sandbox.plan().rules.iter().find(|r| match r.kind {
            EntryKind::Dir => canonical.starts_with(&r.path),
            EntryKind::File => canonical == r.path,
        }) else {
            continue;
        };
        if rule.access == Access::Write {
            continue;
        }
        // A configuration file is small; a huge one is not read whole.
        let Ok(meta) = std::fs::metadata(&canonical) else {
            continue;
        };
        if meta.len() > 1 << 20 {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&canonical) else {
            continue;
        };
        let found = nono_enforcer::gitconfig::findings(&text);
        if found.is_empty() {
            continue;
        }
        let lines: Vec<String> = found
            .iter()
            .take(4)
            .map(|f| format!("line {} ({})", f.line, f.key))
            .collect();
        eprintln!(
            "{} {} holds {} credential{} that the command can read ({}{}; granted by {}); \
             keep tokens in a credential helper's store (~/.git-credentials stays denied) \
             or leave the grant out",
            style.warn("nono: warning:"),
            file.display(),
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            lines.join(", "),
            if found.len() > 4 { ", …" } else { "" },
            rule.source
        );
    }
}

fn exec_failure(error: ExecError) -> Failure {
    use std::os::unix::fs::PermissionsExt;
    let code = error.exit_code();
    if let ExecError::Exec { path, errno } = &error
        && *errno == libc::EACCES
        && let Ok(meta) = std::fs::metadata(path)
        && (!meta.is_file() || meta.permissions().mode() & 0o111 == 0)
    {
        let what = if meta.is_file() {
            "is not executable (no x bit: chmod +x it)"
        } else {
            "is not a regular file"
        };
        return Failure {
            code,
            error: anyhow!("{error}\n  hint: {} {what}", path.display()),
        };
    }
    let hint = match &error {
        ExecError::NotFound { .. } => {
            "\n  hint: check the name, or give its full path; the sandbox's PATH is used"
        }
        ExecError::Exec { errno, .. } if *errno == libc::EACCES => {
            "\n  hint: the sandbox may not grant read access to the program or its directory; ask `nono why --path PROGRAM`"
        }
        ExecError::Setup {
            step: sandbox::Step::PrivateProc,
            ..
        } => {
            "\n  hint: the kernel refuses a /proc of the sandbox's own where part of /proc is hidden (a container); `\"security\": {\"process_info_mode\": \"allow_all\"}` in the profile runs without the PID namespace"
        }
        _ => "",
    };
    Failure {
        code,
        error: anyhow!("{error}{hint}"),
    }
}

/// A command-line grant that a denial swallowed whole cannot be honoured by carving:
/// refuse rather than silently run with less than was asked for.
fn refuse_withheld_flags(sandbox: &Sandbox) -> Result<(), Failure> {
    for skipped in &sandbox.plan().skipped {
        if let (
            Source::Flag { flag, value, .. },
            SkipReason::Denied {
                denied,
                deny_source,
            },
        ) = (&skipped.source, &skipped.reason)
        {
            let what = match deny_source {
                Source::NonoState => "nono's own state".to_string(),
                other => other.to_string(),
            };
            return Err(usage(anyhow!(
                "{flag} {value} is inside {}, which is denied by {what}; it cannot be granted{}",
                denied.display(),
                match deny_source {
                    Source::Group { .. } =>
                        " (a profile can lift that denial as a whole with `filesystem.bypass_protection`)",
                    _ => "",
                }
            )));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct DryRun<'a> {
    command: Vec<String>,
    caps: &'a nono_enforcer::CapabilitySet,
    plan: &'a nono_enforcer::plan::Plan,
    environment: EnvReport,
}

#[derive(Serialize)]
struct EnvReport {
    passed: Vec<String>,
    stripped: Vec<(String, env::Stripped)>,
}

fn dry_run(args: &RunArgs, sandbox: &Sandbox, filtered: &env::Filtered) -> CmdResult {
    let command: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env_report = EnvReport {
        passed: filtered
            .vars
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect(),
        stripped: filtered
            .stripped
            .iter()
            .map(|(k, r)| (k.to_string_lossy().into_owned(), *r))
            .collect(),
    };
    if args.json {
        print_json(&DryRun {
            command,
            caps: sandbox.caps(),
            plan: sandbox.plan(),
            environment: env_report,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    print_plan(&command, sandbox, &env_report).map_err(anyhow::Error::from)?;
    Ok(ExitCode::SUCCESS)
}

fn access_tag(access: Access) -> &'static str {
    match access {
        Access::Read => "r ",
        Access::Write => " w",
        Access::ReadWrite => "rw",
    }
}

fn print_plan(
    command: &[String],
    sandbox: &Sandbox,
    env_report: &EnvReport,
) -> std::io::Result<()> {
    let style = Style::stdout();
    let mut out = std::io::stdout().lock();
    let caps = sandbox.caps();
    let plan = sandbox.plan();
    writeln!(out, "{} {}", style.bold("command:"), command.join(" "))?;
    writeln!(
        out,
        "{} {}",
        style.bold("profile:"),
        caps.profile_chain.join(" → ")
    )?;
    writeln!(out, "{} {}", style.bold("workdir:"), caps.workdir.display())?;
    writeln!(
        out,
        "{}",
        style.bold(&format!("filesystem rules ({}):", plan.rules.len()))
    )?;
    // Carved rules are shown once per carved grant.
    let mut carved: BTreeMap<(PathBuf, PathBuf, String, &'static str), usize> = BTreeMap::new();
    for rule in &plan.rules {
        match &rule.carved {
            Some(c) => {
                *carved
                    .entry((
                        c.granted.clone(),
                        c.denied.clone(),
                        rule.source.to_string(),
                        access_tag(rule.access),
                    ))
                    .or_default() += 1;
            }
            None => print_rule(&mut out, &style, rule)?,
        }
    }
    for ((granted, denied, source, access), count) in carved {
        writeln!(
            out,
            "  {access} dir  {}  {}",
            granted.display(),
            style.dim(&format!(
                "{source}; as its {count} entries, carved around {}",
                denied.display()
            ))
        )?;
    }
    if !plan.denies.is_empty() {
        writeln!(
            out,
            "{}",
            style.bold(&format!("denied ({}):", plan.denies.len()))
        )?;
        for deny in &plan.denies {
            writeln!(
                out,
                "  {}  {}",
                deny.path.display(),
                style.dim(&deny.source.to_string())
            )?;
        }
    }
    if !plan.masks.is_empty() {
        writeln!(
            out,
            "{}",
            style.bold(&format!("hidden by the mount view ({}):", plan.masks.len()))
        )?;
        for mask in &plan.masks {
            let kind = if mask.dir { "dir " } else { "file" };
            writeln!(
                out,
                "  {kind} {}  {}",
                mask.path.display(),
                style.dim(&mask.source.to_string())
            )?;
        }
    }
    if !plan.skipped.is_empty() {
        writeln!(
            out,
            "{}",
            style.bold(&format!("not granted ({}):", plan.skipped.len()))
        )?;
        for skip in &plan.skipped {
            let why = match &skip.reason {
                SkipReason::Missing => "does not exist".to_string(),
                SkipReason::Denied { denied, .. } => format!("inside denied {}", denied.display()),
            };
            writeln!(
                out,
                "  {}  {}",
                skip.path.display(),
                style.dim(&format!("{why}; {}", skip.source))
            )?;
        }
    }
    if let NetworkMode::Proxy { .. } = &caps.network.mode {
        writeln!(
            out,
            "{} `nono run` would refuse this sandbox: a host allowlist needs nono's network proxy, which is not part of this build (use --block-network or --allow-net)",
            style.warn("note:")
        )?;
    }
    let network = match &caps.network.mode {
        NetworkMode::Allowed => "unrestricted".to_string(),
        NetworkMode::Blocked { source } => format!("blocked ({source})"),
        NetworkMode::Proxy { hosts } => format!("through the proxy, {} hosts allowed", hosts.len()),
    };
    writeln!(out, "{} {network}", style.bold("network:"))?;
    if let NetworkMode::Proxy { hosts } = &caps.network.mode {
        for host in hosts {
            writeln!(
                out,
                "  {}  {}",
                host.pattern,
                style.dim(&host.source.to_string())
            )?;
        }
    }
    let stripped: Vec<String> = env_report
        .stripped
        .iter()
        .map(|(k, r)| {
            format!(
                "{k} ({})",
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )
        })
        .collect();
    writeln!(
        out,
        "{} {} variables passed, {} stripped{}{}",
        style.bold("environment:"),
        env_report.passed.len(),
        stripped.len(),
        if stripped.is_empty() { "" } else { ": " },
        stripped.join(", ")
    )?;
    for note in &caps.notes {
        writeln!(out, "{} {note}", style.warn("note:"))?;
    }
    Ok(())
}

fn print_rule(out: &mut impl Write, style: &Style, rule: &Rule) -> std::io::Result<()> {
    let kind = match rule.kind {
        EntryKind::Dir => "dir ",
        EntryKind::File => "file",
    };
    writeln!(
        out,
        "  {} {kind} {}  {}",
        access_tag(rule.access),
        rule.path.display(),
        style.dim(&rule.source.to_string())
    )
}
