//! The Exec tab: the programs the command ran.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::review::layout::Focus;
use crate::review::model::{Class, ReviewState};

use super::files::{name_and_status, row_status, status_share};
use super::{Theme, fit, pane};

pub(super) fn execs(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = state.focus == Focus::Main;
    let hidden = state.hidden_execs();
    let block = pane(
        format!(
            " Exec — {} programs{} ",
            state.learn.execs.len(),
            if hidden > 0 {
                format!(", {hidden} failed PATH lookups hidden (f shows)")
            } else {
                String::new()
            }
        ),
        focused,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let height = inner.height as usize;
    if state.learn.execs.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no programs run yet",
                theme.fg(Color::DarkGray),
            )),
            inner,
        );
        return;
    }
    if state.row_count() == 0 {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "only failed PATH lookups so far (f shows them)",
                theme.fg(Color::DarkGray),
            )),
            inner,
        );
        return;
    }
    let offset = state.offset[2];
    let needed = state
        .exec_rows()
        .into_iter()
        .skip(offset)
        .take(height)
        .map(|(p, _)| p.as_os_str().len() + 2)
        .max()
        .unwrap_or(0);
    let (name_w, status_w) = name_and_status(width, 12, needed, status_share(width));
    let mut lines = Vec::new();
    for (i, (path, node)) in state
        .exec_rows()
        .into_iter()
        .enumerate()
        .skip(offset)
        .take(height)
    {
        let (text, class) = match state.tree.find(path) {
            Some(id) => row_status(state, id),
            None => ("· not observed as a file".into(), Class::Lookup),
        };
        let failed = if node.failed > 0 {
            format!("{}!", node.failed)
        } else {
            String::new()
        };
        let mut line = Line::from(vec![
            Span::raw(fit(&format!(" {}", path.display()), name_w)),
            Span::styled(
                format!("{:>5}× {:>4} ", node.count, failed),
                theme.fg(Color::Gray),
            ),
            Span::styled(fit(&text, status_w), theme.class(class)),
        ]);
        if i == state.cursor[2] && focused {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
