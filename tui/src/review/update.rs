//! `update`: every message the review screen receives, turned into state changes and
//! at most one [`Command`] for the event loop to carry out. No I/O happens here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nono_enforcer::capability::Access;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use nono_learn::Msg as LearnMsg;
use nono_learn::grant::{self, narrow_host, never_whole, widen_host};
use nono_learn::suggest::{SuggestionKind, display};

use super::decision::{Decision, ItemKey, PathRule, Rule, Verdict};
use super::model::{
    CONFIRM_WORD, Class, Confirm, ConfirmPath, Filter, Focus, Governor, Overlay, ReviewState,
    SaveDialog, Status, Tab,
};
use super::profile;
use super::tree::{NodeId, ROOT};

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

fn info(state: &mut ReviewState, text: impl Into<String>) {
    state.status = Some(Status {
        text: text.into(),
        error: false,
    });
}

fn error(state: &mut ReviewState, text: impl Into<String>) {
    state.status = Some(Status {
        text: text.into(),
        error: true,
    });
}

/// Gives the keys back to the review (the command's terminal is gone or nothing reads
/// it any more).
fn give_focus_back(state: &mut ReviewState) -> Option<Command> {
    if state.focus != Focus::Output {
        return None;
    }
    state.focus = Focus::Main;
    state.scroll_into_view();
    sync_output_size(state)
}

fn ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

fn on_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    match &state.overlay {
        Overlay::None => {}
        Overlay::Help { .. } => return help_key(state, key),
        Overlay::Search { .. } => return search_key(state, key),
        Overlay::Edit { .. } => return edit_key(state, key),
        Overlay::Confirm(_) => return confirm_key(state, key),
        Overlay::ConfirmPath(_) => return confirm_path_key(state, key),
        Overlay::Save(_) => return save_key(state, key),
        Overlay::Quit { .. } => return quit_key(state, key),
    }
    if scroll_output(state, &key) {
        return None;
    }
    if state.focus == Focus::Output {
        let tab = matches!(key.code, KeyCode::Tab | KeyCode::BackTab);
        if !state.output.closed || tab {
            return output_key(state, key);
        }
        // Nothing can read the keys any more: they are the review's again.
        state.focus = Focus::Main;
        state.scroll_into_view();
    }
    state.status = None;
    if ctrl(&key, 'c') {
        return request_quit(state);
    }
    if ctrl(&key, 's') {
        open_save(state, false);
        return None;
    }
    if ctrl(&key, 'd') || ctrl(&key, 'f') {
        let page = state.list_height();
        move_by(state, page as isize);
        return None;
    }
    if ctrl(&key, 'u') || ctrl(&key, 'b') {
        let page = state.list_height();
        move_by(state, -(page as isize));
        return None;
    }
    match key.code {
        KeyCode::Char('q') => return request_quit(state),
        KeyCode::Char('?') | KeyCode::F(1) => state.overlay = Overlay::Help { scroll: 0 },
        KeyCode::Tab | KeyCode::BackTab => {
            state.focus = Focus::Output;
            return sync_output_size(state);
        }
        KeyCode::Char('1') => switch_tab(state, Tab::Files),
        KeyCode::Char('2') => switch_tab(state, Tab::Network),
        KeyCode::Char('3') => switch_tab(state, Tab::Exec),
        KeyCode::Char(']') => switch_tab(state, Tab::ALL[(state.tab.index() + 1) % 3]),
        KeyCode::Char('[') => switch_tab(state, Tab::ALL[(state.tab.index() + 2) % 3]),
        KeyCode::Char('j') | KeyCode::Down => move_by(state, 1),
        KeyCode::Char('k') | KeyCode::Up => move_by(state, -1),
        KeyCode::Char('g') | KeyCode::Home => move_to(state, 0),
        KeyCode::Char('G') | KeyCode::End => move_to(state, usize::MAX),
        KeyCode::PageDown => {
            let page = state.list_height();
            move_by(state, page as isize);
        }
        KeyCode::PageUp => {
            let page = state.list_height();
            move_by(state, -(page as isize));
        }
        KeyCode::Char('h') | KeyCode::Left => fold(state, false),
        KeyCode::Char('l') | KeyCode::Right => fold(state, true),
        KeyCode::Char(' ') => toggle_fold(state),
        KeyCode::Char('C') => {
            state.folds = (1..state.tree.len() as NodeId)
                .filter(|&id| state.tree.node(id).is_branch())
                .map(|id| (id, true))
                .collect();
            state.rebuild_rows();
        }
        KeyCode::Char('E') => {
            state.folds = (0..state.tree.len() as NodeId)
                .filter(|&id| state.tree.node(id).is_branch())
                .map(|id| (id, false))
                .collect();
            state.rebuild_rows();
        }
        KeyCode::Char('/') => {
            let origin = state.cursor[state.tab.index()];
            state.overlay = Overlay::Search {
                input: String::new(),
                origin,
            };
        }
        KeyCode::Char('n') => search_next(state, true),
        KeyCode::Char('N') => search_next(state, false),
        KeyCode::Char('p') => next_pending(state, true),
        KeyCode::Char('P') => next_pending(state, false),
        KeyCode::Char('f') | KeyCode::Char('F') if state.tab == Tab::Exec => {
            toggle_failed_execs(state, key.code == KeyCode::Char('f'))
        }
        KeyCode::Char('f') => set_filter(state, state.filter.next()),
        KeyCode::Char('F') => set_filter(state, Filter::All),
        KeyCode::Char('z') => {
            state.zoom = !state.zoom;
            state.scroll_into_view();
            return sync_output_size(state);
        }
        KeyCode::Esc => state.search = None,
        KeyCode::Char('s') => open_save(state, false),
        KeyCode::Char('u') => undo(state),
        KeyCode::Char('A') => accept_all_safe(state),
        KeyCode::Char('y') | KeyCode::Enter => act(state, Action::Accept),
        KeyCode::Char('r') => act(state, Action::Allow(Access::Read)),
        KeyCode::Char('w') => act(state, Action::Allow(Access::ReadWrite)),
        KeyCode::Char('d') => act(state, Action::Deny),
        KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('>') => act(state, Action::Widen),
        KeyCode::Char('-') | KeyCode::Char('<') => act(state, Action::Narrow),
        KeyCode::Char('e') => act(state, Action::Edit),
        KeyCode::Char('i') => act(state, Action::Include),
        _ => {}
    }
    None
}

