//! The overlays' keys: help, editing a rule's path, the confirmations, quitting.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use nono_learn::grant::{self};
use nono_learn::suggest::display;

use crate::review::decision::{Decision, ItemKey, Rule, Verdict};
use crate::review::model::{CONFIRM_WORD, Overlay, ReviewState};

use super::decide::{describe, grant, initial_rule, reshape};
use super::save::open_save;
use super::undo::apply;
use super::{Command, error, info};

pub(super) fn help_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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
pub(super) fn edit_text(input: &mut String, key: &KeyEvent) -> bool {
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

pub(super) fn edit_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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

pub(super) fn confirm_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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
pub(super) fn confirm_path_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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

pub(super) fn request_quit(state: &mut ReviewState) -> Option<Command> {
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

pub(super) fn quit_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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
