//! The key map: which key does what, given the overlay and the focus.

use nono_enforcer::capability::Access;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::review::model::{Filter, Focus, Overlay, ReviewState, Tab};
use crate::review::tree::NodeId;

use super::Command;
use super::decide::{Action, accept_all_safe, act};
use super::dialogs::{confirm_key, confirm_path_key, edit_key, help_key, quit_key, request_quit};
use super::nav::{
    fold, move_by, move_to, next_pending, set_filter, switch_tab, toggle_failed_execs, toggle_fold,
};
use super::pty::{output_key, scroll_output, sync_output_size};
use super::save::{open_save, save_key};
use super::search::{search_key, search_next};
use super::undo::undo;

fn ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

pub(super) fn on_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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