// ---------------------------------------------------------------------------------
// Moving around.

fn switch_tab(state: &mut ReviewState, tab: Tab) {
    state.tab = tab;
    state.scroll_into_view();
}

fn move_to(state: &mut ReviewState, index: usize) {
    let t = state.tab.index();
    state.cursor[t] = index.min(state.row_count().saturating_sub(1));
    if state.tab == Tab::Files {
        state.selected_node = state.current_row().map(|r| r.node);
    }
    state.scroll_into_view();
}

fn move_by(state: &mut ReviewState, delta: isize) {
    let t = state.tab.index();
    let at = state.cursor[t] as isize + delta;
    move_to(state, at.max(0) as usize);
}

fn fold(state: &mut ReviewState, open: bool) {
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

fn toggle_fold(state: &mut ReviewState) {
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

fn set_filter(state: &mut ReviewState, filter: Filter) {
    state.filter = filter;
    state.rebuild_rows();
    info(
        state,
        format!("filter: {} ({} rows)", filter.name(), state.rows.len()),
    );
}

/// `f` on the Exec tab shows or hides the failed `PATH` lookups; `F` shows them.
fn toggle_failed_execs(state: &mut ReviewState, toggle: bool) {
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

// ---------------------------------------------------------------------------------
// Finding what to decide.

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
fn seek_pending(state: &mut ReviewState, from: Option<NodeId>, forward: bool) -> bool {
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
fn next_pending(state: &mut ReviewState, forward: bool) {
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

// ---------------------------------------------------------------------------------
// Searching.

/// Case-insensitive (ASCII) substring search on bytes.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

fn row_text(state: &ReviewState, tab: Tab, i: usize) -> Option<String> {
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

fn search_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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

fn search_next(state: &mut ReviewState, forward: bool) {
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

// ---------------------------------------------------------------------------------
// Decisions.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Accept,
    Allow(Access),
    Deny,
    Widen,
    Narrow,
    Edit,
    Include,
}

/// Records the previous values of the decisions about to change, applies the
/// changes, and makes them one undo step.
fn apply(state: &mut ReviewState, changes: Vec<(ItemKey, Option<Decision>)>) {
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

fn undo(state: &mut ReviewState) {
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

fn node_is_dir(state: &ReviewState, id: NodeId) -> bool {
    state.tree.node(id).is_branch() || state.path_node(id).is_some_and(|n| n.dir)
}

/// The access the command needed on a node (successful and refused accesses).
fn needed_access(state: &ReviewState, id: NodeId) -> Option<Access> {
    let node = state.path_node(id)?;
    let mut all = node.ok;
    for need in node.failed.iter() {
        all.insert(need);
    }
    all.access()
}

/// The rule a row starts from: its grant suggestion, or the row itself.
fn initial_rule(state: &ReviewState, id: NodeId) -> PathRule {
    let path = state.tree.path_buf(id);
    let anchor_dir = node_is_dir(state, id);
    if let Some(s) = state.suggestion(id)
        && s.kind == SuggestionKind::Grant
        && let (Some(p), Some(access)) = (&s.path, s.access)
    {
        return PathRule {
            path: p.clone(),
            dir: s.dir,
            access,
            anchor_dir,
            bypass: None,
        };
    }
    PathRule {
        path,
        dir: anchor_dir,
        access: needed_access(state, id).unwrap_or(Access::Read),
        anchor_dir,
        bypass: None,
    }
}

fn describe(rule: &PathRule, home: &Path) -> String {
    format!(
        "{}{} ({})",
        display(&rule.path, home),
        if rule.dir { "/" } else { "" },
        rule.access.name()
    )
}

/// Allows a path rule after the checks: never `/` or `$HOME`; a denied (sensitive)
/// path opens the confirmation instead.
fn allow_path(state: &mut ReviewState, key: ItemKey, mut rule: PathRule) {
    let home = state.learn.ctx.home.clone();
    if let Some(why) = never_whole(&rule.path, &home) {
        error(state, format!("not allowed: {why}"));
        return;
    }
    if let Some(s) = state.learn.ctx.sensitive(&rule.path).cloned() {
        if rule.bypass.as_deref() != Some(s.path.as_path()) {
            rule.bypass = None;
            state.overlay = Overlay::Confirm(Box::new(Confirm {
                key,
                rule,
                denied: s.path,
                label: s.label,
                input: String::new(),
                error: None,
            }));
            return;
        }
    } else {
        rule.bypass = None;
    }
    if let Some(dir) = state.path_dir_reached(&rule) {
        state.overlay = Overlay::ConfirmPath(Box::new(ConfirmPath {
            key,
            rule,
            on_path: dir.to_path_buf(),
        }));
        return;
    }
    grant(state, key, rule);
}

/// Allows a path rule, checks done.
fn grant(state: &mut ReviewState, key: ItemKey, rule: PathRule) {
    let home = state.learn.ctx.home.clone();
    let carved = if rule.dir {
        state
            .decisions
            .values()
            .filter(|d| d.verdict == Verdict::Deny)
            .filter_map(|d| d.path_rule())
            .filter(|r| r.path != rule.path && r.path.starts_with(&rule.path))
            .count()
    } else {
        0
    };
    let mut text = format!("allowed {}", describe(&rule, &home));
    if carved > 0 {
        text.push_str(&format!(
            "; {carved} denied path{} inside carved out (filesystem.deny): {}",
            if carved == 1 { "" } else { "s" },
            carve_cost(&rule.path, &home)
        ));
    }
    apply(
        state,
        vec![(
            key,
            Some(Decision {
                verdict: Verdict::Allow,
                rule: Rule::Path(rule),
            }),
        )],
    );
    info(state, text);
}

/// What carving a denied path out of the granted directory `dir` costs (Landlock
/// cannot deny below a grant: see docs/profiles.md, "How denials work").
fn carve_cost(dir: &Path, home: &Path) -> String {
    format!(
        "{}/ is then granted entry by entry, so the command cannot create, delete, rename or list entries directly in it (nor in the directories down to the denied path)",
        display(dir, home)
    )
}

/// The decision (key and rule) widen/narrow/edit work on for a node: its own, the one
/// deciding it from above, or a new pending one from its suggestion.
fn shaping_target(state: &ReviewState, id: NodeId) -> (ItemKey, Decision) {
    let own_key = ItemKey::Path(state.tree.path_buf(id));
    match state.governor(id) {
        Governor::Own(d) if d.path_rule().is_some() => (own_key, d.clone()),
        Governor::Rule { anchor, decision } => {
            (ItemKey::Path(anchor.to_path_buf()), decision.clone())
        }
        _ => (
            own_key,
            Decision {
                verdict: Verdict::Pending,
                rule: Rule::Path(initial_rule(state, id)),
            },
        ),
    }
}

/// Stores a reshaped rule. A rule that reaches into a denied path loses an earlier
/// confirmation and goes back to pending.
fn reshape(state: &mut ReviewState, key: ItemKey, mut decision: Decision, what: &str) {
    let home = state.learn.ctx.home.clone();
    let mut note = String::new();
    if let Rule::Path(rule) = &mut decision.rule {
        let sensitive = state.learn.ctx.sensitive(&rule.path).is_some();
        if (rule.bypass.is_some() || sensitive) && decision.verdict == Verdict::Allow {
            decision.verdict = Verdict::Pending;
            note = " — sensitive: confirm again to allow".into();
        }
        rule.bypass = None;
        let verdict = match decision.verdict {
            Verdict::Pending if note.is_empty() => " — pending: y/r/w allows it, d denies it",
            Verdict::Pending => "",
            Verdict::Allow => " — allowed",
            Verdict::Deny => " — denied",
        };
        let text = format!("{what} to {}{verdict}{note}", describe(rule, &home));
        apply(state, vec![(key, Some(decision))]);
        info(state, text);
    }
}

fn act(state: &mut ReviewState, action: Action) {
    state.ensure_suggestions();
    match state.tab {
        Tab::Network => return act_on_host(state, action),
        Tab::Files | Tab::Exec => {}
    }
    let Some(id) = state.current_node() else {
        info(state, "nothing selected");
        return;
    };
    if id == ROOT && action != Action::Deny {
        error(state, "not allowed: / is never granted whole");
        return;
    }
    match action {
        Action::Accept => accept(state, id),
        Action::Allow(access) => allow_with(state, id, access),
        Action::Deny => deny(state, id),
        Action::Widen => {
            let (key, mut d) = shaping_target(state, id);
            let home = state.learn.ctx.home.clone();
            let Rule::Path(rule) = &mut d.rule else {
                return;
            };
            match grant::widen(&rule.path, &home) {
                Ok(wider) => {
                    rule.path = wider;
                    rule.dir = true;
                    reshape(state, key, d, "widened");
                }
                Err(e) => error(state, e),
            }
        }
        Action::Narrow => {
            let (key, mut d) = shaping_target(state, id);
            let ItemKey::Path(anchor) = &key else { return };
            let anchor = anchor.clone();
            let Rule::Path(rule) = &mut d.rule else {
                return;
            };
            match grant::narrow(&rule.path, &anchor) {
                Ok(narrower) => {
                    rule.dir = if narrower == anchor {
                        rule.anchor_dir
                    } else {
                        true
                    };
                    rule.path = narrower;
                    reshape(state, key, d, "narrowed");
                }
                Err(e) => error(state, e),
            }
        }
        Action::Edit => {
            let (key, d) = shaping_target(state, id);
            let Rule::Path(rule) = &d.rule else { return };
            let home = &state.learn.ctx.home;
            let mut input = display(&rule.path, home).replace("$$", "$");
            if rule.dir && !input.ends_with('/') {
                input.push('/');
            }
            state.overlay = Overlay::Edit {
                key,
                input,
                error: None,
            };
        }
        Action::Include => match state.suggestion(id).map(|s| s.kind.clone()) {
            Some(SuggestionKind::IncludeGroup { group }) => include_group(state, &group),
            _ => info(state, "no group is suggested for this row"),
        },
    }
}

fn include_group(state: &mut ReviewState, group: &str) {
    apply(
        state,
        vec![(
            ItemKey::Group(group.to_string()),
            Some(Decision {
                verdict: Verdict::Allow,
                rule: Rule::Group(group.to_string()),
            }),
        )],
    );
    info(state, format!("group `{group}` will be included"));
}

fn accept(state: &mut ReviewState, id: NodeId) {
    let home = state.learn.ctx.home.clone();
    match state.governor(id) {
        Governor::Own(d) if d.verdict == Verdict::Allow => {
            return info(state, "already allowed");
        }
        Governor::Own(d) => {
            if let Rule::Path(rule) = &d.rule {
                let rule = rule.clone();
                let key = ItemKey::Path(state.tree.path_buf(id));
                return allow_path(state, key, rule);
            }
        }
        Governor::Rule { anchor, decision } if decision.verdict == Verdict::Allow => {
            let text = format!(
                "already allowed by {}{}",
                decision
                    .path_rule()
                    .map(|r| describe(r, &home))
                    .unwrap_or_default(),
                if state.tree.node(id).path.as_ref() != anchor {
                    format!(" (decided on {})", display(anchor, &home))
                } else {
                    String::new()
                }
            );
            return info(state, text);
        }
        Governor::Workdir(d) | Governor::Group(d) if d.verdict == Verdict::Allow => {
            return info(state, "already allowed");
        }
        _ => {}
    }
    let kind = state.suggestion(id).map(|s| (s.kind.clone(), s.access));
    match kind {
        Some((SuggestionKind::Workdir, access)) => {
            let access = access.unwrap_or(Access::ReadWrite);
            apply(
                state,
                vec![(
                    ItemKey::Workdir,
                    Some(Decision {
                        verdict: Verdict::Allow,
                        rule: Rule::Workdir(access),
                    }),
                )],
            );
            info(state, format!("workdir.access = {access}"));
        }
        Some((SuggestionKind::IncludeGroup { group }, _)) => include_group(state, &group),
        Some((SuggestionKind::Covered { by }, _)) => {
            info(state, format!("already granted by {by}: no rule needed"))
        }
        Some((SuggestionKind::Grant, _)) | Some((SuggestionKind::Sensitive { .. }, _)) => {
            let key = ItemKey::Path(state.tree.path_buf(id));
            let rule = initial_rule(state, id);
            allow_path(state, key, rule);
        }
        Some((SuggestionKind::Host, _)) => {}
        None => match state.class(id) {
            Class::Failed => info(
                state,
                "a failed probe: nothing suggested; r or w grants it anyway",
            ),
            Class::Lookup => info(state, "only looked up: needs no grant"),
            _ => info(
                state,
                "nothing suggested for this row; r or w grants it anyway",
            ),
        },
    }
}

fn allow_with(state: &mut ReviewState, id: NodeId, access: Access) {
    let own_key = ItemKey::Path(state.tree.path_buf(id));
    let own = state.decisions.get(&own_key).cloned();
    if own.is_none()
        && let Some(s) = state.suggestion(id)
        && s.kind == SuggestionKind::Workdir
    {
        apply(
            state,
            vec![(
                ItemKey::Workdir,
                Some(Decision {
                    verdict: Verdict::Allow,
                    rule: Rule::Workdir(access),
                }),
            )],
        );
        return info(state, format!("workdir.access = {access}"));
    }
    if own.is_none()
        && let Governor::Rule { decision, .. } = state.governor(id)
        && decision.verdict == Verdict::Allow
        && decision
            .path_rule()
            .is_some_and(|r| r.access.covers(access))
    {
        return info(state, "already allowed by the rule above it");
    }
    let mut rule = match own.as_ref().and_then(|d| d.path_rule()) {
        Some(rule) => rule.clone(),
        None => initial_rule(state, id),
    };
    rule.access = access;
    allow_path(state, own_key, rule);
}

/// `d`: denies the row under the cursor — its own path, never the wider rule it
/// shares with other rows (a directory suggestion, the working directory, a group),
/// which stays as it was. Inside an allowed directory the denial is a carve-out, and
/// the status line says what that costs. On the working directory's own row, `d`
/// denies the working directory; a rule shaped on this row (widened, narrowed,
/// edited, not yet decided) is denied as shaped.
fn deny(state: &mut ReviewState, id: NodeId) {
    let home = state.learn.ctx.home.clone();
    let workdir = state.learn.ctx.workdir.clone();
    let path = state.tree.path_buf(id);
    let own_key = ItemKey::Path(path.clone());
    let dir = node_is_dir(state, id);
    let row_rule = PathRule {
        path: path.clone(),
        dir,
        access: needed_access(state, id).unwrap_or(Access::ReadWrite),
        anchor_dir: dir,
        bypass: None,
    };
    let denied = |rule: PathRule| Decision {
        verdict: Verdict::Deny,
        rule: Rule::Path(PathRule {
            bypass: None,
            ..rule
        }),
    };
    let row_text = describe(&row_rule, &home);
    let suggested = state.suggestion(id).map(|s| s.kind.clone());
    // The working directory's own row: the whole working directory.
    if path == workdir && matches!(suggested, Some(SuggestionKind::Workdir)) {
        apply(
            state,
            vec![(
                ItemKey::Workdir,
                Some(Decision {
                    verdict: Verdict::Deny,
                    rule: Rule::Workdir(Access::ReadWrite),
                }),
            )],
        );
        return info(
            state,
            "working directory denied: workdir.access is left out",
        );
    }
    match state.governor(id) {
        Governor::Own(d) if d.verdict == Verdict::Deny => {
            return info(state, "already denied");
        }
        Governor::Own(d) => {
            let Some(rule) = d.path_rule().cloned() else {
                return;
            };
            if d.verdict == Verdict::Pending || rule.path == path {
                let text = describe(&rule, &home);
                apply(state, vec![(own_key, Some(denied(rule)))]);
                return info(state, format!("denied {text}"));
            }
            // A wider rule allowed on this row: it stays allowed (now decided on its
            // own path) and this row is carved out of it.
            let grant_key = ItemKey::Path(rule.path.clone());
            let grant_path = rule.path.clone();
            let grant = Decision {
                verdict: Verdict::Allow,
                rule: Rule::Path(PathRule {
                    anchor_dir: true,
                    ..rule
                }),
            };
            apply(
                state,
                vec![(grant_key, Some(grant)), (own_key, Some(denied(row_rule)))],
            );
            return info(
                state,
                format!(
                    "denied {row_text} only, carved out of {}/ (filesystem.deny): {}",
                    display(&grant_path, &home),
                    carve_cost(&grant_path, &home)
                ),
            );
        }
        Governor::Rule { decision, .. } if decision.verdict == Verdict::Deny => {
            return info(state, "already denied by the rule above it");
        }
        Governor::Rule { decision, .. } => {
            let above = decision.path_rule().map(|r| r.path.clone());
            apply(state, vec![(own_key, Some(denied(row_rule)))]);
            let Some(above) = above else { return };
            return info(
                state,
                format!(
                    "denied {row_text}, carved out of {}/ (filesystem.deny): {}",
                    display(&above, &home),
                    carve_cost(&above, &home)
                ),
            );
        }
        Governor::Workdir(d) if d.verdict == Verdict::Deny => {
            return info(state, "already denied with the working directory");
        }
        Governor::Workdir(d) => {
            let allowed = d.verdict == Verdict::Allow;
            apply(state, vec![(own_key, Some(denied(row_rule)))]);
            return info(
                state,
                if allowed {
                    format!(
                        "denied {row_text}, carved out of the working directory (filesystem.deny): {}",
                        carve_cost(&workdir, &home)
                    )
                } else {
                    format!("denied {row_text} only; the working directory stays as it was")
                },
            );
        }
        Governor::Group(d) if d.verdict == Verdict::Deny => {
            return info(state, "already denied with its group");
        }
        Governor::Group(d) => {
            let allowed = d.verdict == Verdict::Allow;
            let group = match &d.rule {
                Rule::Group(g) => g.clone(),
                _ => String::new(),
            };
            apply(state, vec![(own_key, Some(denied(row_rule)))]);
            return info(
                state,
                if allowed {
                    format!(
                        "denied {row_text}, carved out of group `{group}` (filesystem.deny): the directory of the group holding it is then granted entry by entry"
                    )
                } else {
                    format!("denied {row_text} only; group `{group}` stays as it was")
                },
            );
        }
        Governor::None => {}
    }
    let shared = match &suggested {
        Some(SuggestionKind::Workdir) => Some("the working directory (workdir.access)".to_string()),
        Some(SuggestionKind::IncludeGroup { group }) => Some(format!("group `{group}`")),
        Some(SuggestionKind::Grant) => state.suggestion(id).and_then(|s| {
            s.path
                .as_ref()
                .filter(|p| **p != path)
                .map(|p| format!("{}{}", display(p, &home), if s.dir { "/" } else { "" }))
        }),
        _ => None,
    };
    apply(state, vec![(own_key, Some(denied(row_rule)))]);
    info(
        state,
        match shared {
            Some(rest) => format!(
                "denied {row_text} only; {rest} stays pending for the other rows (allowing it carves this one out)"
            ),
            None => format!("denied {row_text}"),
        },
    );
}

fn accept_all_safe(state: &mut ReviewState) {
    state.ensure_suggestions();
    let ctx = &state.learn.ctx;
    let mut changes: Vec<(ItemKey, Option<Decision>)> = Vec::new();
    for s in &state.suggestions {
        let undecided = |key: &ItemKey| !state.decisions.contains_key(key);
        let change = match &s.kind {
            SuggestionKind::Grant => {
                let (Some(path), Some(access)) = (&s.path, s.access) else {
                    continue;
                };
                let key = ItemKey::Path(path.clone());
                // A row decided by hand keeps its decision; a row only denied does not
                // stop the rest of the suggestion (the profile carves it out).
                let governed = s.observed.iter().chain(std::iter::once(path)).any(|p| {
                    state
                        .tree
                        .find(p)
                        .is_some_and(|id| match state.governor(id) {
                            Governor::None => false,
                            Governor::Own(d) => {
                                d.verdict != Verdict::Deny
                                    || d.path_rule().is_none_or(|r| r.path != *p)
                            }
                            _ => true,
                        })
                });
                let rule = PathRule {
                    path: path.clone(),
                    dir: s.dir,
                    access,
                    anchor_dir: s.dir,
                    bypass: None,
                };
                if !grant::may_accept_unasked(path, s.safe, ctx)
                    || state.path_dir_reached(&rule).is_some()
                {
                    continue;
                }
                if governed || !undecided(&key) {
                    continue;
                }
                (key, Rule::Path(rule))
            }
            SuggestionKind::IncludeGroup { group } => {
                (ItemKey::Group(group.clone()), Rule::Group(group.clone()))
            }
            SuggestionKind::Workdir => (
                ItemKey::Workdir,
                Rule::Workdir(s.access.unwrap_or(Access::ReadWrite)),
            ),
            SuggestionKind::Host => (ItemKey::Host(s.rule.clone()), Rule::Host(s.rule.clone())),
            SuggestionKind::Sensitive { .. } | SuggestionKind::Covered { .. } => continue,
        };
        if !s.safe {
            continue;
        }
        if undecided(&change.0) {
            changes.push((
                change.0,
                Some(Decision {
                    verdict: Verdict::Allow,
                    rule: change.1,
                }),
            ));
        }
    }
    let n = changes.len();
    apply(state, changes);
    // The same count as the header's, so the two never disagree.
    let pending = state.pending_count();
    let sensitive = state
        .suggestions
        .iter()
        .filter(|s| matches!(s.kind, SuggestionKind::Sensitive { .. }))
        .count();
    let mut text = format!(
        "accepted {n} safe suggestion{}; {pending} pending left for you",
        if n == 1 { "" } else { "s" }
    );
    if pending > 0 {
        text.push_str(" (system writes, PATH directories, rules you shaped: p finds them)");
    }
    if sensitive > 0 {
        text.push_str(&format!(
            "; {sensitive} sensitive group{} of paths stay denied",
            if sensitive == 1 { "" } else { "s" }
        ));
    }
    info(state, text);
}

fn act_on_host(state: &mut ReviewState, action: Action) {
    let i = state.cursor[1];
    let Some((host, _)) = state.host_row(i) else {
        return info(
            state,
            "socket peers are reached through nono's proxy by host name: allow the host instead",
        );
    };
    let host = host.clone();
    let key = ItemKey::Host(host.clone());
    let current = state.decisions.get(&key).cloned();
    let pattern = match current.as_ref().map(|d| &d.rule) {
        Some(Rule::Host(p)) => p.clone(),
        _ => host.clone(),
    };
    let verdict = current.as_ref().map_or(Verdict::Pending, |d| d.verdict);
    let set = |state: &mut ReviewState, verdict, pattern: String| {
        let text = format!(
            "{pattern}: {}",
            match verdict {
                Verdict::Allow => "allowed (network.allow_domain)",
                Verdict::Deny => "denied",
                Verdict::Pending => "pending: y allows it",
            }
        );
        apply(
            state,
            vec![(
                key.clone(),
                Some(Decision {
                    verdict,
                    rule: Rule::Host(pattern),
                }),
            )],
        );
        info(state, text);
    };
    match action {
        Action::Accept | Action::Allow(_) | Action::Include => {
            if verdict == Verdict::Allow {
                return info(state, "already allowed");
            }
            set(state, Verdict::Allow, pattern)
        }
        Action::Deny => set(state, Verdict::Deny, pattern),
        Action::Widen => match widen_host(&pattern) {
            Ok(p) => set(state, verdict, p),
            Err(e) => error(state, e),
        },
        Action::Narrow => match narrow_host(&pattern, &host) {
            Ok(p) => set(state, verdict, p),
            Err(e) => error(state, e),
        },
        Action::Edit => info(state, "host rules are widened with + and narrowed with -"),
    }
}

// ---------------------------------------------------------------------------------
// Overlays.

fn help_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    let Overlay::Help { scroll } = &mut state.overlay else {
        return None;
    };
    match key.code {
        KeyCode::Char('j') | KeyCode::Down => *scroll = scroll.saturating_add(1),
        KeyCode::Char('k') | KeyCode::Up => *scroll = scroll.saturating_sub(1),
        KeyCode::PageDown => *scroll = scroll.saturating_add(10),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
        KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
        _ => state.overlay = Overlay::None,
    }
    None
}

/// Line editing shared by the text inputs: returns true if the key was consumed.
fn edit_text(input: &mut String, key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
        KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            let trimmed = input.trim_end_matches('/').len();
            let cut = input[..trimmed].rfind('/').map_or(0, |i| i + 1);
            input.truncate(cut);
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => input.push(c),
        _ => return false,
    }
    true
}

fn edit_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    let Overlay::Edit {
        key: item,
        input,
        error: err,
    } = &mut state.overlay
    else {
        return None;
    };
    match key.code {
        KeyCode::Esc => state.overlay = Overlay::None,
        KeyCode::Enter => {
            let item = item.clone();
            let text = input.clone();
            match commit_edit(state, &item, &text) {
                Ok(()) => {}
                Err(e) => {
                    if let Overlay::Edit { error, .. } = &mut state.overlay {
                        *error = Some(e);
                    }
                }
            }
        }
        _ => {
            if edit_text(input, &key) {
                *err = None;
            }
        }
    }
    None
}

/// Replaces the rule's path with a typed one, which must still cover the observed
/// path (the anchor) and must not be `/` or `$HOME`.
fn commit_edit(state: &mut ReviewState, item: &ItemKey, text: &str) -> Result<(), String> {
    let ItemKey::Path(anchor) = item else {
        return Err("only file rules can be edited".into());
    };
    let ctx = &state.learn.ctx;
    let (path, slash) = grant::parse_path(text, &ctx.home, &ctx.workdir)?;
    grant::check_edited(&path, anchor, &ctx.home)?;
    let mut decision = match state.decisions.get(item) {
        Some(d) => d.clone(),
        None => {
            let id = state
                .tree
                .find(anchor)
                .ok_or_else(|| "the row is gone".to_string())?;
            Decision {
                verdict: Verdict::Pending,
                rule: Rule::Path(initial_rule(state, id)),
            }
        }
    };
    let Rule::Path(rule) = &mut decision.rule else {
        return Err("only file rules can be edited".into());
    };
    if path == *anchor {
        if slash && !rule.anchor_dir {
            return Err(format!("{} is a file, not a directory", path.display()));
        }
        rule.dir = rule.anchor_dir;
    } else {
        rule.dir = true;
    }
    rule.path = path;
    state.overlay = Overlay::None;
    reshape(state, item.clone(), decision, "rule set");
    Ok(())
}

fn confirm_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    let Overlay::Confirm(confirm) = &mut state.overlay else {
        return None;
    };
    match key.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            info(state, "not granted");
        }
        KeyCode::Enter => {
            if confirm.input.trim() == CONFIRM_WORD {
                let mut rule = confirm.rule.clone();
                rule.bypass = Some(confirm.denied.clone());
                let key = confirm.key.clone();
                let home = state.learn.ctx.home.clone();
                let text = format!(
                    "allowed sensitive {} — {} goes into filesystem.bypass_protection",
                    describe(&rule, &home),
                    display(&confirm.denied, &home)
                );
                state.overlay = Overlay::None;
                apply(
                    state,
                    vec![(
                        key,
                        Some(Decision {
                            verdict: Verdict::Allow,
                            rule: Rule::Path(rule),
                        }),
                    )],
                );
                error(state, text);
            } else {
                confirm.error = Some(format!(
                    "`{}` is not `{CONFIRM_WORD}`: nothing was granted",
                    confirm.input.trim()
                ));
                confirm.input.clear();
            }
        }
        _ => {
            if edit_text(&mut confirm.input, &key) {
                confirm.error = None;
            }
        }
    }
    None
}

/// The `PATH` warning: `y` allows the write grant, anything else keeps it out.
fn confirm_path_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    let Overlay::ConfirmPath(confirm) = std::mem::take(&mut state.overlay) else {
        return None;
    };
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') => {
            let home = state.learn.ctx.home.clone();
            let on_path = display(&confirm.on_path, &home);
            grant(state, confirm.key, confirm.rule);
            if let Some(status) = &mut state.status {
                status.text = format!("{} — {on_path} is on PATH", status.text);
                status.error = true;
            }
        }
        _ => info(state, "not granted"),
    }
    None
}

