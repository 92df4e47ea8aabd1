//! The Files tab: the tree of paths with their badges and status.

use std::path::Path;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use nono_learn::model::PathNode;
use nono_learn::observe::Need;
use nono_learn::suggest::SuggestionKind;

use crate::review::decision::{Decision, Verdict};
use crate::review::layout::Focus;
use crate::review::model::{Class, Filter, Governor, ReviewState};
use crate::review::tree::NodeId;

use super::{Theme, access_short, errno_name, fit, pane, rule_text, suggestion_text};

/// The decision column of a Files row.
pub(super) fn row_status(state: &ReviewState, id: NodeId) -> (String, Class) {
    let class = state.class(id);
    let home = &state.learn.ctx.home;
    let text = match state.governor(id) {
        Governor::Own(d) => decided_text(d, home, false),
        Governor::Rule { decision, .. } => decided_text(decision, home, true),
        Governor::Workdir(d) | Governor::Group(d) => decided_text(d, home, false),
        Governor::None => match class {
            Class::Pending | Class::Covered | Class::Sensitive => match state.suggestion(id) {
                Some(s) if class == Class::Pending => {
                    format!("? {} — {}", suggestion_text(s), s.reason)
                }
                Some(s) if class == Class::Covered => format!("= {}", suggestion_text(s)),
                _ => match state.sensitive(id) {
                    Some(s) => format!("! sensitive: {}", s.label),
                    None => "! sensitive".into(),
                },
            },
            Class::Lookup => "· lookup only".into(),
            Class::Failed => {
                let path = &state.tree.node(id).path;
                match state
                    .path_node(id)
                    .filter(|_| !state.learn.ctx.net_no_create.is_empty())
                    .and_then(|n| state.learn.ctx.net_refusal(path, n))
                {
                    Some(_) => "· failed EACCES: refused by the safety net".into(),
                    None => format!(
                        "· failed {}",
                        state
                            .path_node(id)
                            .and_then(|n| n.last_errno)
                            .map(errno_name)
                            .unwrap_or_default()
                    ),
                }
            }
            Class::Branch => {
                if nono_learn::grant::never_whole(&state.tree.node(id).path, home).is_some()
                    && state.tree.node(id).observed
                {
                    "· never granted whole".into()
                } else {
                    String::new()
                }
            }
            Class::Unknown => "…".into(),
            Class::Allowed | Class::Denied => String::new(),
        },
    };
    (text, class)
}

/// The decision column of a Files row in `width` columns: a pending suggestion for
/// the row's own path is shown without repeating the path (`? r — reason`), and a
/// wider rule keeps the end of its path (`? r …/data/set/ — reason`), which is what
/// tells it apart from its neighbours.
pub(super) fn list_status(state: &ReviewState, id: NodeId, width: usize) -> (String, Class) {
    let (text, class) = row_status(state, id);
    if class != Class::Pending || !matches!(state.governor(id), Governor::None) {
        return (text, class);
    }
    let Some(s) = state.suggestion(id) else {
        return (text, class);
    };
    if s.kind != SuggestionKind::Grant {
        return (text, class);
    }
    let access = s.access.map(access_short).unwrap_or("");
    let node_path = &state.tree.node(id).path;
    let text = match &s.path {
        Some(p) if p.as_path() == &**node_path => format!("? {access} — {}", s.reason),
        _ => {
            let rule = format!("{}{}", s.rule, if s.dir { "/" } else { "" });
            let head = format!("? {access} ");
            let room = width.saturating_sub(head.chars().count());
            format!("{head}{} — {}", truncate_left(&rule, room), s.reason)
        }
    };
    (text, class)
}

/// `text` cut to `width` columns from the left (`…/data/set/`).
fn truncate_left(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let tail: String = text.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}

pub(super) fn decided_text(d: &Decision, home: &Path, via: bool) -> String {
    let rule = rule_text(&d.rule, home);
    let bypass = d
        .path_rule()
        .is_some_and(|r| r.bypass.is_some() && d.verdict == Verdict::Allow);
    match (d.verdict, via) {
        (Verdict::Allow, false) if bypass => format!("✓ {rule} ⚠ BYPASS"),
        (Verdict::Allow, false) => format!("✓ {rule}"),
        (Verdict::Allow, true) => format!("✓ via {rule}"),
        (Verdict::Deny, false) => format!("✗ deny {rule}"),
        (Verdict::Deny, true) => format!("✗ via {rule}"),
        (Verdict::Pending, _) => format!("? {rule} (shaped, undecided)"),
    }
}

/// `rwxcds`: a letter for each need seen, in capitals when it only ever failed.
pub(super) fn badges(node: &PathNode) -> String {
    [
        Need::Read,
        Need::Write,
        Need::Exec,
        Need::Create,
        Need::Delete,
        Need::Lookup,
    ]
    .iter()
    .map(|&need| {
        if node.ok.contains(need) {
            need.badge()
        } else if node.failed.contains(need) {
            need.badge().to_ascii_uppercase()
        } else {
            '-'
        }
    })
    .collect()
}

