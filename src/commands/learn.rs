//! `nono learn`: trace a command and suggest the least privilege it needs.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use nono_enforcer::capability::{self, Access, GrantFlag, Overrides, Source};
use nono_enforcer::plan::{self, CachingFs, EntryKind, FsView};
use nono_enforcer::policy::Policy;
use nono_enforcer::sandbox::{self, SandboxOptions};
use nono_enforcer::session::{self, Session, SessionKind};
use nono_enforcer::{env, exec};
use nono_learn::model::{Coverage, GroupInfo, LearnContext, NoCreateDir, SensitivePath};
use nono_learn::observe;
use nono_learn::suggest::unnamed_temporaries;
use nono_learn::{LearnModel, Msg, command, output, suggest};
use nono_tracer::ptrace::{self, TraceCommand, TraceOutcome, TraceProgress};
use nono_tracer::{ebpf, support};
use nono_tui::review::{self, ReviewConfig, ReviewState, event_loop::Input};

use crate::cli::{Backend, LearnArgs};

mod canon;
use crate::context::{self, Dirs};
use crate::output::Style;
use crate::{CmdResult, Failure, usage};

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
        let (rows, cols) =
            review::view::output_size(review::terminal::size(), review::model::Focus::Main, false);
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

/// What the review screen needs beyond the trace itself.
struct Review {
    base: String,
    profiles_dir: PathBuf,
    cwd: PathBuf,
    command: Vec<String>,
}

impl Review {
    /// Traces the command while the review screen shows it; the person saves the
    /// profile from there. The tracer's events are recorded and classified on a
    /// thread of their own (which does the file-system look-ups), so the screen only
    /// applies them.
    #[allow(clippy::too_many_arguments)]
    fn run(
        self,
        tracer: Tracer,
        trace_cmd: TraceCommand,
        mut session: Session,
        ctx: LearnContext,
        master: review::pty::PtyMaster,
        args: &LearnArgs,
        style: Style,
    ) -> CmdResult {
        // Everything the command writes to its terminal is also kept in the session
        // directory, appended as it arrives (the pane keeps only the last lines).
        let log_path = session.dir().join("output.log");
        let log = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .append(true)
                .create_new(true)
                .mode(0o600)
                .open(&log_path)
        };
        let log = match log {
            Ok(file) => review::terminal::OutputLog::new(file),
            Err(e) => {
                end_failed_session(session, 0);
                return Err(anyhow!("cannot create {}: {e}", log_path.display()).into());
            }
        };
        let log_error = log.error();
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        let backend = tracer.name();
        let progress = Arc::new(TraceProgress::default());
        let mut trace_cmd = trace_cmd;
        trace_cmd.progress = Some(Arc::clone(&progress));
        let tracer = match std::thread::Builder::new()
            .name("nono-tracer".into())
            .spawn(move || tracer.trace(trace_cmd, tx))
        {
            Ok(thread) => thread,
            Err(e) => return Err(no_tracer_thread(e, session)),
        };
        let (ui_tx, ui_rx) = mpsc::channel::<Input>();
        let feeder = {
            let ui = ui_tx.clone();
            std::thread::Builder::new()
                .name("nono-learn-feed".into())
                .spawn(move || {
                    let mut canon = canon::Canonicalizer::new();
                    let mut record_error = None;
                    // The header's drop count is kept current while events flow (drops
                    // happen when they flood); the final figures come with the outcome.
                    let mut shown_dropped = 0u64;
                    let mut last_check = Instant::now();
                    let mut seen = 0u64;
                    for (index, event) in rx.into_iter().enumerate() {
                        seen += 1;
                        if record_error.is_none()
                            && let Err(e) = session.record(&event)
                        {
                            record_error = Some(e.to_string());
                        }
                        let observations =
                            observe::classify(&event, &mut |p: &Path| canon.resolve(p));
                        let _ = ui.send(Input::Learn(Msg::Event {
                            event: Box::new(event),
                            observations,
                        }));
                        if last_check.elapsed() >= Duration::from_millis(250) {
                            last_check = Instant::now();
                            let dropped = progress.dropped.load(Ordering::Relaxed);
                            if dropped != shown_dropped {
                                shown_dropped = dropped;
                                let _ = ui.send(Input::Learn(Msg::Counters {
                                    events: index as u64 + 1,
                                    dropped,
                                }));
                            }
                        }
                    }
                    let outcome = match tracer.join() {
                        Ok(Ok(outcome)) => Ok(outcome),
                        Ok(Err(e)) => Err(format!("tracing failed: {e}")),
                        Err(_) => Err("the tracer thread panicked".to_string()),
                    };
                    match &outcome {
                        Ok(o) => {
                            session.info.dropped = o.dropped;
                            let _ = ui.send(Input::Learn(Msg::Counters {
                                events: o.events,
                                dropped: o.dropped,
                            }));
                            let _ = ui.send(Input::Learn(Msg::Finished {
                                exit_code: o.exit_code,
                            }));
                        }
                        // Nothing more will come: end the review so the error shows.
                        Err(_) => {
                            let _ = ui.send(Input::Stop);
                        }
                    }
                    let dir = session.dir().to_path_buf();
                    let finished = match &outcome {
                        Ok(o) => session
                            .finish(Some(o.exit_code))
                            .err()
                            .map(|e| e.to_string()),
                        Err(_) => {
                            end_failed_session(session, seen);
                            None
                        }
                    };
                    (dir, outcome, record_error.or(finished))
                })
                .context("cannot start the event thread")?
        };

