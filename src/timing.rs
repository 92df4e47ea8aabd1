//! `NONO_TIMING=1` prints how long each phase of a command took, on stderr. Used by
//! the benchmarks in bench/ to see where start-up time goes.

use std::sync::OnceLock;
use std::time::Instant;

fn start() -> Option<&'static Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    START
        .get_or_init(|| {
            std::env::var_os("NONO_TIMING")
                .is_some_and(|v| v == "1")
                .then(Instant::now)
        })
        .as_ref()
}

/// Starts the clock (call first thing in `main`).
pub fn init() {
    let _ = start();
}

/// Is `NONO_TIMING=1` set (so that a label worth formatting will be printed)?
pub fn enabled() -> bool {
    start().is_some()
}

/// Prints the time since start, labelled, when `NONO_TIMING=1`, with the page faults
/// so far (a fault costs about as much as a small system call, and start-up takes
/// hundreds).
pub fn mark(label: &str) {
    if let Some(start) = start() {
        let faults = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
            .map(|u| u.minor_page_faults() + u.major_page_faults())
            .unwrap_or(0);
        eprintln!(
            "nono timing: {:>8.3} ms {faults:>5} faults  {label}",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}
