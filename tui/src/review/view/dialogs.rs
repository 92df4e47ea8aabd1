//! The overlays: help, editing a path, the confirmations, saving, quitting.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use nono_learn::suggest::display;

use crate::review::model::{CONFIRM_WORD, ReviewState, SaveDialog};

use super::{Theme, pane};

/// A rectangle of `w`×`h` (clamped) in the middle of `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Every key, by section, for the help overlay. Kept short: at 80×24 the overlay
/// shows all of it in two columns without scrolling (a test checks).
pub const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Moving",
        &[
            ("j k ↓ ↑", "down / up"),
            ("g G", "first / last row"),
            ("PgDn PgUp", "a page (also ^d ^u)"),
            ("h ←", "fold, or go to the parent"),
            ("l →", "unfold, or go into it"),
            ("space C E", "fold; fold all; unfold all"),
            ("1 2 3 [ ]", "tabs; previous / next tab"),
            ("/ n N", "search; next / previous"),
            ("f F", "cycle the filter; all rows"),
            ("z", "zoom the focused pane"),
            ("p P", "next / previous pending"),
            ("", "Exec tab: f = failed PATH"),
        ],
    ),
    (
        "The command's output",
        &[
            ("Tab", "type into it (Tab: back)"),
            ("^T", "(typing) send it a Tab"),
            ("S-PgUp/Dn", "scroll back / forward"),
            ("S-↑ S-↓", "scroll a line"),
            ("S-Home", "the oldest line kept"),
            ("S-End", "back to the live output"),
            ("{ }", "scroll, from the review"),
        ],
    ),
    (
        "Deciding (the row's rule)",
        &[
            ("y Enter", "accept the suggestion"),
            ("r w", "allow read / read-write"),
            ("d", "deny this row (carves)"),
            ("+ = -", "widen / narrow the rule"),
            ("e", "edit the rule's path"),
            ("i", "add the suggested group"),
            ("A", "accept all safe rows"),
            ("u", "undo"),
        ],
    ),
    (
        "Saving and leaving",
        &[
            ("s ^S", "save (shows a diff first)"),
            ("q ^C", "quit (asks if unsaved)"),
            ("?", "this help"),
        ],
    ),
    (
        "Notes",
        &[
            ("badges", "r w x create delete lookup"),
            ("", "(CAPITALS: only failed)"),
            ("sensitive", "red; allowed after `grant`"),
            ("globs", "none: + widens to the dir"),
            ("PATH", "writes there ask first"),
            ("input", "waiting cmd takes the keys"),
        ],
    ),
];

/// The help overlay's lines: a section title (`None` key) or a key and what it does.
fn help_lines() -> Vec<(Option<&'static str>, &'static str)> {
    let mut lines = Vec::new();
    for (section, keys) in KEYS {
        lines.push((None, *section));
        for (k, what) in *keys {
            lines.push((Some(*k), *what));
        }
    }
    lines
}

