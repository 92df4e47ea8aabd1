//! `nono learn`: trace a command and suggest the least privilege it needs.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};
use nono_enforcer::capability::{self, Overrides};
use nono_enforcer::plan::{self, CachingFs};
use nono_enforcer::session::{self, Session, SessionKind};
use nono_enforcer::{env, exec};
use nono_tracer::ptrace::TraceCommand;
use nono_tui::review::{self};

use crate::cli::LearnArgs;

use crate::context::{self, Dirs};
use crate::output::Style;
use crate::{CmdResult, Failure, usage};

use base::{learn_context, no_create_warning};
use batch::Batch;
use files::check_output;
use interactive::Review;
use safety_net::{SafetyNetInput, safety_net};
use tracer::{Tracer, end_failed_session};

mod base;
mod batch;
mod canon;
mod files;
mod interactive;
mod safety_net;
mod tracer;

/// Runs `nono learn`.
pub fn run(args: LearnArgs) -> CmdResult {
    let style = Style::stderr();
    // Where the profile and the report go is checked before the command runs, for the
    // review screen and --no-tui alike: a typo must not cost a whole trace.
    if let Some(output) = &args.output {
        check_output(output, args.force, "--output")?;
    }
    if let Some(report) = &args.report {
        check_output(report, true, "--report")?;
    }
    warn_if_sudo(&style);
    let cwd = context::current_dir()?;
    let workdir = match &args.workdir {
        Some(dir) => cwd.join(dir),
        None => cwd.clone(),
    };
    let vars = context::vars(workdir.clone());
    let dirs = Dirs::new(&vars);
    // Loading the eBPF programs (~13 ms, mostly the kernel verifying them) overlaps
    // with the rest of the set-up; what it says is printed when it is done.
    let loading = {
        let (backend, state_dir) = (args.backend, dirs.state.clone());
        std::thread::Builder::new()
            .name("nono-ebpf-load".into())
            .spawn(move || Tracer::choose(backend, &state_dir))
            .context("cannot start a thread")?
    };
    let store = context::store(&vars);
    let profile = store.load(&args.profile).map_err(usage)?;
    crate::timing::mark("profile loaded");
    let nono_state = vec![dirs.config.clone(), dirs.state.clone()];

    // The base profile's view: what counts as granted, and what is sensitive.
    let base_overrides = Overrides {
        nono_state: nono_state.clone(),
        allow_network: true,
        ..Overrides::default()
    };
    let base_caps =
        capability::resolve(&profile, &base_overrides, &vars, store.policy()).map_err(usage)?;
    let fs = CachingFs::new();
    let base_plan = plan::plan(&base_caps, &fs).map_err(|e| context::plan_failure(e, &vars))?;
    let mut ctx = learn_context(&base_caps, &base_plan, store.policy(), &vars, &fs);
    crate::timing::mark("base plan");

    // The command, its environment (filtered like `nono run`), and the safety net.
    let filtered = env::filter(std::env::vars_os(), &base_caps.environment);
    let mut trace_cmd = trace_command(&args, filtered.vars.clone(), &workdir)?;
    let mut enforcement = None;
    let mut net_warning = None;
    if args.no_safety_net {
        eprintln!(
            "{} --no-safety-net: the command runs with your full access while it is traced",
            style.warn("nono: warning:")
        );
    } else {
        let net = safety_net(SafetyNetInput {
            profile: &profile,
            store: &store,
            vars: &vars,
            fs: &fs,
            nono_state,
            state_dir: dirs.state.clone(),
        })?;
        ctx.net_no_create = net.no_create;
        net_warning = no_create_warning(&ctx.net_no_create, &vars.home, &workdir);
        enforcement = Some(net.enforcement);
        trace_cmd.pre_exec = Some(net.hook);
    }

    // In a terminal (and without --no-tui or --json), the review screen: the command
    // runs on a pseudo-terminal whose output the screen shows. Its side is attached in
    // the child before the safety net is applied (the hook below runs first).
    let interactive = !args.no_tui
        && !args.json
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal();
    let pty = if interactive {
        Some(attach_pty(&mut trace_cmd)?)
    } else {
        None
    };

    // The session is created while the programs load (writing session.json waits for
    // the disk); it is saved again, with the backend, once that is known.
    let command: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut session = Session::create(
        &session::sessions_dir(&vars.xdg_state_home),
        SessionKind::Learn,
        command.clone(),
        workdir.clone(),
    )
    .context("cannot record the session")?;
    session.info.profile = Some(profile.name.clone());
    session.info.enforcement = enforcement.clone();
    crate::timing::mark("set up");
    let loaded = match loading.join() {
        Ok(result) => result,
        Err(_) => Err(anyhow!("loading the tracer panicked").into()),
    };
    let (tracer, chosen) = match loaded {
        Ok(loaded) => loaded,
        Err(failure) => {
            // No tracer, so nothing ran.
            end_failed_session(session, 0);
            return Err(failure);
        }
    };
    if !chosen.is_empty() {
        eprintln!("{}", style.dim(&chosen));
    }
    if let Some(line) = &enforcement {
        eprintln!("{}", style.dim(&format!("nono: {line}")));
    }
    if let Some(line) = &net_warning {
        eprintln!("{} {line}", style.warn("nono: note:"));
    }
    session.info.backend = Some(tracer.name().into());
    session.save().context("cannot record the session")?;
    if let Some(master) = pty {
        let review = Review {
            base: profile.name.clone(),
            profiles_dir: store.user_dir().to_path_buf(),
            cwd,
            command,
        };
        return review.run(tracer, trace_cmd, session, ctx, master, &args, style);
    }

    Batch {
        base: profile.name.clone(),
        profiles_dir: store.user_dir().to_path_buf(),
        command,
    }
    .run(tracer, trace_cmd, session, ctx, &args, &style)
}

