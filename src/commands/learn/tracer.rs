//! Choosing the tracer (eBPF or ptrace), running it, and what is said when it fails.

use std::path::Path;
use std::sync::mpsc;

use anyhow::anyhow;
use nono_enforcer::session::Session;
use nono_tracer::ptrace::{self, TraceCommand, TraceOutcome};
use nono_tracer::{ebpf, support};

use crate::cli::Backend;

use crate::Failure;
use crate::output::Style;

/// The session of a trace that failed after `seen` events: with none, it is removed
/// (nothing ran that could be inspected later); otherwise it is ended without an exit
/// code and kept, whatever part of them could be recorded. Errors are ignored: the
/// trace's own error is what gets reported.
pub(super) fn end_failed_session(session: Session, seen: u64) {
    if seen == 0 {
        let _ = session.discard();
    } else {
        let _ = session.finish(None);
    }
}

/// The tracer's thread could not be started: nothing ran, so the session goes.
pub(super) fn no_tracer_thread(error: std::io::Error, session: Session) -> Failure {
    end_failed_session(session, 0);
    anyhow::Error::new(error)
        .context("cannot start the tracer thread")
        .into()
}

/// The tracing backend of this run.
pub(super) enum Tracer {
    Ptrace,
    /// Loaded and attached before the command starts.
    Ebpf(Box<ebpf::EbpfTracer>),
}

impl Tracer {
    /// Picks the backend `--backend` asks for, and what to say about it; with `auto`,
    /// eBPF when its programs load here and ptrace otherwise (with the reason).
    pub(super) fn choose(backend: Backend, state_dir: &Path) -> Result<(Tracer, String), Failure> {
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

    pub(super) fn name(&self) -> &'static str {
        match self {
            Tracer::Ptrace => "ptrace",
            Tracer::Ebpf(_) => "ebpf",
        }
    }

    /// Traces on the calling thread.
    pub(super) fn trace(
        self,
        cmd: TraceCommand,
        sink: mpsc::Sender<nono_tracer::event::Event>,
    ) -> Result<TraceOutcome, TraceFailed> {
        match self {
            Tracer::Ptrace => ptrace::trace(cmd, sink).map_err(TraceFailed::Ptrace),
            Tracer::Ebpf(tracer) => tracer.trace(cmd, sink).map_err(TraceFailed::Ebpf),
        }
    }
}

/// Why a trace failed, from whichever backend ran it.
#[derive(Debug)]
pub(super) enum TraceFailed {
    /// The ptrace backend.
    Ptrace(ptrace::TraceError),
    /// The eBPF backend.
    Ebpf(ebpf::EbpfError),
}

impl std::fmt::Display for TraceFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceFailed::Ptrace(e) => e.fmt(f),
            TraceFailed::Ebpf(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TraceFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TraceFailed::Ptrace(e) => Some(e),
            TraceFailed::Ebpf(e) => Some(e),
        }
    }
}

pub(super) fn warn_after_trace(
    style: &Style,
    record_error: Option<String>,
    outcome: &TraceOutcome,
) {
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