        let config = ReviewConfig {
            command: command::shell_words(&self.command),
            backend: backend.into(),
            base_profile: self.base.clone(),
            description: command::description(&self.command),
            profiles_dir: self.profiles_dir.clone(),
            cwd: self.cwd.clone(),
            default_target: match &args.output {
                Some(path) => path.display().to_string(),
                None => command::default_profile_name(&self.command),
            },
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            path_dirs: path_dirs(),
        };
        let state = ReviewState::new(LearnModel::new(ctx), config, review::terminal::size());
        let mut write = |path: &Path, data: &[u8]| {
            write_atomically(path, data, true).map_err(|f| format!("{:#}", f.error))
        };
        let ended = review::terminal::run(
            state,
            ui_tx,
            ui_rx,
            Some(&master),
            Some(log),
            &mut write,
            started,
        )
        .context("the review screen failed")?;

        // The person quit while the command still ran: hang up its terminal, then kill.
        let mut stopped = false;
        for signal in [review::pty::Signal::HUP, review::pty::Signal::KILL] {
            if feeder.is_finished() {
                break;
            }
            stopped = true;
            let _ = master.signal_session(signal);
            let deadline = Instant::now() + Duration::from_secs(2);
            while !feeder.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let learn = &ended.state.learn;
        if let Some(saved) = &ended.state.saved_to {
            eprintln!(
                "{} saved {}; replay it with: {}",
                style.ok("nono:"),
                saved.display(),
                command::replay_command(
                    &command::profile_reference(saved, &self.profiles_dir),
                    &self.command
                )
            );
        } else {
            eprintln!("nono: no profile saved");
        }
        if ended.signalled {
            eprintln!("{} stopped by a signal", style.warn("nono:"));
        }
        if !feeder.is_finished() {
            eprintln!(
                "{} the command did not stop; it ends with nono",
                style.warn("nono: warning:")
            );
            return Ok(ExitCode::from(130));
        }
        let (session_dir, outcome, record_error) = feeder
            .join()
            .map_err(|_| anyhow!("the event thread panicked"))?;
        if let Some(e) = &record_error {
            eprintln!(
                "{} events were not all recorded: {e}",
                style.warn("nono: warning:")
            );
        }
        if let Some(e) = log_error.get() {
            eprintln!(
                "{} the command's output was not all saved to {}: {e}",
                style.warn("nono: warning:"),
                log_path.display()
            );
        }
        let outcome = outcome.map_err(|e| anyhow!(e))?;
        warn_after_trace(&style, None, &outcome);
        if let Some(file) = &args.report {
            let suggestions = suggest(learn);
            let approved = output::auto_approved(&suggestions);
            let report = output::Report {
                command: &self.command,
                exit_code: Some(outcome.exit_code),
                session: Some(session_dir.display().to_string()),
                events: learn.events,
                dropped: learn.dropped,
                observations: learn,
                suggestions: &suggestions,
                profile: output::profile(
                    &approved,
                    &self.base,
                    &command::default_profile_name(&self.command),
                    &command::description(&self.command),
                    !learn.network_used(),
                ),
                not_granted: unnamed_temporaries(learn),
            };
            let text = serde_json::to_vec_pretty(&report).context("serializing the report")?;
            write_atomically(file, &text, true)?;
        }
        eprintln!("session: {}", session_dir.display());
        let code = if stopped { 130 } else { outcome.exit_code };
        Ok(ExitCode::from(code.clamp(0, 255) as u8))
    }
}