pub(super) fn help(theme: Theme, frame: &mut Frame<'_>, scroll: u16) {
    let screen = frame.area();
    let lines = help_lines();
    let key_w = lines
        .iter()
        .filter_map(|(k, _)| k.map(|k| k.chars().count()))
        .max()
        .unwrap_or(0);
    let width_of = |(k, t): &(Option<&str>, &str)| match k {
        Some(_) => 1 + key_w + 2 + t.chars().count(),
        None => 1 + t.chars().count(),
    };
    // A column: a space, the key, two spaces, the text (or a space and a title).
    let col_w = lines.iter().map(width_of).max().unwrap_or(0);
    let inner_h = screen.height.saturating_sub(2).max(1) as usize;
    let inner_w = screen.width.saturating_sub(2) as usize;
    // As many columns as fit across, but no more than needed to show it all.
    let fit_across = ((inner_w + 1) / (col_w + 1)).max(1);
    let needed = lines.len().div_ceil(inner_h).max(1);
    let columns = needed.min(fit_across);
    let per_column = lines.len().div_ceil(columns);
    let width = (columns * (col_w + 1) + 1) as u16;
    let height = (per_column.min(inner_h) + 2) as u16;
    let area = centered(screen, width, height);
    frame.render_widget(Clear, area);
    let title = if per_column > inner_h {
        " Keys — any key closes, j/k scroll "
    } else {
        " Keys — any key closes "
    };
    let block = pane(title.into(), true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    for c in 0..columns {
        let x = inner.x + (c * (col_w + 1)) as u16;
        let column = Rect::new(
            x,
            inner.y,
            (col_w as u16).min((inner.x + inner.width).saturating_sub(x)),
            inner.height,
        );
        let shown: Vec<Line<'_>> = lines
            .iter()
            .skip(c * per_column)
            .take(per_column)
            .skip(scroll as usize)
            .map(|(k, what)| match k {
                None => Line::from(Span::styled(
                    format!(" {what}"),
                    Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                )),
                Some(k) => Line::from(vec![
                    Span::styled(format!(" {k:<key_w$}  "), theme.key()),
                    Span::raw(*what),
                ]),
            })
            .collect();
        frame.render_widget(Paragraph::new(shown), column);
    }
}

fn input_line<'a>(theme: Theme, label: &'a str, input: &str) -> Line<'a> {
    Line::from(vec![
        Span::styled(label, theme.fg(Color::Gray)),
        Span::styled(
            format!("{input}█"),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ])
}

