//! `nono learn`: trace a command and suggest the least privilege it needs.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use nono_enforcer::capability::{self, GrantFlag, Overrides};
use nono_enforcer::plan::{self, CachingFs};
use nono_enforcer::sandbox::{self, SandboxOptions};
use nono_enforcer::session::{self, Session, SessionKind};
use nono_enforcer::{env, exec};
use nono_learn::observe;
use nono_learn::suggest::unnamed_temporaries;
use nono_learn::{LearnModel, Msg, command, output, suggest};
use nono_tracer::ptrace::TraceCommand;
use nono_tui::review::{self};

use crate::cli::LearnArgs;

use crate::context::{self, Dirs};
use crate::output::Style;
use crate::{CmdResult, Failure, usage};

use base::{learn_context, net_no_create, no_create_warning};
use files::{check_output, write_atomically};
use interactive::Review;
use tracer::{Tracer, end_failed_session, no_tracer_thread, warn_after_trace};

mod base;
mod canon;
mod files;
mod interactive;
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
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let path = exec::resolve_program(program, env::get(&filtered.vars, "PATH"), &workdir).map_err(
        |e| Failure {
            code: e.exit_code(),
            error: anyhow!("{e}"),
        },
    )?;
    let mut argv = vec![program.clone()];
    argv.extend(rest.iter().cloned());
    let mut trace_cmd = TraceCommand {
        program: path,
        argv,
        env: filtered.vars.clone(),
        cwd: workdir.clone(),
        pre_exec: None,
        timeout: args.timeout.map(Duration::from_secs_f64),
        progress: None,
    };
    let mut enforcement = None;
    let mut net_warning = None;
    if args.no_safety_net {
        eprintln!(
            "{} --no-safety-net: the command runs with your full access while it is traced",
            style.warn("nono: warning:")
        );
    } else {
        let net_overrides = Overrides {
            grants: vec![(GrantFlag::Allow, "/".into())],
            allow_network: true,
            nono_state,
            ..Overrides::default()
        };
        let caps =
            capability::resolve(&profile, &net_overrides, &vars, store.policy()).map_err(usage)?;
        // Where a mount namespace can be had, every existing withheld path is hidden
        // by a mount, so the directories on the way to one keep every right; only
        // withheld paths that do not exist are still carved around.
        // A nono given file capabilities (eBPF as yourself) is not dumpable, so its
        // child cannot write its user namespace's uid map: no mount view then (and
        // making it dumpable would let the user's processes take over its
        // capabilities). Existing withheld paths are then carved around too.
        let capabilities = sandbox::sys::effective_capabilities();
        let mount_view = capabilities == 0 || sandbox::sys::allows_mounting(capabilities);
        let options = SandboxOptions {
            mount_view,
            single_threaded: true,
            guard_metadata: false,
            state_dir: Some(dirs.state.clone()),
            masks_only: true,
            // The safety net withholds secrets; it does not isolate the traced command.
            isolate_processes: false,
            exec_in_place: false,
        };
        let plan_options = plan::PlanOptions {
            mask_all_denies: sandbox::mount_view_possible(&options),
            home: Some(vars.home.clone()),
            ..plan::PlanOptions::default()
        };
        let plan = plan::plan_with(&caps, &fs, &plan_options)
            .map_err(|e| context::plan_failure(e, &vars))?;
        ctx.net_no_create = net_no_create(&plan, &fs, plan_options.mask_all_denies);
        let mut prepared = sandbox::prepare(&caps, &plan, &workdir, &options)
            .map_err(|e| context::sandbox_failure(e, &vars))?;
        enforcement = Some(format!(
            "safety net: credentials, keychains and shell files withheld ({})",
            prepared.report
        ));
        net_warning = no_create_warning(&ctx.net_no_create, &vars.home, &workdir);
        trace_cmd.pre_exec = Some(Box::new(move || {
            nono_enforcer::sandbox::sys::cloexec_from_3();
            prepared.apply_in_child().map_err(|e| e.errno)
        }));
    }

    // In a terminal (and without --no-tui or --json), the review screen: the command
    // runs on a pseudo-terminal whose output the screen shows. Its side is attached in
    // the child before the safety net is applied (the hook below runs first).
    let interactive = !args.no_tui
        && !args.json
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal();
    let mut pty = None;
    if interactive {
        let (rows, cols) = review::layout::output_size(
            review::terminal::size(),
            review::layout::Focus::Main,
            false,
        );
        let (master, child) = review::pty::open(rows, cols)
            .context("cannot open a pseudo-terminal for the command")?;
        let mut sandbox_hook = trace_cmd.pre_exec.take();
        trace_cmd.pre_exec = Some(Box::new(move || {
            child.attach()?;
            match sandbox_hook.as_mut() {
                Some(hook) => hook(),
                None => Ok(()),
            }
        }));
        pty = Some(master);
    }

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

    let (tx, rx) = std::sync::mpsc::channel();
    let tracer = match std::thread::Builder::new()
        .name("nono-tracer".into())
        .spawn(move || tracer.trace(trace_cmd, tx))
    {
        Ok(thread) => thread,
        Err(e) => return Err(no_tracer_thread(e, session)),
    };
    crate::timing::mark("tracer started");
    let mut record_error = None;
    let mut model = LearnModel::new(ctx);
    let mut canon = canon::Canonicalizer::new();
    let mut seen = 0u64;
    for event in rx {
        seen += 1;
        if record_error.is_none()
            && let Err(e) = session.record(&event)
        {
            record_error = Some(e);
        }
        let observations = observe::classify(&event, &mut |p: &Path| canon.resolve(p));
        model.update(Msg::Event {
            event: Box::new(event),
            observations,
        });
    }
    let outcome = match tracer.join() {
        Ok(Ok(outcome)) => outcome,
        failed => {
            let error = match failed {
                Ok(Err(e)) => anyhow!("tracing failed: {e}"),
                _ => anyhow!("the tracer thread panicked"),
            };
            if let Some(e) = record_error {
                eprintln!(
                    "{} events were not all recorded: {e}",
                    style.warn("nono: warning:")
                );
            }
            end_failed_session(session, seen);
            return Err(error.into());
        }
    };
    crate::timing::mark("events consumed");
    model.update(Msg::Counters {
        events: outcome.events,
        dropped: outcome.dropped,
    });
    model.update(Msg::Finished {
        exit_code: outcome.exit_code,
    });
    // The resolver's memory (every path seen) is left to the process's exit: freeing
    // it one allocation at a time costs milliseconds for nothing (see the end).
    std::mem::forget(canon);
    session.info.dropped = outcome.dropped;
    let session_dir = session.dir().to_path_buf();
    // The session is flushed and saved (an fsync) while the suggestions are made.
    let (finished, suggestions) = std::thread::scope(|scope| {
        let suggesting = std::thread::Builder::new()
            .name("nono-suggest".into())
            .spawn_scoped(scope, || suggest(&model));
        let finished = session.finish(Some(outcome.exit_code));
        let suggestions = match suggesting {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: made here instead.
            Err(_) => suggest(&model),
        };
        (finished, suggestions)
    });
    finished.context("cannot record the session")?;
    warn_after_trace(&style, record_error.map(|e| e.to_string()), &outcome);
    crate::timing::mark("session finished, suggestions made");
    let approved = output::auto_approved(&suggestions);
    let name = args
        .output
        .as_ref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| command::default_profile_name(&command));
    let description = command::description(&command);
    let suggested = output::profile(
        &approved,
        &profile.name,
        &name,
        &description,
        !model.network_used(),
    );
    let report = output::Report {
        command: &command,
        exit_code: model.exit_code,
        session: Some(session_dir.display().to_string()),
        events: model.events,
        dropped: model.dropped,
        observations: &model,
        suggestions: &suggestions,
        profile: suggested.clone(),
        not_granted: unnamed_temporaries(&model),
    };
    if let Some(file) = &args.report {
        let text = serde_json::to_vec_pretty(&report).context("serializing the report")?;
        write_atomically(file, &text, true)?;
    } else if args.json {
        // On stdout, so `nono learn --no-tui --json -- CMD | jq .` works; nono's own
        // lines stay on stderr.
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report).context("writing the report")?;
        writeln!(out).context("writing the report")?;
        out.flush().context("writing the report")?;
    }
    if !args.json {
        eprint!("{}", output::summary(&model, &suggestions));
        eprintln!("session: {}", session_dir.display());
    }
    crate::timing::mark("report written");
    if let Some(file) = &args.output {
        let mut text = serde_json::to_vec_pretty(&suggested).context("serializing the profile")?;
        text.push(b'\n');
        write_atomically(file, &text, args.force)?;
        let left_out = suggestions.iter().filter(|s| !s.safe).count();
        eprintln!(
            "{} wrote {} ({} suggestions{}); review it, then replay: {}",
            style.ok("nono:"),
            file.display(),
            approved.len(),
            if left_out > 0 {
                format!(", {left_out} left out for review")
            } else {
                String::new()
            },
            command::replay_command(
                &command::profile_reference(file, store.user_dir()),
                &command
            )
        );
        if suggested
            .network
            .as_ref()
            .is_some_and(|n| !n.allow_domain.is_empty())
        {
            let [first, second] = output::ALLOW_DOMAIN_NOTE;
            eprintln!("{} {first} {second}", style.warn("nono: note:"));
        }
    } else if !args.json {
        eprintln!(
            "{}",
            style.dim("pass --output FILE to save the suggested profile")
        );
    }
    // The model and suggestions hold every path seen (tens of thousands in a big
    // trace); freeing them one allocation at a time just before the process exits
    // costs ~20 ms for nothing.
    std::mem::forget(model);
    std::mem::forget(suggestions);
    Ok(ExitCode::from(outcome.exit_code.clamp(0, 255) as u8))
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
