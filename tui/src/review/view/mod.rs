//! `view`: draws the state. Pure: reads the state, writes the frame, nothing else.
//! Lists draw only the rows that fit, so a tree of a million paths costs what a
//! screenful costs.

use std::path::Path;

use nono_enforcer::capability::Access;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use nono_learn::suggest::{Suggestion, SuggestionKind, display};

use super::decision::{Rule, Verdict};
use super::layout::{Focus, layout};
use super::model::{Class, Filter, Overlay, ReviewState, Tab};

use detail::detail;
use dialogs::{confirm, confirm_path, edit, help, quit, save};
use exec::execs;
use files::files;
use network::network;
use output::output;

mod detail;
mod dialogs;
mod exec;
mod files;
mod network;
mod output;

pub use dialogs::KEYS;

/// Colours, or none under `NO_COLOR` (modifiers such as bold and reverse stay).
#[derive(Debug, Clone, Copy)]
pub(super) struct Theme {
    color: bool,
}

impl Theme {
    pub(super) fn fg(self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub(super) fn class(self, class: Class) -> Style {
        match class {
            Class::Pending => self.fg(Color::Cyan),
            Class::Allowed => self.fg(Color::Green),
            Class::Denied => self.fg(Color::Yellow),
            Class::Sensitive => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Class::Covered | Class::Lookup | Class::Failed | Class::Branch => {
                self.fg(Color::DarkGray)
            }
            Class::Unknown => Style::default(),
        }
    }

    pub(super) fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::DarkGray)
        }
    }

    pub(super) fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub(super) fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

