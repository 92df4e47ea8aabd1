//! The command's terminal: its size, scrolling it, and keys turned into its bytes.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::review::model::{Focus, ReviewState};

use super::{Command, info};

/// Keeps the terminal emulator and the pty at the output pane's size.
pub(super) fn sync_output_size(state: &mut ReviewState) -> Option<Command> {
    let (rows, cols) = crate::review::layout::output_size(state.size, state.focus, state.zoom);
    if rows == 0 || cols == 0 || (rows, cols) == state.output.size() {
        return None;
    }
    state.output.set_size(rows, cols);
    Some(Command::ResizePty { rows, cols })
}

/// Scrolls the output pane through its scrollback: Shift with PgUp/PgDn, ↑/↓,
/// Home/End in either pane, and `{`/`}` from the review. Returns true if it did.
pub(super) fn scroll_output(state: &mut ReviewState, key: &KeyEvent) -> bool {
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

pub(super) fn output_key(state: &mut ReviewState, key: KeyEvent) -> Option<Command> {
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
