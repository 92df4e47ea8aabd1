//! # nono-learn
//!
//! The learn model — what a traced command did, turned into suggested rules, as plain
//! data with a pure `update` — with no UI: the review screen (`nono-tui`), the
//! non-interactive summary of `nono learn` and the bindings build on it.
//!
//! Dependency direction: `nono → tui → learn → {tracer, enforcer}`.
//!
//! * [`command`]: the traced command quoted, named, and the line that replays it.
//! * [`observe`]: tracer events → [`observe::Observation`]s (what access each one needs).
//! * [`model`]: the [`LearnModel`] they accumulate into (plain data, `update` does no I/O).
//! * [`suggest`]: rules suggested from the model, each with its reason; sensitive paths
//!   are shown but never suggested, and `/` and `$HOME` are never granted whole.
//! * [`output`]: the human summary, the JSON report and the suggested profile.
//! * [`paths`]: maps keyed by paths, cheap enough to look up on every event.
//! * [`grant`]: what may be granted (never `/` or `$HOME` whole, nothing sensitive
//!   unasked) and the arithmetic of widening and narrowing a rule.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod command;
pub mod grant;
pub mod model;
pub mod observe;
pub mod output;
pub mod paths;
pub mod suggest;

pub use model::{LearnContext, LearnModel, Msg};
pub use suggest::{Suggestion, suggest};