/// What a person must know once tracing ended: events that could not be recorded,
/// a timeout, events the tracer lost.
/// `sudo nono learn` runs the command as root (without capabilities) and with root's
/// `$HOME`: the safety net then guards root's secrets, not the user's. Say so, and how
/// to trace with eBPF as oneself instead.
fn warn_if_sudo(style: &Style) {
    let root = nix::unistd::geteuid().is_root();
    let sudo_user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty() && u != "root");
    if let (true, Some(user)) = (root, sudo_user) {
        eprintln!(
            "{} running through sudo: the command runs as root (without capabilities) and \
             $HOME is {}, so the safety net withholds root's secrets, not {user}'s; to trace \
             with eBPF as {user}, run once: sudo setcap cap_bpf,cap_perfmon+ep \"$(command -v nono)\"",
            style.warn("nono: warning:"),
            std::env::var("HOME").unwrap_or_else(|_| "/".into())
        );
    }
}

/// Opens the pseudo-terminal the command runs on under the review screen, sized for
/// its pane; the command's side is attached in the child before the safety net's hook
/// runs.
fn attach_pty(trace_cmd: &mut TraceCommand) -> Result<review::pty::PtyMaster, Failure> {
    let (rows, cols) =
        review::layout::output_size(review::terminal::size(), review::layout::Focus::Main, false);
    let (master, child) =
        review::pty::open(rows, cols).context("cannot open a pseudo-terminal for the command")?;
    let mut sandbox_hook = trace_cmd.pre_exec.take();
    trace_cmd.pre_exec = Some(Box::new(move || {
        child.attach()?;
        match sandbox_hook.as_mut() {
            Some(hook) => hook(),
            None => Ok(()),
        }
    }));
    Ok(master)
}

/// The command to trace: its program found on the filtered `PATH`, its environment,
/// its working directory and its time limit.
fn trace_command(
    args: &LearnArgs,
    vars: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    workdir: &Path,
) -> Result<TraceCommand, Failure> {
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let path =
        exec::resolve_program(program, env::get(&vars, "PATH"), workdir).map_err(|e| Failure {
            code: e.exit_code(),
            error: anyhow!("{e}"),
        })?;
    let mut argv = vec![program.clone()];
    argv.extend(rest.iter().cloned());
    Ok(TraceCommand {
        program: path,
        argv,
        env: vars,
        cwd: workdir.to_path_buf(),
        pre_exec: None,
        timeout: args.timeout.map(Duration::from_secs_f64),
        progress: None,
    })
}