/// Draws the whole screen.
pub fn view(state: &ReviewState, frame: &mut Frame<'_>) {
    let theme = Theme {
        color: state.config.color,
    };
    let areas = layout(frame.area(), state.focus, state.zoom);
    header(state, theme, frame, areas.header);
    tabs(state, theme, frame, areas.tabs);
    if areas.list.height > 0 {
        match state.tab {
            Tab::Files => files(state, theme, frame, areas.list),
            Tab::Network => network(state, theme, frame, areas.list),
            Tab::Exec => execs(state, theme, frame, areas.list),
        }
        detail(state, theme, frame, areas.detail);
    }
    if areas.output.height > 0 {
        output(state, theme, frame, areas.output);
    }
    status(state, theme, frame, areas.status);
    match &state.overlay {
        Overlay::None | Overlay::Search { .. } => {}
        Overlay::Help { scroll } => help(theme, frame, *scroll),
        Overlay::Edit { input, error, .. } => edit(theme, frame, input, error.as_deref()),
        Overlay::Confirm(c) => confirm(state, theme, frame, c),
        Overlay::ConfirmPath(c) => confirm_path(state, theme, frame, c),
        Overlay::Save(d) => save(theme, frame, d),
        Overlay::Quit { unsaved, running } => quit(theme, frame, *unsaved, *running),
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `text` padded or cut to exactly `width` columns.
pub(super) fn fit(text: &str, width: usize) -> String {
    let t = truncate(text, width);
    let n = t.chars().count();
    format!("{t}{}", " ".repeat(width.saturating_sub(n)))
}

fn clock(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

fn header(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let learn = &state.learn;
    let program = match learn.exit_code {
        None if state.waiting => Span::styled(
            " ⌨ WAITING FOR INPUT ",
            theme
                .fg(Color::Yellow)
                .add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        None => Span::styled(" ● running ", theme.fg(Color::Green)),
        Some(0) => Span::styled(" ■ exited 0 ", theme.fg(Color::Green)),
        Some(code) => Span::styled(format!(" ■ exited {code} "), theme.fg(Color::Red)),
    };
    // On a narrow screen a zero drop count gives its room to the command.
    let dropped = if learn.dropped == 0 && area.width < 100 {
        String::new()
    } else {
        format!(" {} dropped │", learn.dropped)
    };
    let facts = format!(
        " {} │ {} │ {} events │{dropped}",
        state.config.backend,
        clock(state.elapsed),
        learn.events,
    );
    let title = " nono learn ";
    let fixed = title.len() + facts.chars().count() + program.content.chars().count() + 2;
    let command = truncate(
        &state.config.command,
        (area.width as usize).saturating_sub(fixed),
    );
    let line = Line::from(vec![
        Span::styled(
            title,
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(command, Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(" "),
        Span::styled(facts, theme.fg(Color::Gray)),
        program,
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

pub(super) fn tabs(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let counts = [
        state.learn.files.len(),
        state.learn.hosts.len() + state.learn.sockets.len(),
        state.learn.execs.len(),
    ];
    let mut spans = vec![Span::raw(" ")];
    for tab in Tab::ALL {
        let text = format!(
            " {} {} {} ",
            tab.index() + 1,
            tab.title(),
            counts[tab.index()]
        );
        let style = if tab == state.tab {
            theme.selected()
        } else {
            theme.fg(Color::Gray)
        };
        spans.push(Span::styled(text, style));
        spans.push(Span::raw(" "));
    }
    let mut right = Vec::new();
    let pending = state.pending_count();
    right.push(format!("{pending} pending"));
    let decided = state
        .decisions
        .values()
        .filter(|d| d.verdict != Verdict::Pending)
        .count();
    right.push(format!(
        "{decided} decided{}",
        if state.unsaved() { " (unsaved)" } else { "" }
    ));
    if state.filter != Filter::All {
        right.push(format!("filter: {}", state.filter.name()));
    }
    match (&state.overlay, &state.search) {
        (Overlay::Search { input, .. }, _) => right.push(format!("/{input}")),
        (_, Some(q)) => right.push(format!("search: {q}")),
        _ => {}
    }
    let right = format!("{} ", right.join(" │ "));
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let gap = (area.width as usize).saturating_sub(used + right.chars().count());
    spans.push(Span::raw(" ".repeat(gap)));
    spans.push(Span::styled(right, theme.fg(Color::Gray)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(super) fn pane<'a>(title: String, focused: bool, theme: Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
}

pub(super) fn access_short(access: Access) -> &'static str {
    match access {
        Access::Read => "r",
        Access::Write => "w",
        Access::ReadWrite => "rw",
    }
}

/// An errno's name, for the few a file access usually fails with.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        1 => "EPERM",
        2 => "ENOENT",
        6 => "ENXIO",
        13 => "EACCES",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        40 => "ELOOP",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

pub(super) fn rule_text(rule: &Rule, home: &Path) -> String {
    match rule {
        Rule::Path(r) => format!(
            "{}{} {}",
            display(&r.path, home),
            if r.dir { "/" } else { "" },
            access_short(r.access)
        ),
        Rule::Workdir(a) => format!("workdir {}", access_short(*a)),
        Rule::Group(g) => format!("group {g}"),
        Rule::Host(h) => h.clone(),
    }
}

pub(super) fn suggestion_text(s: &Suggestion) -> String {
    match &s.kind {
        SuggestionKind::Grant => format!(
            "{}{} {}",
            s.rule,
            if s.dir { "/" } else { "" },
            s.access.map(access_short).unwrap_or("")
        ),
        SuggestionKind::IncludeGroup { group } => format!("include group {group}"),
        SuggestionKind::Workdir => format!("workdir {}", s.access.map(access_short).unwrap_or("")),
        SuggestionKind::Covered { by } => format!("covered by {by}"),
        SuggestionKind::Sensitive { label } => format!("sensitive: {label}"),
        SuggestionKind::Host => s.rule.clone(),
    }
}

/// A key hint of the status line: the key, what it does, and its rank (0 always
/// shows; otherwise lower ranks win the room that is left).
type Hint = (&'static str, &'static str, u8);

/// The key hints of the status line, by context, in the order shown. Labels are
/// short so that an 80-column screen keeps the important ones: on the Files tab `s
/// save` and `A all safe` always show, with `? help` and `q quit`.
fn hints(state: &ReviewState) -> Vec<Hint> {
    if state.focus == Focus::Output {
        return vec![
            ("Tab", "back to the review", 0),
            ("^T", "send a Tab", 1),
            ("S-PgUp/PgDn", "scroll", 0),
            ("S-End", "live", 2),
        ];
    }
    match state.tab {
        Tab::Network => vec![
            ("y", "allow", 1),
            ("d", "deny", 2),
            ("+/-", "widen/narrow", 3),
            ("u", "undo", 4),
            ("s", "save", 0),
            ("j/k", "move", 5),
            ("?", "help", 0),
            ("q", "quit", 0),
        ],
        _ => vec![
            ("y", "accept", 1),
            ("r/w", "allow", 2),
            ("d", "deny", 3),
            ("+/-", "widen", 4),
            ("e", "edit", 6),
            ("u", "undo", 5),
            ("s", "save", 0),
            ("A", "all safe", 0),
            ("/", "search", 7),
            ("f", "filter", 8),
            ("h/l", "fold", 9),
            ("?", "help", 0),
            ("q", "quit", 0),
        ],
    }
}

/// The hints that fit in `width` columns, in their order: rank 0 first, then by rank.
fn fitting_hints(hints: &[Hint], width: usize) -> Vec<Hint> {
    let cost = |(k, w, _): &Hint| k.chars().count() + w.chars().count() + 3;
    let mut by_rank: Vec<usize> = (0..hints.len()).collect();
    by_rank.sort_by_key(|&i| hints[i].2);
    let mut room = width;
    let mut keep = vec![false; hints.len()];
    for i in by_rank {
        let c = cost(&hints[i]);
        if c <= room {
            room -= c;
            keep[i] = true;
        } else if hints[i].2 != 0 {
            // Lower ranks do not jump ahead of a higher one that did not fit.
            break;
        }
    }
    hints
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(h, _)| *h)
        .collect()
}

pub(super) fn status(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let line = if let Overlay::Search { input, .. } = &state.overlay {
        Line::from(vec![
            Span::styled("/", theme.key()),
            Span::raw(input.clone()),
            Span::styled("█", Style::default()),
            Span::styled("   Enter keep · Esc cancel", theme.fg(Color::DarkGray)),
        ])
    } else if let Some(s) = &state.status {
        let style = if s.error {
            theme.fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            theme.fg(Color::Green)
        };
        let text = format!(" {}", s.text);
        let width = area.width.max(1) as usize;
        let len = text.chars().count();
        if len > width && area.y > 0 {
            // A message longer than the line (the whole command to replay after a
            // save) is never cut: it grows upwards over the body until the next key.
            let rows = (len.div_ceil(width) + 1).min(area.y as usize + 1) as u16;
            let above = Rect::new(area.x, area.y + 1 - rows, area.width, rows);
            frame.render_widget(Clear, above);
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(text, style))).wrap(Wrap { trim: false }),
                above,
            );
            return;
        }
        Line::from(Span::styled(text, style))
    } else {
        let shown = fitting_hints(&hints(state), area.width as usize);
        let mut spans = Vec::new();
        for (key, what, _) in shown {
            spans.push(Span::styled(format!(" {key}"), theme.key()));
            spans.push(Span::styled(format!(" {what} "), theme.fg(Color::Gray)));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};

    use super::*;
    use crate::review::fixture::{self, select};
    use crate::review::update::{Msg, update};

    /// The screen as text, one line per row (trailing blanks trimmed).
    fn render(state: &ReviewState, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| view(state, frame))
            .expect("drawing on a TestBackend");
        let buffer = terminal.backend().buffer();
        let mut out = String::new();
        for y in 0..height {
            let line: String = (0..width).map(|x| buffer[(x, y)].symbol()).collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn keys(state: &mut ReviewState, keys: &str) {
        for c in keys.chars() {
            update(state, Msg::Key(KeyEvent::from(KeyCode::Char(c))));
        }
    }

    #[test]
    fn files_tab() {
        let s = fixture::state();
        insta::assert_snapshot!("files_tab", render(&s, 100, 30));
    }

    #[test]
    fn network_tab() {
        let mut s = fixture::state();
        keys(&mut s, "2j");
        insta::assert_snapshot!("network_tab", render(&s, 100, 30));
    }

    #[test]
    fn exec_tab() {
        let mut s = fixture::state();
        keys(&mut s, "3");
        insta::assert_snapshot!("exec_tab", render(&s, 100, 30));
    }

    #[test]
    fn help_overlay() {
        let mut s = fixture::state();
        keys(&mut s, "?");
        insta::assert_snapshot!("help_overlay", render(&s, 100, 30));
    }

    #[test]
    fn save_dialog_with_diff() {
        let mut s = fixture::state();
        select(&mut s, "/data/set/a.csv");
        keys(&mut s, "y");
        select(&mut s, "/data/other.txt");
        keys(&mut s, "d");
        select(&mut s, "/srv/out");
        keys(&mut s, "y");
        keys(&mut s, "s");
        insta::assert_snapshot!("save_dialog", render(&s, 100, 30));
    }

    /// A profile that allows hosts says, where it is saved, that this build cannot
    /// enforce them yet; one that allows none does not.
    #[test]
    fn save_dialog_says_allow_domain_needs_the_proxy() {
        let mut s = fixture::state();
        keys(&mut s, "s");
        let text = render(&s, 110, 30);
        assert!(!text.contains("allow_domain needs"), "{text}");
        update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Esc)));
        keys(&mut s, "A");
        keys(&mut s, "s");
        let Overlay::Save(d) = &s.overlay else {
            panic!("no save dialog")
        };
        assert!(d.text.contains("allow_domain"), "{}", d.text);
        let text = render(&s, 110, 30);
        assert!(
            text.contains(
                "allow_domain needs nono's network proxy, which this build does not have yet:"
            ) && text.contains("--allow-net or --block-network"),
            "{text}"
        );
    }

    #[test]
    fn sensitive_confirmation_prompt() {
        let mut s = fixture::state();
        select(&mut s, "/home/u/.ssh/id_rsa");
        keys(&mut s, "ynope");
        update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Enter)));
        insta::assert_snapshot!("sensitive_prompt", render(&s, 100, 30));
    }

    #[test]
    fn files_tab_at_80x24_keeps_names_save_and_all_safe() {
        let s = fixture::state_at((80, 24));
        let text = render(&s, 80, 24);
        insta::assert_snapshot!("files_tab_80x24", text);
        let footer = text.lines().last().unwrap();
        for needed in ["s save", "A all safe", "? help", "q quit"] {
            assert!(footer.contains(needed), "`{needed}` missing: {footer}");
        }
        for name in ["a.csv", "other.txt", "app.conf", ".cache/pip/"] {
            assert!(text.contains(name), "{name} is cut at 80×24:\n{text}");
        }
    }

    /// The hint after saving is the whole command to replay, never cut at 80 columns.
    #[test]
    fn the_replay_hint_after_saving_is_whole_at_80x24() {
        let mut s = fixture::state_at((80, 24));
        let path = s.config.profiles_dir.join("learned-python3.json");
        update(&mut s, Msg::Saved { path });
        let text = render(&s, 80, 24);
        let joined: String = text
            .lines()
            .map(|l| {
                l.trim_end_matches(['│', '┐', '┘', ' '])
                    .trim_start_matches(['│', ' '])
            })
            .collect::<Vec<_>>()
            .join(" ");
        let want = format!("nono run --profile learned-python3 -- {}", s.config.command);
        let squeezed = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            squeezed(&joined).contains(&squeezed(&want)),
            "`{want}` is not whole on the screen:\n{text}"
        );
    }

    #[test]
    fn network_and_exec_tabs_at_80x24() {
        let mut s = fixture::state_at((80, 24));
        keys(&mut s, "2");
        insta::assert_snapshot!("network_tab_80x24", render(&s, 80, 24));
        keys(&mut s, "3");
        insta::assert_snapshot!("exec_tab_80x24", render(&s, 80, 24));
    }

    #[test]
    fn the_help_fits_whole_at_80x24() {
        let mut s = fixture::state_at((80, 24));
        keys(&mut s, "?");
        let text = render(&s, 80, 24);
        insta::assert_snapshot!("help_overlay_80x24", text);
        for (section, keys) in KEYS {
            assert!(text.contains(section), "`{section}` not shown:\n{text}");
            for (key, what) in *keys {
                let line = format!("{key:<w$}  {what}", w = help_key_width());
                assert!(text.contains(&line), "`{line}` not shown whole:\n{text}");
            }
        }
        assert!(
            !text.contains("j/k scroll"),
            "the help should not need scrolling:\n{text}"
        );
    }

    /// The width of the help's key column.
    fn help_key_width() -> usize {
        KEYS.iter()
            .flat_map(|(_, k)| k.iter().map(|(k, _)| k.chars().count()))
            .max()
            .unwrap()
    }

    #[test]
    fn files_tab_at_100x30_shows_the_suggestion_without_repeating_the_path() {
        let s = fixture::state();
        let text = render(&s, 100, 30);
        let row = |name: &str| {
            text.lines()
                .find(|l| l.contains(name))
                .unwrap_or_else(|| panic!("no {name} row:\n{text}"))
                .to_string()
        };
        // Its own path: not repeated; a wider rule: its path, then the reason.
        assert!(row("other.txt").contains("? r — "), "{}", row("other.txt"));
        assert!(
            row("a.csv").contains("? r /data/set/ — "),
            "{}",
            row("a.csv")
        );
    }

    #[test]
    fn the_output_pane_scrolls_back_and_typing_goes_live() {
        let mut s = fixture::state_at((80, 24));
        let lines: String = (1..=20_000).map(|i| format!("line {i}\r\n")).collect();
        update(&mut s, Msg::Output(lines.into_bytes()));
        let shift = |code| {
            Msg::Key(KeyEvent::new(
                code,
                ratatui::crossterm::event::KeyModifiers::SHIFT,
            ))
        };
        update(&mut s, shift(KeyCode::Home));
        let text = render(&s, 80, 24);
        let oldest = 20_000 - crate::review::model::SCROLLBACK + 1;
        assert!(
            text.contains(&format!("│line {oldest} ")),
            "the oldest line kept is not shown:\n{text}"
        );
        assert!(text.contains("lines back"), "{text}");
        update(&mut s, shift(KeyCode::PageDown));
        update(&mut s, shift(KeyCode::Down));
        assert!(s.output.scrolled_back() > 0);
        // More output keeps the view where it is.
        let back = s.output.scrolled_back();
        update(&mut s, Msg::Output(b"line 20001\r\n".to_vec()));
        assert_eq!(
            s.output.scrolled_back(),
            (back + 1).min(crate::review::model::SCROLLBACK)
        );
        // Typing into the command goes back to the live screen.
        update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Tab)));
        keys(&mut s, "x");
        assert_eq!(s.output.scrolled_back(), 0);
        let text = render(&s, 80, 24);
        assert!(text.contains("line 20001"), "{text}");
        // From the review, `{` scrolls back a page.
        update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Tab)));
        keys(&mut s, "{");
        assert!(s.output.scrolled_back() > 0);
    }

    #[test]
    fn works_at_80x24_and_survives_any_size() {
        let s = fixture::state_at((80, 24));
        let text = render(&s, 80, 24);
        for needed in ["nono learn", "Files", "Details", "Output", "? help"] {
            assert!(text.contains(needed), "{needed} missing at 80×24:\n{text}");
        }
        let mut s = fixture::state();
        for (w, h) in [(1, 1), (20, 6), (60, 10), (80, 24), (200, 60)] {
            update(
                &mut s,
                Msg::Resize {
                    width: w,
                    height: h,
                },
            );
            keys(&mut s, "jjjz");
            render(&s, w, h);
            keys(&mut s, "z?");
            render(&s, w, h);
            keys(&mut s, "x");
        }
    }

    #[test]
    fn a_folded_directory_shows_its_pending_rows_and_a_waiting_command_is_loud() {
        let mut s = fixture::state();
        keys(&mut s, "C");
        let text = render(&s, 100, 30);
        let data = text
            .lines()
            .find(|l| l.contains("▸ data/"))
            .unwrap_or_else(|| panic!("no folded /data row:\n{text}"));
        assert!(data.contains("? 5 pending inside"), "{data}");
        update(&mut s, Msg::Waiting(true));
        let text = render(&s, 100, 30);
        assert!(
            text.contains("WAITING FOR INPUT") && text.contains("keys go to it"),
            "{text}"
        );
        update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Tab)));
        let text = render(&s, 100, 30);
        assert!(text.contains("Tab to type"), "{text}");
    }

    #[test]
    fn only_the_visible_rows_are_drawn_and_the_selection_stays_in_view() {
        let mut s = fixture::state();
        keys(&mut s, "E");
        keys(&mut s, "G");
        let text = render(&s, 100, 30);
        let selected = s.tree.label(s.current_row().unwrap());
        assert!(
            text.contains(&selected),
            "the selected row `{selected}` is off screen:\n{text}"
        );
    }
}
