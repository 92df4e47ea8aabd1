//! `nono learn` with the review screen: the command on a pseudo-terminal, its events
//! fed to the screen by a thread of their own, the profile saved from there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use nono_enforcer::session::Session;
use nono_learn::model::LearnContext;
use nono_learn::observe;
use nono_learn::suggest::unnamed_temporaries;
use nono_learn::{LearnModel, Msg, command, output, suggest};
use nono_tracer::event::Event;
use nono_tracer::ptrace::{TraceCommand, TraceOutcome, TraceProgress};
use nono_tui::review::{self, ReviewConfig, ReviewState, event_loop::Input};

use crate::cli::LearnArgs;

use crate::output::Style;
use crate::{CmdResult, Failure};

use super::base::path_dirs;
use super::canon;
use super::files::write_atomically;
/// Runs `nono learn`.
use super::tracer::{TraceFailed, Tracer, end_failed_session, no_tracer_thread, warn_after_trace};

/// What the review screen needs beyond the trace itself.
pub(super) struct Review {
    pub(super) base: String,
    pub(super) profiles_dir: PathBuf,
    pub(super) cwd: PathBuf,
    pub(super) command: Vec<String>,
}

impl Review {
    /// Traces the command while the review screen shows it; the person saves the
    /// profile from there. The tracer's events are recorded and classified on a
    /// thread of their own (which does the file-system look-ups), so the screen only
    /// applies them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run(
        self,
        tracer: Tracer,
        trace_cmd: TraceCommand,
        session: Session,
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
                .spawn(move || feed(rx, tracer, &progress, session, &ui))
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
            self.write_report(file, learn, &outcome, &session_dir)?;
        }
        eprintln!("session: {}", session_dir.display());
        let code = if stopped { 130 } else { outcome.exit_code };
        Ok(ExitCode::from(code.clamp(0, 255) as u8))
    }

    /// The JSON report, with the profile every safe suggestion would make.
    fn write_report(
        &self,
        file: &Path,
        learn: &LearnModel,
        outcome: &TraceOutcome,
        session_dir: &Path,
    ) -> Result<(), Failure> {
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
        write_atomically(file, &text, true)
    }
}

/// What the event thread hands back: the session directory, the trace's outcome, and
/// an error recording the events or finishing the session.
type Fed = (PathBuf, Result<TraceOutcome, String>, Option<String>);

/// The event thread: records each event in the session, classifies it (the
/// file-system look-ups happen here, not on the screen's thread) and sends it to the
/// screen; then waits for the tracer and finishes the session.
fn feed(
    rx: mpsc::Receiver<Event>,
    tracer: std::thread::JoinHandle<Result<TraceOutcome, TraceFailed>>,
    progress: &TraceProgress,
    mut session: Session,
    ui: &mpsc::Sender<Input>,
) -> Fed {
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
        let observations = observe::classify(&event, &mut |p: &Path| canon.resolve(p));
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
}
