//! The learn model.
//!
//! * [`command`]: the traced command quoted, named, and the line that replays it.
//! * [`observe`]: tracer events → [`observe::Observation`]s (what access each one needs).
//! * [`model`]: the [`LearnModel`] they accumulate into (plain data, `update` does no I/O).
//! * [`suggest`]: rules suggested from the model, each with its reason; sensitive paths
//!   are shown but never suggested, and `/` and `$HOME` are never granted whole.
//! * [`output`]: the human summary, the JSON report and the suggested profile.
//! * [`paths`]: maps keyed by paths, cheap enough to look up on every event.

pub mod command;
pub mod model;
pub mod observe;
pub mod output;
pub mod paths;
pub mod suggest;

pub use model::{LearnContext, LearnModel, Msg};
pub use suggest::{Suggestion, suggest};
