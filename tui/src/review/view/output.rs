//! The output pane: the command's terminal.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use tui_term::widget::{Cursor, PseudoTerminal};

use crate::review::layout::Focus;
use crate::review::model::ReviewState;

use super::{Theme, pane};

pub(super) fn output(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = state.focus == Focus::Output;
    let back = state.output.scrolled_back();
    let title = match (focused, state.output.closed) {
        _ if back > 0 => format!(" Output — {back} lines back (S-End: live) "),
        (_, true) => " Output — closed ".to_string(),
        (true, false) if state.waiting => {
            " ⌨ THE COMMAND IS WAITING FOR INPUT — keys go to it (Tab: back to the review) "
                .to_string()
        }
        (false, false) if state.waiting => {
            " ⌨ THE COMMAND IS WAITING FOR INPUT — Tab to type (keys here are decisions) "
                .to_string()
        }
        (true, false) => " Output — keys go to the command (Tab: back, ^T: a tab) ".to_string(),
        (false, false) => " Output — Tab to type into the command ".to_string(),
    };
    let mut block = pane(title, focused, theme);
    if state.waiting && !state.output.closed {
        let loud = theme
            .fg(Color::Yellow)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD);
        block = block.border_style(loud).title_style(loud);
    }
    let mut cursor = Cursor::default();
    if !focused || back > 0 {
        cursor.hide();
    }
    frame.render_widget(
        PseudoTerminal::new(state.output.screen())
            .block(block)
            .cursor(cursor),
        area,
    );
}