fn request_quit(state: &mut ReviewState) -> Option<Command> {
    let unsaved = state.unsaved();
    let running = state.running();
    if unsaved || running {
        state.overlay = Overlay::Quit { unsaved, running };
        None
    } else {
        state.quit = true;
        Some(Command::Quit)
    }
}

fn quit_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') => {
            state.overlay = Overlay::None;
            state.quit = true;
            Some(Command::Quit)
        }
        KeyCode::Char('s') | KeyCode::Char('S') => {
            open_save(state, true);
            None
        }
        _ => {
            state.overlay = Overlay::None;
            None
        }
    }
}

fn open_save(state: &mut ReviewState, then_quit: bool) {
    let input = state
        .saved_to
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| state.config.default_target.clone());
    state.overlay = Overlay::Save(Box::new(SaveDialog {
        input,
        target: Err(String::new()),
        text: String::new(),
        diff: Vec::new(),
        against: String::new(),
        existing: None,
        error: None,
        scroll: 0,
        then_quit,
    }));
    refresh_dialog(state);
}

/// Recomputes the save dialog's target, profile text and diff.
fn refresh_dialog(state: &mut ReviewState) {
    let Overlay::Save(dialog) = &state.overlay else {
        return;
    };
    let config = &state.config;
    let target = profile::target(
        &dialog.input,
        &config.profiles_dir,
        &config.cwd,
        &state.learn.ctx.home,
    );
    let name = target
        .as_ref()
        .map(|p| profile::name_of(p))
        .unwrap_or_else(|_| "learned".into());
    let text = profile::to_text(&profile::build(state, &name));
    let existing = dialog.existing.clone();
    let diff = super::diff::diff(existing.as_deref().unwrap_or(""), &text);
    let against = match &existing {
        Some(_) => "the existing file".to_string(),
        None => format!(
            "base profile `{}` (extended: only these lines are added on top of it)",
            config.base_profile
        ),
    };
    if let Overlay::Save(dialog) = &mut state.overlay {
        dialog.target = target;
        dialog.text = text;
        dialog.diff = diff;
        dialog.against = against;
    }
}

