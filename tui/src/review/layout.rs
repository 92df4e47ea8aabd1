//! Geometry: where each pane of the review screen goes, and the size of the command's
//! terminal that follows from it. The model (to size the terminal) and the view (to
//! draw) both use it; it uses neither.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// Which pane gets the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The tabs (tree and lists).
    Main,
    /// The command's terminal: keys go to the command.
    Output,
}

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Command, backend, time, counters, state.
    pub header: Rect,
    /// Tab titles, filter, search.
    pub tabs: Rect,
    /// The tree or list (with its border).
    pub list: Rect,
    /// The selected row's details (with its border).
    pub detail: Rect,
    /// The command's terminal (with its border); empty when hidden.
    pub output: Rect,
    /// Status message or key hints.
    pub status: Rect,
}

/// Splits the screen. The output pane takes a third of the body (at least 5 rows);
/// `zoom` gives the whole body to the focused pane.
pub fn layout(area: Rect, focus: Focus, zoom: bool) -> Areas {
    let [header, tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let output_h = if zoom {
        match focus {
            Focus::Output => body.height,
            Focus::Main => 0,
        }
    } else {
        (body.height / 3).max(5).min(body.height.saturating_sub(6))
    };
    let [top, output] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(output_h)]).areas(body);
    let direction = if top.width >= 70 {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    let [list, detail] = Layout::default()
        .direction(direction)
        .constraints([Constraint::Percentage(62), Constraint::Percentage(38)])
        .areas(top);
    Areas {
        header,
        tabs,
        list,
        detail,
        output,
        status,
    }
}

/// The command terminal's size (rows, columns) for a screen of `size` (width, height).
pub fn output_size(size: (u16, u16), focus: Focus, zoom: bool) -> (u16, u16) {
    let areas = layout(Rect::new(0, 0, size.0, size.1), focus, zoom);
    (
        areas.output.height.saturating_sub(2),
        areas.output.width.saturating_sub(2),
    )
}