pub(super) fn files(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = state.focus == Focus::Main;
    let title = format!(
        " Files — {} paths{} ",
        state.learn.files.len(),
        if state.filter == Filter::All {
            String::new()
        } else {
            format!(", {} shown", state.filter.name())
        }
    );
    let block = pane(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let height = inner.height as usize;
    if state.rows.is_empty() {
        let text = if state.learn.files.is_empty() {
            "waiting for the command to touch files…"
        } else {
            "no rows match the filter (F shows all)"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.fg(Color::DarkGray))),
            inner,
        );
        return;
    }
    // Columns: name, badges, count, decision. Below 60 columns (an 80-column screen)
    // the count goes (the Details pane has it) so that names stay readable.
    // The name column takes what the names shown need (the decision column keeps at
    // least 40%, or 16 columns on a narrow screen).
    let count_w = if width >= 60 { 6 } else { 0 };
    let badge_w = 7;
    let offset = state.offset[0];
    let labels: Vec<(usize, String)> = state
        .rows
        .iter()
        .skip(offset)
        .take(height)
        .map(|row| {
            let mut label = state.tree.label(row);
            let node = state.tree.node(row.node);
            let dir = node.is_branch() || state.path_node(row.node).is_some_and(|n| n.dir);
            if dir && !label.ends_with('/') {
                label.push('/');
            }
            (row.depth as usize, label)
        })
        .collect();
    let fixed = count_w + badge_w;
    let (name_max, _) = name_and_status(width, fixed, usize::MAX, status_share(width));
    // Deep trees indent less than two columns a level once the names would lose
    // room: the marker and at least 14 columns of the name always show.
    let max_indent = name_max.saturating_sub(2 + 14 + 1);
    let indent_of = |depth: usize| (depth * 2).min(max_indent);
    let needed = labels
        .iter()
        .map(|(d, l)| indent_of(*d) + 2 + l.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let (name_w, status_w) = name_and_status(width, fixed, needed, status_share(width));
    let mut lines = Vec::with_capacity(height);
    for ((i, row), (depth, label)) in state
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .zip(labels)
    {
        let node = state.tree.node(row.node);
        let branch = node.is_branch();
        let marker = if !branch {
            "  "
        } else if state.is_folded(row.node) {
            "▸ "
        } else {
            "▾ "
        };
        let pn = state.path_node(row.node);
        let indent = " ".repeat(indent_of(depth));
        // One blank column between the name and the badges.
        let name = format!(
            "{} ",
            fit(
                &format!("{indent}{marker}{label}"),
                name_w.saturating_sub(1)
            )
        );
        let (badge, count) = match pn {
            Some(n) => (badges(n), format!("{}×", n.ok_count + n.failed_count)),
            None => (String::new(), format!("({})", node.observed_below)),
        };
        let (mut text, mut class) = list_status(state, row.node, status_w);
        let pending_inside = if branch && state.is_folded(row.node) {
            state.pending_inside(row.node)
        } else {
            0
        };
        if pending_inside > 0
            && !matches!(
                class,
                Class::Pending | Class::Allowed | Class::Denied | Class::Sensitive
            )
        {
            text = format!("? {pending_inside} pending inside");
            class = Class::Pending;
        } else if text.is_empty() && branch && state.is_folded(row.node) {
            text = "· nothing to decide inside".into();
        }
        let sensitive = state.is_sensitive(row.node);
        let style = if sensitive {
            theme.class(Class::Sensitive)
        } else {
            theme.class(class)
        };
        let mut spans = vec![
            Span::raw(name),
            Span::styled(fit(&badge, badge_w), theme.fg(Color::Gray)),
            Span::styled(
                if count_w > 0 {
                    format!("{count:>5} ")
                } else {
                    String::new()
                },
                theme.fg(Color::DarkGray),
            ),
            Span::styled(fit(&text, status_w), style),
        ];
        if sensitive {
            spans[0].style = theme.fg(Color::Red);
        }
        let mut line = Line::from(spans);
        if i == state.cursor[0] && focused {
            line = line.style(theme.selected());
        } else if i == state.cursor[0] {
            line = line.style(Style::default().add_modifier(Modifier::UNDERLINED));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The widths of a list's name and decision columns in `width` columns, `fixed` of
/// them taken by the others: the names get what they need (`needed`), up to what
/// leaves the decision `status_min`, and at least 16.
pub(super) fn name_and_status(
    width: usize,
    fixed: usize,
    needed: usize,
    status_min: usize,
) -> (usize, usize) {
    let name_max = width.saturating_sub(status_min + fixed);
    let name = needed.clamp(name_max.min(16), name_max);
    (name, width.saturating_sub(name + fixed))
}

/// The room a list keeps for its decision column: 40%, or 16 columns on a narrow
/// screen.
pub(super) fn status_share(width: usize) -> usize {
    if width >= 60 { width * 2 / 5 } else { 16 }
}