fn save_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    let Overlay::Save(dialog) = &mut state.overlay else {
        return None;
    };
    match key.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            info(state, "not saved");
        }
        KeyCode::Enter => match &dialog.target {
            Ok(path) => {
                return Some(Command::Save {
                    path: path.clone(),
                    contents: dialog.text.clone(),
                    overwrite: dialog.existing.is_some(),
                });
            }
            Err(e) => dialog.error = Some(e.clone()),
        },
        KeyCode::Down => dialog.scroll = dialog.scroll.saturating_add(1),
        KeyCode::Up => dialog.scroll = dialog.scroll.saturating_sub(1),
        KeyCode::PageDown => dialog.scroll = dialog.scroll.saturating_add(10),
        KeyCode::PageUp => dialog.scroll = dialog.scroll.saturating_sub(10),
        _ => {
            if edit_text(&mut dialog.input, &key) {
                dialog.existing = None;
                dialog.error = None;
                refresh_dialog(state);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// The command's terminal.

/// Keeps the terminal emulator and the pty at the output pane's size.
fn sync_output_size(state: &mut ReviewState) -> Option<Command> {
    let (rows, cols) = super::layout::output_size(state.size, state.focus, state.zoom);
    if rows == 0 || cols == 0 || (rows, cols) == state.output.size() {
        return None;
    }
    state.output.set_size(rows, cols);
    Some(Command::ResizePty { rows, cols })
}

/// Scrolls the output pane through its scrollback: Shift with PgUp/PgDn, ↑/↓,
/// Home/End in either pane, and `{`/`}` from the review. Returns true if it did.
fn scroll_output(state: &mut ReviewState, key: &KeyEvent) -> bool {
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    let page = state.output.size().0.saturating_sub(1).max(1) as isize;
    let review = state.focus == Focus::Main;
    match key.code {
        KeyCode::PageUp if shift => state.output.scroll(page),
        KeyCode::PageDown if shift => state.output.scroll(-page),
        KeyCode::Up if shift => state.output.scroll(1),
        KeyCode::Down if shift => state.output.scroll(-1),
        KeyCode::Home if shift => state.output.scroll_to_oldest(),
        KeyCode::End if shift => state.output.scroll_to_live(),
        KeyCode::Char('{') if review => state.output.scroll(page),
        KeyCode::Char('}') if review => state.output.scroll(-page),
        _ => return false,
    }
    true
}

fn output_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Tab | KeyCode::BackTab => {
            state.focus = Focus::Main;
            return sync_output_size(state);
        }
        KeyCode::Char('t') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            return Some(Command::SendToPty(b"\t".to_vec()));
        }
        _ => {}
    }
    if state.output.closed {
        info(state, "the command's terminal is closed; Tab goes back");
        return None;
    }
    // Typing goes back to the live screen, as in a terminal.
    state.output.scroll_to_live();
    key_bytes(&key, state.output.screen().application_cursor()).map(Command::SendToPty)
}

