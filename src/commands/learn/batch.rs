//! `nono learn` without the review screen (`--no-tui`, `--json`, or no terminal): the
//! trace runs to its end, then the summary, the report and the profile are written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use nono_enforcer::session::Session;
use nono_learn::model::LearnContext;
use nono_learn::observe;
use nono_learn::suggest::unnamed_temporaries;
use nono_learn::{LearnModel, Msg, Suggestion, command, output, suggest};
use nono_tracer::ptrace::{TraceCommand, TraceOutcome};

use super::canon;
use super::files::write_atomically;
use super::tracer::{Tracer, end_failed_session, no_tracer_thread, warn_after_trace};
use crate::CmdResult;
use crate::cli::LearnArgs;
use crate::output::Style;

/// What the summary and the profile need beyond the trace itself.
pub(super) struct Batch {
    /// The base profile's name.
    pub(super) base: String,
    /// The user's profiles directory (how a saved profile is named in the replay line).
    pub(super) profiles_dir: PathBuf,
    /// The traced command.
    pub(super) command: Vec<String>,
}

impl Batch {
    /// Traces the command to its end, then writes what was learned.
    pub(super) fn run(
        self,
        tracer: Tracer,
        trace_cmd: TraceCommand,
        mut session: Session,
        ctx: LearnContext,
        args: &LearnArgs,
        style: &Style,
    ) -> CmdResult {
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
        warn_after_trace(style, record_error.map(|e| e.to_string()), &outcome);
        self.write_results(model, suggestions, outcome, session_dir, args, style)
    }

    /// The summary (or the JSON report) and the suggested profile.
    fn write_results(
        self,
        model: LearnModel,
        suggestions: Vec<Suggestion>,
        outcome: TraceOutcome,
        session_dir: PathBuf,
        args: &LearnArgs,
        style: &Style,
    ) -> CmdResult {
        crate::timing::mark("session finished, suggestions made");
        let approved = output::auto_approved(&suggestions);
        let name = args
            .output
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| command::default_profile_name(&self.command));
        let description = command::description(&self.command);
        let suggested = output::profile(
            &approved,
            &self.base,
            &name,
            &description,
            !model.network_used(),
        );
        let report = output::Report {
            command: &self.command,
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
            let mut text =
                serde_json::to_vec_pretty(&suggested).context("serializing the profile")?;
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
                    &command::profile_reference(file, &self.profiles_dir),
                    &self.command
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
}
