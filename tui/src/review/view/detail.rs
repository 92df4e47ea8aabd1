//! The detail pane: everything known about the selected row.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use nono_learn::model::HostSource;
use nono_learn::suggest::display;

use crate::review::model::{Governor, ReviewState, Tab};
use crate::review::tree::NodeId;

use super::files::{badges, list_status};
use super::network::host_status;
use super::{Theme, errno_name, pane, suggestion_text};

fn field<'a>(theme: Theme, name: &'a str, value: String) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{name:<10}"), theme.fg(Color::Gray)),
        Span::raw(value),
    ])
}

pub(super) fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
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

pub(super) fn detail(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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
