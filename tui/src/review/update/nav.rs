//! Moving around the tabs and the tree, and finding the next row left to decide.

use nono_learn::suggest::display;

use crate::review::model::{Class, Filter, ReviewState, Tab};
use crate::review::tree::NodeId;

use super::info;

pub(super) fn switch_tab(state: &mut ReviewState, tab: Tab) {
    state.tab = tab;
    state.scroll_into_view();
}

pub(super) fn move_to(state: &mut ReviewState, index: usize) {
    let t = state.tab.index();
    state.cursor[t] = index.min(state.row_count().saturating_sub(1));
    if state.tab == Tab::Files {
        state.selected_node = state.current_row().map(|r| r.node);
    }
    state.scroll_into_view();
}

pub(super) fn move_by(state: &mut ReviewState, delta: isize) {
    let t = state.tab.index();
    let at = state.cursor[t] as isize + delta;
    move_to(state, at.max(0) as usize);
}

pub(super) fn fold(state: &mut ReviewState, open: bool) {
    if state.tab != Tab::Files {
        return;
    }
    let Some(row) = state.current_row().copied() else {
        return;
    };
    let branch = state.tree.node(row.node).is_branch();
    let collapsed = state.is_folded(row.node);
    if open {
        if collapsed {
            state.folds.insert(row.node, false);
            state.rebuild_rows();
        } else if branch {
            move_by(state, 1);
        }
    } else if branch && !collapsed {
        state.folds.insert(row.node, true);
        state.rebuild_rows();
    } else {
        // Go to the parent row.
        let at = state.cursor[0];
        if let Some(parent) = (0..at).rev().find(|&i| state.rows[i].depth < row.depth) {
            move_to(state, parent);
        }
    }
}

pub(super) fn toggle_fold(state: &mut ReviewState) {
    if state.tab != Tab::Files {
        return;
    }
    let Some(row) = state.current_row().copied() else {
        return;
    };
    if state.tree.node(row.node).is_branch() {
        let folded = state.is_folded(row.node);
        state.folds.insert(row.node, !folded);
    }
    state.rebuild_rows();
}

pub(super) fn set_filter(state: &mut ReviewState, filter: Filter) {
    state.filter = filter;
    state.rebuild_rows();
    info(
        state,
        format!("filter: {} ({} rows)", filter.name(), state.rows.len()),
    );
}

/// `f` on the Exec tab shows or hides the failed `PATH` lookups; `F` shows them.
pub(super) fn toggle_failed_execs(state: &mut ReviewState, toggle: bool) {
    state.show_failed_execs = if toggle {
        !state.show_failed_execs
    } else {
        true
    };
    state.scroll_into_view();
    let text = if state.show_failed_execs {
        "showing the failed PATH lookups too (f hides them)".to_string()
    } else {
        format!(
            "{} failed PATH lookup(s) hidden (f shows them)",
            state.hidden_execs()
        )
    };
    info(state, text);
}

/// Is the row `i` of the current Network or Exec list pending?
fn list_row_pending(state: &ReviewState, tab: Tab, i: usize) -> bool {
    match tab {
        Tab::Network => state.host_row(i).is_some_and(|(host, _)| {
            state.host_suggestion(host).is_some() && state.host_pending(host)
        }),
        Tab::Exec => state
            .exec_row(i)
            .and_then(|(p, _)| state.tree.find(p))
            .is_some_and(|id| state.class(id) == Class::Pending),
        Tab::Files => false,
    }
}

/// Moves to the next (or previous) pending row after `from` (a Files node; `None`:
/// from the top), unfolding the directories on the way and dropping a filter that
/// hides it. Wraps around. Returns whether one was found.
pub(super) fn seek_pending(state: &mut ReviewState, from: Option<NodeId>, forward: bool) -> bool {
    state.ensure_suggestions();
    // Every row, as if nothing were folded or filtered.
    let all = state.tree.rows(&|_| false, None);
    let n = all.len();
    if n == 0 {
        return false;
    }
    let start = from.and_then(|node| all.iter().position(|r| r.node == node || r.first == node));
    let found = (1..=n)
        .map(|k| match (start, forward) {
            (None, true) => k - 1,
            (None, false) => n - k,
            (Some(at), true) => (at + k) % n,
            (Some(at), false) => (at + n - k % n) % n,
        })
        .map(|i| all[i].node)
        .find(|&node| state.class(node) == Class::Pending);
    let Some(node) = found else {
        return false;
    };
    let ancestors: Vec<NodeId> = state.tree.ancestors(node).collect();
    for a in ancestors {
        state.folds.insert(a, false);
    }
    if !matches!(state.filter, Filter::All | Filter::Pending) {
        state.filter = Filter::All;
    }
    state.selected_node = Some(node);
    state.rebuild_rows();
    if let Some(i) = state.rows.iter().position(|r| r.node == node) {
        state.cursor[0] = i;
        state.selected_node = Some(node);
        state.scroll_into_view();
    }
    true
}

/// `p` / `P`: the next / previous row waiting for a decision.
pub(super) fn next_pending(state: &mut ReviewState, forward: bool) {
    let tab = state.tab;
    if tab != Tab::Files {
        let count = state.row_count();
        let at = state.cursor[tab.index()];
        let found = (1..=count)
            .map(|k| {
                if forward {
                    (at + k) % count
                } else {
                    (at + count - k % count) % count
                }
            })
            .find(|&i| list_row_pending(state, tab, i));
        match found {
            Some(i) => move_to(state, i),
            None => info(state, "nothing pending on this tab"),
        }
        return;
    }
    let from = state.current_row().map(|r| r.node);
    if seek_pending(state, from, forward) {
        let home = state.learn.ctx.home.clone();
        let rows = state.pending_below.first().copied().unwrap_or(0);
        let path = state
            .current_row()
            .map(|r| display(&state.tree.node(r.node).path, &home))
            .unwrap_or_default();
        info(
            state,
            format!(
                "pending: {path} ({rows} pending row{} in all; p / P: next / previous)",
                if rows == 1 { "" } else { "s" }
            ),
        );
    } else {
        info(state, "nothing pending: s saves the profile");
    }
}
