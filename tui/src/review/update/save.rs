//! The save dialog: where the profile goes, its text and its diff.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::review::model::{Overlay, ReviewState, SaveDialog};
use crate::review::profile;

use super::dialogs::edit_text;
use super::{Command, info};

pub(super) fn open_save(state: &mut ReviewState, then_quit: bool) {
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
pub(super) fn refresh_dialog(state: &mut ReviewState) {
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
    let diff = crate::review::diff::diff(existing.as_deref().unwrap_or(""), &text);
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

pub(super) fn save_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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
