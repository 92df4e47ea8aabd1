//! The live review screen of `nono learn`.
//!
//! While the traced command runs on a pseudo-terminal, this screen shows what it does
//! — a tree of the files it touched with access badges and a suggested rule for each,
//! the hosts it looked up, the programs it ran, and its own output — and lets the
//! person turn the observations into a profile: allow read-only or read-write, deny,
//! widen a rule one directory at a time, narrow it back, edit its path, accept every
//! safe suggestion, include a suggested group, undo. Nothing is granted without a
//! decision. Paths the base profile denies are shown in red and can only be allowed by
//! typing a confirmation word; they then go into `filesystem.bypass_protection`, and
//! the profile's description says so. `/` and `$HOME` are never granted whole.
//!
//! It follows the Elm architecture:
//!
//! * [`model`]: [`ReviewState`], plain data (the [`LearnModel`](nono_learn::LearnModel)
//!   stays the one source of observations; the tree and decisions refer to its paths);
//! * [`update`]: [`Msg`] → state changes, returning a [`Command`] for effects (write to
//!   the command's terminal, save, quit); no I/O;
//! * [`view`]: a pure function of the state, drawing only the visible rows;
//! * [`event_loop`]: generic over the ratatui backend; [`terminal`] runs it on the real
//!   terminal and restores it on every exit path, panics and signals included;
//!   [`waiting`] tells it when the command waits for input from its terminal, so
//!   that the keys go to the command then, never to the decisions.
//!
//! ```
//! use nono_learn::LearnModel;
//! use nono_tui::review::{Msg, ReviewConfig, ReviewState, update};
//! use ratatui::crossterm::event::{KeyCode, KeyEvent};
//!
//! let mut state = ReviewState::new(LearnModel::default(), ReviewConfig::default(), (100, 30));
//! update(&mut state, Msg::Key(KeyEvent::from(KeyCode::Char('?'))));
//! let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
//! terminal.draw(|frame| nono_tui::review::view(&state, frame)).unwrap();
//! ```
//!
//! `d` denies the row under the cursor, never the wider rule it shares with other rows
//! (a directory suggestion, the working directory, a group).
//!
//! Limitations: profiles have no globs, so a rule widens to a whole directory (never
//! to `*.ext`); a denial inside an allowed directory is written as `filesystem.deny`
//! and carved out by the planner, which costs the directory its own rule (the status
//! line says so); the command's terminal is a vt100 emulation (no answers to terminal
//! queries, no mouse) keeping 10,000 lines of scrollback; the whole output goes to
//! `output.log` in the session directory.

pub mod decision;
pub mod diff;
pub mod event_loop;
#[cfg(test)]
pub(crate) mod fixture;
pub mod layout;
pub mod model;
pub mod output;
pub mod overlay;
pub mod profile;
pub mod pty;
pub mod terminal;
pub mod tree;
pub mod update;
pub mod view;
pub mod waiting;

pub use model::{ReviewConfig, ReviewState};
pub use update::{Command, Msg, update};
pub use view::view;