/// The session of a trace that failed after `seen` events: with none, it is removed
/// (nothing ran that could be inspected later); otherwise it is ended without an exit
/// code and kept, whatever part of them could be recorded. Errors are ignored: the
/// trace's own error is what gets reported.
fn end_failed_session(session: Session, seen: u64) {
    if seen == 0 {
        let _ = session.discard();
    } else {
        let _ = session.finish(None);
    }
}

/// The tracer's thread could not be started: nothing ran, so the session goes.
fn no_tracer_thread(error: std::io::Error, session: Session) -> Failure {
    end_failed_session(session, 0);
    anyhow::Error::new(error)
        .context("cannot start the tracer thread")
        .into()
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

/// The tracing backend of this run.
enum Tracer {
    Ptrace,
    /// Loaded and attached before the command starts.
    Ebpf(Box<ebpf::EbpfTracer>),
}

impl Tracer {
    /// Picks the backend `--backend` asks for, and what to say about it; with `auto`,
    /// eBPF when its programs load here and ptrace otherwise (with the reason).
    fn choose(backend: Backend, state_dir: &Path) -> Result<(Tracer, String), Failure> {
        if backend == Backend::Ptrace {
            // Asked for by name: nothing to say.
            return Ok((Tracer::Ptrace, String::new()));
        }
        let loaded = if !ebpf::built() {
            Err(ebpf::EbpfError::NotBuilt.to_string())
        } else {
            let support = support::probe_ebpf();
            if support.privileged {
                let options = ebpf::EbpfOptions {
                    offsets_cache: Some(state_dir.join("ebpf-offsets")),
                    ..ebpf::EbpfOptions::default()
                };
                ebpf::EbpfTracer::load(&options).map_err(|e| e.to_string())
            } else {
                Err(ebpf::EbpfError::Privileges(support.detail).to_string())
            }
        };
        match (loaded, backend) {
            (Ok(tracer), _) => {
                let said = format!(
                    "nono: tracing with eBPF (programs loaded in {} ms)",
                    tracer.load_time().as_millis()
                );
                Ok((Tracer::Ebpf(Box::new(tracer)), said))
            }
            (Err(why), Backend::Ebpf) => Err(Failure {
                code: 1,
                error: anyhow!("--backend ebpf: {why}"),
            }),
            (Err(why), _) => Ok((
                Tracer::Ptrace,
                format!("nono: tracing with ptrace (eBPF is not available: {why})"),
            )),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Tracer::Ptrace => "ptrace",
            Tracer::Ebpf(_) => "ebpf",
        }
    }

    /// Traces on the calling thread.
    fn trace(
        self,
        cmd: TraceCommand,
        sink: mpsc::Sender<nono_tracer::event::Event>,
    ) -> Result<TraceOutcome, String> {
        match self {
            Tracer::Ptrace => ptrace::trace(cmd, sink).map_err(|e| e.to_string()),
            Tracer::Ebpf(tracer) => tracer.trace(cmd, sink).map_err(|e| e.to_string()),
        }
    }
}

fn warn_after_trace(style: &Style, record_error: Option<String>, outcome: &TraceOutcome) {
    if let Some(e) = record_error {
        eprintln!(
            "{} events were not all recorded: {e}",
            style.warn("nono: warning:")
        );
    }
    if outcome.timed_out {
        eprintln!(
            "{} the command was stopped after --timeout",
            style.warn("nono:")
        );
    }
    if outcome.dropped > 0 {
        eprintln!(
            "{} {} events were lost; the suggestions may be incomplete",
            style.warn("nono: warning:"),
            outcome.dropped
        );
    }
}

/// Checks, before anything runs, that `path` (given with `flag`) can be written: its
/// directory exists and is a directory, and the path is not a directory itself nor an
/// existing file when `overwrite` is false.
fn check_output(path: &Path, overwrite: bool, flag: &str) -> Result<(), Failure> {
    use std::os::unix::fs::FileTypeExt;
    if path.as_os_str().is_empty() {
        return Err(usage(anyhow!("{flag}: the path is empty")));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(usage(anyhow!(
                "{flag} {} is a directory; name a file in it",
                path.display()
            )));
        }
        Ok(meta) => {
            let kind = meta.file_type();
            let special = kind.is_char_device() || kind.is_fifo() || kind.is_socket();
            if !special && !overwrite {
                return Err(usage(anyhow!(
                    "{} exists; pass --force to overwrite it",
                    path.display()
                )));
            }
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(usage(anyhow!("{flag} {}: {e}", path.display())));
        }
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
                return Err(usage(anyhow!(
                    "{flag} {}: cannot write in {}",
                    path.display(),
                    dir.display()
                )));
            }
            Ok(())
        }
        Ok(_) => Err(usage(anyhow!(
            "{flag} {}: {} is not a directory",
            path.display(),
            dir.display()
        ))),
        Err(_) => Err(usage(anyhow!(
            "{flag} {}: the directory {} does not exist; create it first",
            path.display(),
            dir.display()
        ))),
    }
}

