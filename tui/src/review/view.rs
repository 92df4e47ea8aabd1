//! `view`: draws the state. Pure: reads the state, writes the frame, nothing else.
//! Lists draw only the rows that fit, so a tree of a million paths costs what a
//! screenful costs.

use std::path::Path;

use nono_enforcer::capability::Access;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use tui_term::widget::{Cursor, PseudoTerminal};

use nono_learn::model::{HostSource, PathNode};
use nono_learn::observe::Need;
use nono_learn::suggest::{Suggestion, SuggestionKind, display};

use super::decision::{Decision, Rule, Verdict};
use super::layout::{Focus, layout};
use super::model::{CONFIRM_WORD, Class, Filter, Governor, Overlay, ReviewState, SaveDialog, Tab};
use super::tree::NodeId;

/// Colours, or none under `NO_COLOR` (modifiers such as bold and reverse stay).
#[derive(Debug, Clone, Copy)]
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    fn class(self, class: Class) -> Style {
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

    fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::DarkGray)
        }
    }

    fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    fn key(self) -> Style {
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
fn fit(text: &str, width: usize) -> String {
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

fn tabs(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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

fn pane<'a>(title: String, focused: bool, theme: Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
}

fn access_short(access: Access) -> &'static str {
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

fn rule_text(rule: &Rule, home: &Path) -> String {
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

fn suggestion_text(s: &Suggestion) -> String {
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

/// The decision column of a Files row.
fn row_status(state: &ReviewState, id: NodeId) -> (String, Class) {
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
fn list_status(state: &ReviewState, id: NodeId, width: usize) -> (String, Class) {
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

fn decided_text(d: &Decision, home: &Path, via: bool) -> String {
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
fn badges(node: &PathNode) -> String {
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

fn files(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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
fn name_and_status(width: usize, fixed: usize, needed: usize, status_min: usize) -> (usize, usize) {
    let name_max = width.saturating_sub(status_min + fixed);
    let name = needed.clamp(name_max.min(16), name_max);
    (name, width.saturating_sub(name + fixed))
}

/// The room a list keeps for its decision column: 40%, or 16 columns on a narrow
/// screen.
fn status_share(width: usize) -> usize {
    if width >= 60 { width * 2 / 5 } else { 16 }
}

fn host_status(state: &ReviewState, host: &str) -> (String, Class) {
    match state
        .decisions
        .get(&super::decision::ItemKey::Host(host.to_string()))
    {
        Some(d) => (
            decided_text(d, &state.learn.ctx.home, false),
            match d.verdict {
                Verdict::Allow => Class::Allowed,
                Verdict::Deny => Class::Denied,
                Verdict::Pending => Class::Pending,
            },
        ),
        None => match state.host_suggestion(host) {
            Some(s) => (format!("? allow_domain — {}", s.reason), Class::Pending),
            None => ("· not suggested (local name)".into(), Class::Lookup),
        },
    }
}

fn network(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = state.focus == Focus::Main;
    let block = pane(
        format!(
            " Network — {} hosts, {} socket peers ",
            state.learn.hosts.len(),
            state.learn.sockets.len()
        ),
        focused,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let height = inner.height as usize;
    if state.row_count() == 0 {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no host names or connections seen yet",
                theme.fg(Color::DarkGray),
            )),
            inner,
        );
        return;
    }
    let hosts = state.learn.hosts.len();
    let offset = state.offset[1];
    let mut rows = Vec::new();
    for i in offset..(offset + height).min(state.row_count()) {
        let (name, via, count, text, class) = if i < hosts {
            let Some((host, node)) = state.learn.hosts.iter().nth(i) else {
                continue;
            };
            let via: Vec<&str> = node
                .sources
                .iter()
                .map(|s| match s {
                    HostSource::Dns => "DNS",
                    HostSource::Proxy => "proxy",
                })
                .collect();
            let ports: Vec<String> = node.ports.iter().map(u16::to_string).collect();
            let name = if ports.is_empty() {
                host.clone()
            } else {
                format!("{host}:{}", ports.join(","))
            };
            let (text, class) = host_status(state, host);
            (name, via.join("+"), node.count, text, class)
        } else {
            let Some((peer, node)) = state.learn.sockets.iter().nth(i - hosts) else {
                continue;
            };
            let text = if node.failed > 0 {
                format!("· {} ok, {} failed", node.ok, node.failed)
            } else {
                format!("· {} ok (socket peer)", node.ok)
            };
            (
                peer.clone(),
                "socket".into(),
                node.ok + node.failed,
                text,
                Class::Lookup,
            )
        };
        // The tab is all hosts: the list says `allow`, Details says which rule.
        let text = match text.strip_prefix("? allow_domain") {
            Some(rest) => format!("? allow{rest}"),
            None => text,
        };
        rows.push((i, name, via, count, text, class));
    }
    let count_w = if width >= 60 { 7 } else { 0 };
    let needed = rows
        .iter()
        .map(|r| r.1.chars().count() + 2)
        .max()
        .unwrap_or(0);
    let via_w = rows
        .iter()
        .map(|r| r.2.chars().count() + 1)
        .max()
        .unwrap_or(0)
        .max(4);
    // Host decisions are short (`? allow — …`): the names come first.
    let (name_w, status_w) = name_and_status(width, via_w + count_w, needed, 16);
    let mut lines = Vec::new();
    for (i, name, via, count, text, class) in rows {
        let mut line = Line::from(vec![
            Span::raw(format!(
                "{} ",
                fit(&format!(" {name}"), name_w.saturating_sub(1))
            )),
            Span::styled(fit(&via, via_w), theme.fg(Color::Gray)),
            Span::styled(
                if count_w > 0 {
                    format!("{:>5}× ", count)
                } else {
                    String::new()
                },
                theme.fg(Color::DarkGray),
            ),
            Span::styled(fit(&text, status_w), theme.class(class)),
        ]);
        if i == state.cursor[1] && focused {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn execs(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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

fn field<'a>(theme: Theme, name: &'a str, value: String) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{name:<10}"), theme.fg(Color::Gray)),
        Span::raw(value),
    ])
}

fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let v: Vec<String> = items.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}

fn node_detail<'a>(state: &'a ReviewState, theme: Theme, id: NodeId, lines: &mut Vec<Line<'a>>) {
    let home = &state.learn.ctx.home;
    let node = state.tree.node(id);
    let pn = state.path_node(id);
    let kind = if node.is_branch() || pn.is_some_and(|n| n.dir) {
        "directory"
    } else {
        "file"
    };
    lines.push(Line::from(vec![Span::styled(
        display(&node.path, home),
        Style::default().add_modifier(Modifier::BOLD),
    )]));
    if let Some(s) = state.sensitive(id) {
        lines.push(Line::from(Span::styled(
            format!(
                "⚠ SENSITIVE: denied by {} ({})",
                s.label,
                display(&s.path, home)
            ),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    // The path is the line above: the status does not repeat it.
    let (text, class) = list_status(state, id, usize::MAX);
    let decision = match state.governor(id) {
        Governor::Own(_) => Some("on this row".to_string()),
        Governor::Rule { anchor, .. } => Some(display(anchor, home)),
        Governor::Workdir(_) => Some("the working directory".into()),
        Governor::Group(_) => Some("the group".into()),
        Governor::None => None,
    };
    if !text.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<10}", "status"), theme.fg(Color::Gray)),
            Span::styled(text, theme.class(class)),
        ]));
    }
    if let Some(on) = decision {
        lines.push(field(theme, "decided", on));
    }
    if let Some(s) = state.suggestion(id) {
        lines.push(field(theme, "suggested", suggestion_text(s)));
        lines.push(field(theme, "reason", s.reason.clone()));
    }
    match pn {
        Some(n) => {
            lines.push(field(theme, "needs", format!("{kind} {}", badges(n))));
            lines.push(field(
                theme,
                "accesses",
                format!(
                    "{} ok, {} failed{}",
                    n.ok_count,
                    n.failed_count,
                    n.last_errno
                        .map(|e| format!(" (last {})", errno_name(e)))
                        .unwrap_or_default()
                ),
            ));
            if let Some(why) = state.learn.ctx.net_refusal(&node.path, n) {
                lines.push(Line::from(Span::styled(
                    format!("⚠ {why}"),
                    theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
                )));
            }
            lines.push(field(theme, "pids", list(n.pids.iter())));
            lines.push(field(
                theme,
                "programs",
                list(n.exes.iter().map(|p| p.display())),
            ));
            if !n.entries.is_empty() {
                lines.push(field(
                    theme,
                    "entries",
                    list(n.entries.iter().map(|p| {
                        p.file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    })),
                ));
            }
        }
        None => lines.push(field(
            theme,
            "below",
            format!("{kind}: {} observed path(s)", node.observed_below),
        )),
    }
}

fn detail(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 {
        return;
    }
    let block = pane(" Details ".into(), false, theme);
    let mut lines: Vec<Line<'_>> = Vec::new();
    match state.tab {
        Tab::Files => match state.current_node() {
            Some(id) => node_detail(state, theme, id, &mut lines),
            None => lines.push(Line::from("nothing selected")),
        },
        Tab::Exec => {
            if let Some((path, e)) = state.exec_row(state.cursor[2]) {
                lines.push(Line::from(Span::styled(
                    path.display().to_string(),
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                lines.push(field(
                    theme,
                    "runs",
                    format!("{} ({} failed)", e.count, e.failed),
                ));
                lines.push(field(theme, "argv", e.argv.join(" ")));
                if let Some(id) = state.tree.find(path) {
                    let mut more = Vec::new();
                    node_detail(state, theme, id, &mut more);
                    lines.extend(more.into_iter().skip(1));
                }
            }
        }
        Tab::Network => {
            let hosts = state.learn.hosts.len();
            let i = state.cursor[1];
            if let Some((host, node)) = state.host_row(i) {
                lines.push(Line::from(Span::styled(
                    host.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                let (text, class) = host_status(state, host);
                lines.push(Line::from(vec![
                    Span::styled(format!("{:<10}", "status"), theme.fg(Color::Gray)),
                    Span::styled(text, theme.class(class)),
                ]));
                lines.push(field(
                    theme,
                    "source",
                    list(node.sources.iter().map(|s| match s {
                        HostSource::Dns => "DNS question",
                        HostSource::Proxy => "proxy CONNECT",
                    })),
                ));
                lines.push(field(theme, "records", list(node.qtypes.iter())));
                lines.push(field(theme, "ports", list(node.ports.iter())));
                lines.push(field(theme, "seen", format!("{} time(s)", node.count)));
                lines.push(field(
                    theme,
                    "rule",
                    "network.allow_domain (+ widens to *.parent)".into(),
                ));
            } else if let Some((peer, node)) = state.learn.sockets.iter().nth(i - hosts.min(i)) {
                lines.push(Line::from(Span::styled(
                    peer.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                lines.push(field(theme, "kind", node.kind.clone()));
                lines.push(field(
                    theme,
                    "result",
                    format!("{} ok, {} failed", node.ok, node.failed),
                ));
                lines.push(field(
                    theme,
                    "note",
                    "under nono run the command reaches the network through the proxy, by host name".into(),
                ));
            }
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn output(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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

fn status(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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

fn help(theme: Theme, frame: &mut Frame<'_>, scroll: u16) {
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

fn edit(theme: Theme, frame: &mut Frame<'_>, input: &str, error: Option<&str>) {
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

fn confirm(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, c: &super::model::Confirm) {
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

fn confirm_path(
    state: &ReviewState,
    theme: Theme,
    frame: &mut Frame<'_>,
    c: &super::model::ConfirmPath,
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

fn save(theme: Theme, frame: &mut Frame<'_>, d: &SaveDialog) {
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

fn quit(theme: Theme, frame: &mut Frame<'_>, unsaved: bool, running: bool) {
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
