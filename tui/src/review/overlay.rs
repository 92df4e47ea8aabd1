//! The state of the status line and of the overlays (help, search, editing a path, the
//! confirmations, saving, quitting).

use std::path::PathBuf;

use super::decision::{ItemKey, PathRule};
use super::diff::DiffLine;

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The text.
    pub text: String,
    /// An error (shown in red), or information.
    pub error: bool,
}

/// The sensitive-path confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The decision it would make.
    pub key: ItemKey,
    /// The rule it would allow.
    pub rule: PathRule,
    /// The denied path it reaches into.
    pub denied: PathBuf,
    /// What denies it.
    pub label: String,
    /// What was typed.
    pub input: String,
    /// The last refusal.
    pub error: Option<String>,
}

/// The confirmation of a write grant that reaches a directory on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmPath {
    /// The decision it would make.
    pub key: ItemKey,
    /// The rule it would allow.
    pub rule: PathRule,
    /// The directory on `PATH` the rule reaches.
    pub on_path: PathBuf,
}

/// The word to type to allow a sensitive path.
pub const CONFIRM_WORD: &str = "grant";

/// The save dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveDialog {
    /// A profile name or a path, as typed.
    pub input: String,
    /// Where it would be written, or why it cannot be.
    pub target: Result<PathBuf, String>,
    /// The profile text to write.
    pub text: String,
    /// The profile as a diff against what it replaces.
    pub diff: Vec<DiffLine>,
    /// What the diff is against (`base profile default`, or the existing file).
    pub against: String,
    /// The file exists: its content, and Enter now overwrites it.
    pub existing: Option<String>,
    /// The last error.
    pub error: Option<String>,
    /// First diff line shown.
    pub scroll: u16,
    /// Quit once saved.
    pub then_quit: bool,
}

/// A window over the main pane.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Overlay {
    /// None.
    #[default]
    None,
    /// The key reference.
    Help {
        /// First line shown.
        scroll: u16,
    },
    /// Typing a search.
    Search {
        /// The text typed.
        input: String,
        /// Where the cursor was, to go back on Esc.
        origin: usize,
    },
    /// Editing a rule's path.
    Edit {
        /// The decision being edited.
        key: ItemKey,
        /// The text.
        input: String,
        /// The last refusal.
        error: Option<String>,
    },
    /// Confirming a sensitive grant.
    Confirm(Box<Confirm>),
    /// Confirming a write grant on a directory on `PATH` (y / n).
    ConfirmPath(Box<ConfirmPath>),
    /// Saving.
    Save(Box<SaveDialog>),
    /// Quitting with unsaved decisions or a running command.
    Quit {
        /// Decisions not saved.
        unsaved: bool,
        /// The command still runs.
        running: bool,
    },
}