pub(super) fn edit(theme: Theme, frame: &mut Frame<'_>, input: &str, error: Option<&str>) {
    let area = centered(frame.area(), 76, if error.is_some() { 7 } else { 6 });
    frame.render_widget(Clear, area);
    let mut lines = vec![
        Line::from("The rule must still cover the observed path. A trailing / makes it"),
        Line::from("a directory rule; ~ and $HOME, $WORKDIR are expanded."),
        Line::from(""),
        input_line(theme, "path: ", input),
    ];
    if let Some(e) = error {
        lines.push(Line::from(Span::styled(
            e.to_string(),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(pane(
            " Edit rule — Enter apply · Esc cancel ".into(),
            true,
            theme,
        )),
        area,
    );
}

pub(super) fn confirm(
    state: &ReviewState,
    theme: Theme,
    frame: &mut Frame<'_>,
    c: &crate::review::model::Confirm,
) {
    let home = &state.learn.ctx.home;
    let area = centered(frame.area(), 80, if c.error.is_some() { 9 } else { 8 });
    frame.render_widget(Clear, area);
    let red = theme.fg(Color::Red).add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::from(Span::styled(
            format!(
                "⚠ {}{} is SENSITIVE: denied by {}.",
                display(&c.rule.path, home),
                if c.rule.dir { "/" } else { "" },
                c.label
            ),
            red,
        )),
        Line::from(format!(
            "Allowing {} access lifts the denial of {}",
            c.rule.access.name(),
            display(&c.denied, home)
        )),
        Line::from("(filesystem.bypass_protection) and grants only this rule inside it."),
        Line::from(""),
        Line::from(vec![
            Span::raw("Type "),
            Span::styled(CONFIRM_WORD, red),
            Span::raw(" and press Enter to allow it; Esc keeps it denied."),
        ]),
        input_line(theme, "> ", &c.input),
    ];
    if let Some(e) = &c.error {
        lines.push(Line::from(Span::styled(e.clone(), red)));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(red)
        .title(Span::styled(" Sensitive path ", red));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

pub(super) fn confirm_path(
    state: &ReviewState,
    theme: Theme,
    frame: &mut Frame<'_>,
    c: &crate::review::model::ConfirmPath,
) {
    let home = &state.learn.ctx.home;
    let area = centered(frame.area(), 80, 8);
    frame.render_widget(Clear, area);
    let loud = theme.fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let lines = vec![
        Line::from(Span::styled(
            format!("⚠ {} is on PATH.", display(&c.on_path, home)),
            loud,
        )),
        Line::from(format!(
            "Allowing {}{} ({}) lets the command plant programs there that",
            display(&c.rule.path, home),
            if c.rule.dir { "/" } else { "" },
            c.rule.access.name()
        )),
        Line::from("you run later, outside the sandbox."),
        Line::from(""),
        Line::from(vec![
            Span::styled(" y ", theme.key()),
            Span::raw("allow it anyway   "),
            Span::styled(" any other key ", theme.key()),
            Span::raw("keep it out"),
        ]),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(loud)
        .title(Span::styled(" Write on PATH ", loud));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

pub(super) fn save(theme: Theme, frame: &mut Frame<'_>, d: &SaveDialog) {
    let outer = frame.area();
    let area = centered(
        outer,
        outer.width.saturating_sub(4).min(110),
        outer.height.saturating_sub(2),
    );
    frame.render_widget(Clear, area);
    let block = pane(
        " Save profile — Enter save · Esc cancel · ↑/↓ scroll ".into(),
        true,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut head = vec![input_line(theme, "name or path: ", &d.input)];
    head.push(match &d.target {
        Ok(p) => Line::from(vec![
            Span::styled("writes:       ", theme.fg(Color::Gray)),
            Span::raw(p.display().to_string()),
            Span::styled(
                if d.existing.is_some() {
                    "  (exists: Enter overwrites)"
                } else {
                    ""
                },
                theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
        ]),
        Err(e) if e.is_empty() => Line::from(""),
        Err(e) => Line::from(Span::styled(e.clone(), theme.fg(Color::Red))),
    });
    head.push(match &d.error {
        Some(e) => Line::from(Span::styled(
            e.clone(),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        )),
        None => Line::from(Span::styled(
            format!("diff against {}", d.against),
            theme.fg(Color::Gray),
        )),
    });
    if d.text.contains("\"allow_domain\"") {
        let [first, second] = nono_learn::output::ALLOW_DOMAIN_NOTE;
        for (lead, text) in [("note: ", first), ("      ", second)] {
            head.push(Line::from(Span::styled(
                format!("{lead}{text}"),
                theme.fg(Color::Yellow),
            )));
        }
    }
    let [top, body] = Layout::vertical([
        Constraint::Length(head.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(head), top);
    let lines: Vec<Line<'_>> = d
        .diff
        .iter()
        .skip(d.scroll as usize)
        .take(body.height as usize)
        .map(|l| {
            let style = match l.sign {
                '+' if l.text.contains("bypass_protection") || l.text.contains("BYPASSES") => {
                    theme.fg(Color::Red).add_modifier(Modifier::BOLD)
                }
                '+' => theme.fg(Color::Green),
                '-' => theme.fg(Color::Red),
                _ => theme.fg(Color::Gray),
            };
            Line::from(Span::styled(format!("{}{}", l.sign, l.text), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

pub(super) fn quit(theme: Theme, frame: &mut Frame<'_>, unsaved: bool, running: bool) {
    let area = centered(
        frame.area(),
        64,
        4 + u16::from(unsaved) + u16::from(running),
    );
    frame.render_widget(Clear, area);
    let mut lines = Vec::new();
    if unsaved {
        lines.push(Line::from("Your decisions are not saved."));
    }
    if running {
        lines.push(Line::from(
            "The command is still running; quitting stops it.",
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(" y ", theme.key()),
        Span::raw("quit   "),
        Span::styled(" s ", theme.key()),
        Span::raw("save first   "),
        Span::styled(" n Esc ", theme.key()),
        Span::raw("stay"),
    ]));
    frame.render_widget(
        Paragraph::new(lines).block(pane(" Quit? ".into(), true, theme)),
        area,
    );
}
