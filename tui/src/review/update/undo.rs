//! Applying decisions as undoable steps, and undoing them.

use crate::review::decision::{Decision, ItemKey};
use crate::review::model::ReviewState;

use super::info;

/// Records the previous values of the decisions about to change, applies the
/// changes, and makes them one undo step.
pub(super) fn apply(state: &mut ReviewState, changes: Vec<(ItemKey, Option<Decision>)>) {
    if changes.is_empty() {
        return;
    }
    let mut previous = Vec::with_capacity(changes.len());
    for (key, new) in changes {
        let old = match new {
            Some(d) => state.decisions.insert(key.clone(), d),
            None => state.decisions.remove(&key),
        };
        previous.push((key, old));
    }
    state.undo.push(previous);
    after_change(state);
}

fn after_change(state: &mut ReviewState) {
    state.generation += 1;
    state.reindex_rules();
    state.recompute_quiet();
    state.redraw = true;
}

pub(super) fn undo(state: &mut ReviewState) {
    let Some(previous) = state.undo.pop() else {
        info(state, "nothing to undo");
        return;
    };
    let n = previous.len();
    for (key, old) in previous.into_iter().rev() {
        match old {
            Some(d) => state.decisions.insert(key, d),
            None => state.decisions.remove(&key),
        };
    }
    after_change(state);
    info(
        state,
        format!("undone ({n} decision{})", if n == 1 { "" } else { "s" }),
    );
}
