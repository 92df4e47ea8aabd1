//! Searching the rows (`/`, `n`, `N`).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::review::model::{Filter, Overlay, ReviewState, Tab};
use crate::review::tree::NodeId;

use super::nav::move_to;
use super::{Command, error, info};

/// Case-insensitive (ASCII) substring search on bytes.
pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

pub(super) fn row_text(state: &ReviewState, tab: Tab, i: usize) -> Option<String> {
    match tab {
        Tab::Files => state
            .rows
            .get(i)
            .map(|r| state.tree.node(r.node).path.display().to_string()),
        Tab::Network => {
            let hosts = state.learn.hosts.len();
            if i < hosts {
                state.learn.hosts.keys().nth(i).cloned()
            } else {
                state.learn.sockets.keys().nth(i - hosts).cloned()
            }
        }
        Tab::Exec => state.exec_row(i).map(|(p, _)| p.display().to_string()),
    }
}

/// The first row at or after `from` (or before, backwards) matching `query`, wrapping.
fn find_row(state: &ReviewState, query: &str, from: usize, forward: bool) -> Option<usize> {
    let count = state.row_count();
    if count == 0 {
        return None;
    }
    let needle = query.as_bytes();
    (0..count)
        .map(|k| {
            if forward {
                (from + k) % count
            } else {
                (from + count - k % count) % count
            }
        })
        .find(|&i| {
            if state.tab == Tab::Files {
                let node = state.tree.node(state.rows[i].node);
                contains(node.path.as_os_str().as_encoded_bytes(), needle)
            } else {
                row_text(state, state.tab, i).is_some_and(|t| contains(t.as_bytes(), needle))
            }
        })
}

/// Finds `query` among all tree nodes (folded or filtered away too) and reveals it.
fn reveal(state: &mut ReviewState, query: &str) -> bool {
    let needle = query.as_bytes();
    let Some(found) = state
        .tree
        .paths()
        .skip(1)
        .filter(|(_, p)| contains(p.as_os_str().as_encoded_bytes(), needle))
        .min_by(|a, b| a.1.cmp(b.1))
        .map(|(id, _)| id)
    else {
        return false;
    };
    let ancestors: Vec<NodeId> = state.tree.ancestors(found).collect();
    for a in ancestors {
        state.folds.insert(a, false);
    }
    if state.filter != Filter::All {
        state.filter = Filter::All;
    }
    state.rebuild_rows();
    if let Some(i) = state.rows.iter().position(|r| r.node == found) {
        move_to(state, i);
    }
    true
}

fn search_to(state: &mut ReviewState, query: &str, from: usize, forward: bool) -> bool {
    match find_row(state, query, from, forward) {
        Some(i) => {
            move_to(state, i);
            true
        }
        None => state.tab == Tab::Files && reveal(state, query),
    }
}

pub(super) fn search_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    let Overlay::Search { input, origin } = &mut state.overlay else {
        return None;
    };
    let origin = *origin;
    match key.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            move_to(state, origin);
            return None;
        }
        KeyCode::Enter => {
            let query = std::mem::take(input);
            state.overlay = Overlay::None;
            if query.is_empty() {
                state.search = None;
            } else {
                if !search_to(state, &query, state.cursor[state.tab.index()], true) {
                    error(state, format!("no match for `{query}`"));
                }
                state.search = Some(query);
            }
            return None;
        }
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => input.push(c),
        _ => return None,
    }
    let query = input.clone();
    if !query.is_empty() && find_row(state, &query, origin, true).is_some() {
        search_to(state, &query, origin, true);
    }
    None
}

pub(super) fn search_next(state: &mut ReviewState, forward: bool) {
    let Some(query) = state.search.clone() else {
        info(state, "no search yet: press / to search");
        return;
    };
    let at = state.cursor[state.tab.index()];
    let count = state.row_count().max(1);
    let from = if forward {
        (at + 1) % count
    } else {
        (at + count - 1) % count
    };
    if !search_to(state, &query, from, forward) {
        error(state, format!("no match for `{query}`"));
    }
}
