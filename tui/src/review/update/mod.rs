//! `update`: every message the review screen receives, turned into state changes and
//! at most one [`Command`] for the event loop to carry out. No I/O happens here.

use std::path::PathBuf;
use std::time::Duration;

use ratatui::crossterm::event::{KeyEvent, KeyEventKind};

use nono_learn::Msg as LearnMsg;

use super::model::{Focus, Overlay, ReviewState, Status};

use keys::on_key;
use nav::seek_pending;
use pty::sync_output_size;
use save::refresh_dialog;

mod decide;
mod dialogs;
mod keys;
mod nav;
mod pty;
mod save;
mod search;
mod undo;

pub use pty::key_bytes;

/// A message to the review screen.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal was resized.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Something from the tracer, for the learn model.
    Learn(LearnMsg),
    /// The command wrote to its terminal.
    Output(Vec<u8>),
    /// The command's terminal closed.
    OutputClosed,
    /// The command started (`true`) or stopped waiting for input from its terminal.
    Waiting(bool),
    /// Time passed.
    Tick {
        /// Since the command started.
        elapsed: Duration,
    },
    /// The profile was written.
    Saved {
        /// Where.
        path: PathBuf,
    },
    /// The profile could not be written.
    SaveFailed {
        /// Where it was going.
        path: PathBuf,
        /// Why.
        error: String,
        /// The file exists (and this is its content): nothing was overwritten.
        existing: Option<String>,
    },
}

/// An effect for the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Write these bytes to the command's terminal.
    SendToPty(Vec<u8>),
    /// The command's terminal has a new size.
    ResizePty {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Write the profile (atomically), replacing a file only if `overwrite`.
    Save {
        /// Where.
        path: PathBuf,
        /// The text.
        contents: String,
        /// Replace an existing file.
        overwrite: bool,
    },
    /// Leave the review.
    Quit,
}

/// Applies a message. Returns the effect to carry out, if any.
pub fn update(state: &mut ReviewState, msg: Msg) -> Option<Command> {
    match msg {
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return None;
            }
            state.redraw = true;
            on_key(state, key)
        }
        Msg::Resize { width, height } => {
            state.size = (width, height);
            state.redraw = true;
            state.scroll_into_view();
            sync_output_size(state)
        }
        Msg::Learn(msg) => {
            let finished = match msg {
                LearnMsg::Finished { exit_code } => Some(exit_code),
                _ => None,
            };
            state.ingest(msg);
            if let Some(code) = finished {
                state.refresh_suggestions();
                state.rebuild_rows();
                state.waiting = false;
                // The keys are the review's again: nothing reads the terminal any more.
                let resize = give_focus_back(state);
                let found = seek_pending(state, None, true);
                let pending = state.pending_count();
                let text = if found {
                    format!(
                        "the command exited ({code}); {pending} pending — p / P: next / previous pending, s saves"
                    )
                } else {
                    format!("the command exited ({code}); nothing pending: s saves")
                };
                info(state, text);
                return resize;
            }
            None
        }
        Msg::Output(bytes) => {
            state.output.process(&bytes);
            state.redraw = true;
            None
        }
        Msg::OutputClosed => {
            state.output.closed = true;
            state.waiting = false;
            state.redraw = true;
            give_focus_back(state)
        }
        Msg::Waiting(waiting) => {
            // After the command exited, what is left on its terminal is not waited on.
            if waiting == state.waiting || (waiting && !state.running()) {
                return None;
            }
            state.waiting = waiting;
            state.redraw = true;
            // Keys typed for the command must not become decisions: the output pane
            // takes the keys as soon as the command waits for them. Tab still goes back.
            if waiting && state.focus == Focus::Main && !state.output.closed {
                state.focus = Focus::Output;
                info(
                    state,
                    "the command is waiting for input: keys go to it now (Tab: back to the review)",
                );
                return sync_output_size(state);
            }
            None
        }
        Msg::Tick { elapsed } => {
            // The clock shows how long the command has run: it stops when it ends.
            if state.running() {
                if elapsed.as_secs() != state.elapsed.as_secs() {
                    state.redraw = true;
                }
                state.elapsed = elapsed;
            }
            None
        }
        Msg::Saved { path } => {
            state.saved_generation = state.generation;
            let then_quit = matches!(&state.overlay, Overlay::Save(d) if d.then_quit);
            state.overlay = Overlay::None;
            state.status = Some(Status {
                text: format!(
                    "saved {} — replay: nono run --profile {} -- {}",
                    path.display(),
                    nono_learn::command::profile_reference(&path, &state.config.profiles_dir),
                    state.config.command
                ),
                error: false,
            });
            state.saved_to = Some(path);
            state.redraw = true;
            if then_quit {
                state.quit = true;
                return Some(Command::Quit);
            }
            None
        }
        Msg::SaveFailed {
            path,
            error,
            existing,
        } => {
            state.redraw = true;
            if let Overlay::Save(dialog) = &mut state.overlay {
                match existing {
                    Some(old) => {
                        dialog.existing = Some(old);
                        dialog.error = Some(format!(
                            "{} exists: the diff now shows what would change; Enter overwrites it, Esc cancels",
                            path.display()
                        ));
                        refresh_dialog(state);
                    }
                    None => dialog.error = Some(error),
                }
            } else {
                state.status = Some(Status {
                    text: error,
                    error: true,
                });
            }
            None
        }
    }
}

pub(super) fn info(state: &mut ReviewState, text: impl Into<String>) {
    state.status = Some(Status {
        text: text.into(),
        error: false,
    });
}

pub(super) fn error(state: &mut ReviewState, text: impl Into<String>) {
    state.status = Some(Status {
        text: text.into(),
        error: true,
    });
}

/// Gives the keys back to the review (the command's terminal is gone or nothing reads
/// it any more).
pub(super) fn give_focus_back(state: &mut ReviewState) -> Option<Command> {
    if state.focus != Focus::Output {
        return None;
    }
    state.focus = Focus::Main;
    state.scroll_into_view();
    sync_output_size(state)
}

#[cfg(test)]
mod tests;