/// Writes a file through a temporary file and a rename, so a crash never leaves half
/// a profile; refuses to replace an existing file unless `overwrite`.
///
/// Only a regular file is ever replaced: a device or a FIFO (`/dev/null`,
/// `/dev/stdout`, a pipe) is written to in place, a symlink keeps pointing where it
/// did (its target is replaced), and anything else is refused.
fn write_atomically(path: &Path, data: &[u8], overwrite: bool) -> Result<(), Failure> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let existing = std::fs::metadata(path).ok();
    if let Some(meta) = &existing {
        let kind = meta.file_type();
        if kind.is_char_device() || kind.is_fifo() || kind.is_socket() || kind.is_block_device() {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.write_all(data)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(());
        }
        if !kind.is_file() {
            return Err(usage(anyhow!("{} is not a regular file", path.display())));
        }
        if !overwrite {
            return Err(usage(anyhow!(
                "{} exists; pass --force to overwrite it",
                path.display()
            )));
        }
    }
    // Replace the file a symlink points to, not the symlink.
    let target = match existing {
        Some(_) => std::fs::canonicalize(path)
            .with_context(|| format!("cannot resolve {}", path.display()))?,
        None => path.to_path_buf(),
    };
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .ok_or_else(|| usage(anyhow!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(".{}.nono-tmp", name.to_string_lossy()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    let result = file.write_all(data).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = result.and_then(|()| std::fs::rename(&tmp, &target)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow!("cannot write {}: {e}", path.display()).into());
    }
    Ok(())
}

/// The base profile's view of the machine for the learn model.
fn learn_context(
    caps: &capability::CapabilitySet,
    plan: &plan::Plan,
    policy: &Policy,
    vars: &nono_enforcer::PathVars,
    fs: &CachingFs,
) -> LearnContext {
    let sensitive = plan
        .denies
        .iter()
        .map(|d| SensitivePath {
            path: d.canonical.clone(),
            label: match &d.source {
                Source::Group { group, .. } => format!("group `{group}`"),
                Source::NonoState => "nono's own state".into(),
                other => other.to_string(),
            },
        })
        .collect();
    let coverage = |r: &plan::Rule| Coverage {
        path: r.path.clone(),
        access: r.access,
        dir: r.kind == EntryKind::Dir,
    };
    let mut groups = Vec::new();
    for (name, group) in &policy.groups {
        if group.required || !group.platform.applies_here() {
            continue;
        }
        let included = caps.groups.iter().any(|g| &g.name == name);
        let grants = if included {
            plan.rules
                .iter()
                .filter(
                    |r| matches!(r.source.as_ref(), Source::Group { group, .. } if **group == **name),
                )
                .map(coverage)
                .collect()
        } else {
            let lists = [
                (&group.read, Access::Read),
                (&group.write, Access::Write),
                (&group.allow, Access::ReadWrite),
                (&group.read_file, Access::Read),
                (&group.write_file, Access::Write),
                (&group.allow_file, Access::ReadWrite),
            ];
            let mut out = Vec::new();
            for (list, access) in lists {
                for raw in list {
                    let Ok(path) = vars.expand(raw, None) else {
                        continue;
                    };
                    let Ok(canonical) = fs.canonicalize(&path) else {
                        continue;
                    };
                    let dir = fs.kind(&canonical).is_ok_and(|k| k == EntryKind::Dir);
                    out.push(Coverage {
                        path: canonical,
                        access,
                        dir,
                    });
                }
            }
            out
        };
        groups.push(GroupInfo {
            name: name.clone(),
            included,
            grants,
        });
    }
    let base_grants = plan
        .rules
        .iter()
        .filter(|r| !matches!(r.source.as_ref(), Source::Group { .. }))
        .map(coverage)
        .collect();
    LearnContext {
        home: vars.home.clone(),
        workdir: vars.workdir.clone(),
        base_profile: caps.profile.clone().unwrap_or_default(),
        sensitive,
        groups,
        base_grants,
        net_no_create: Vec::new(),
        temp_dirs: temp_dirs(fs, &vars.home),
    }
}

/// The directories of `PATH` (which the command inherits), as written and resolved
/// (`/bin` may be a link to `/usr/bin`): the review asks before a write grant reaches
/// one of them.
fn path_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if !dir.is_absolute() {
            continue;
        }
        if let Ok(real) = dir.canonicalize()
            && real != dir
            && !dirs.contains(&real)
        {
            dirs.push(real);
        }
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// The temporary directories of the command (`/tmp`, `/var/tmp`, `/dev/shm` and
/// `$TMPDIR`), canonical; never `/` or `$HOME`, which no rule grants whole.
fn temp_dirs(fs: &CachingFs, home: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let tmpdir = std::env::var_os("TMPDIR").map(PathBuf::from);
    let named = ["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from);
    for dir in named.into_iter().chain(tmpdir) {
        if !dir.is_absolute() {
            continue;
        }
        let Ok(canonical) = fs.canonicalize(&dir) else {
            continue;
        };
        if canonical != Path::new("/") && canonical != home && !dirs.contains(&canonical) {
            dirs.push(canonical);
        }
    }
    dirs
}

/// Said before the command starts when the safety net refuses creating entries in
/// `$HOME`, the working directory or a directory above either: where, why, what to do.
fn no_create_warning(dirs: &[NoCreateDir], home: &Path, workdir: &Path) -> Option<String> {
    let shown: Vec<&NoCreateDir> = dirs
        .iter()
        .filter(|d| home.starts_with(&d.dir) || workdir.starts_with(&d.dir))
        .collect();
    // Nothing is created directly in `/` by ordinary programs: not worth a note alone.
    if shown.iter().all(|d| d.dir == Path::new("/")) {
        return None;
    }
    let deepest = shown.iter().max_by_key(|d| d.dir.as_os_str().len())?;
    let short = |p: &Path| match p.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => p.display().to_string(),
    };
    let names: Vec<String> = shown.iter().rev().map(|d| short(&d.dir)).collect();
    let mut missing: Vec<String> = deepest.missing.iter().map(|p| short(p)).collect();
    if deepest.count > deepest.missing.len() {
        missing.push("…".into());
    }
    let why = if deepest.not_hidden {
        "which cannot be hidden here (no mount namespace), and Landlock cannot refuse just \
         those"
    } else {
        "do not exist yet, and a path that is not there can be neither hidden nor refused \
         alone"
    };
    Some(format!(
        "the safety net lets the command create nothing directly in {}: {} withheld paths \
         below ({}) {why}. Create what the command must create there before learning, \
         learn in a subdirectory, or use --no-safety-net",
        names.join(", "),
        deepest.count,
        missing.join(", ")
    ))
}

/// The directories the safety net's plan lets nothing be created in: every existing
/// directory on the way to a withheld path that does not exist (the carve leaves it
/// without a rule of its own). With the withheld paths below each, those directly in
/// it first.
fn net_no_create(plan: &plan::Plan, fs: &CachingFs, mount_view: bool) -> Vec<NoCreateDir> {
    use std::collections::BTreeMap;
    let mut dirs: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    // Without a mount view nothing is hidden: existing withheld paths are carved too.
    let masked = |p: &Path| plan.masks.iter().any(|m| m.path == p);
    let carved_existing = !mount_view;
    for deny in &plan.denies {
        if fs.kind(&deny.canonical).is_ok() && (!carved_existing || masked(&deny.canonical)) {
            continue;
        }
        for ancestor in deny.canonical.ancestors().skip(1) {
            if fs.kind(ancestor).is_ok_and(|k| k == EntryKind::Dir) {
                let list = dirs.entry(ancestor.to_path_buf()).or_default();
                if !list.contains(&deny.canonical) {
                    list.push(deny.canonical.clone());
                }
            }
        }
    }
    dirs.into_iter()
        .map(|(dir, mut missing)| {
            missing.sort_by_key(|m| (m.parent() != Some(dir.as_path()), m.clone()));
            let count = missing.len();
            missing.truncate(3);
            NoCreateDir {
                dir,
                missing,
                count,
                not_hidden: !mount_view,
            }
        })
        .collect()
}