/// The bytes a terminal sends for a key.
pub fn key_bytes(key: &KeyEvent, app_cursor: bool) -> Option<Vec<u8>> {
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let arrow = |c: u8| {
        if app_cursor {
            vec![0x1b, b'O', c]
        } else {
            vec![0x1b, b'[', c]
        }
    };
    let mut bytes = match key.code {
        KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
            let c = c.to_ascii_lowercase();
            match c {
                'a'..='z' => vec![c as u8 - b'a' + 1],
                ' ' | '@' => vec![0],
                '[' => vec![0x1b],
                '\\' => vec![0x1c],
                ']' => vec![0x1d],
                _ => return None,
            }
        }
        KeyCode::Char(c) => c.to_string().into_bytes(),
        KeyCode::Enter => vec![b'\r'],
        KeyCode::Backspace => vec![0x7f],
        KeyCode::Esc => vec![0x1b],
        KeyCode::Up => arrow(b'A'),
        KeyCode::Down => arrow(b'B'),
        KeyCode::Right => arrow(b'C'),
        KeyCode::Left => arrow(b'D'),
        KeyCode::Home => arrow(b'H'),
        KeyCode::End => arrow(b'F'),
        KeyCode::PageUp => b"\x1b[5~".to_vec(),
        KeyCode::PageDown => b"\x1b[6~".to_vec(),
        KeyCode::Delete => b"\x1b[3~".to_vec(),
        KeyCode::Insert => b"\x1b[2~".to_vec(),
        KeyCode::F(n @ 1..=4) => vec![0x1b, b'O', b'P' + n - 1],
        KeyCode::F(n @ 5..=12) => {
            let code = [15, 17, 18, 19, 20, 21, 23, 24][(n - 5) as usize];
            format!("\x1b[{code}~").into_bytes()
        }
        _ => return None,
    };
    if alt {
        bytes.insert(0, 0x1b);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests;
