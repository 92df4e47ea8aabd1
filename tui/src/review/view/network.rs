//! The Network tab: the hosts looked up and connected to.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use nono_learn::model::HostSource;

use crate::review::decision::Verdict;
use crate::review::layout::Focus;
use crate::review::model::{Class, ReviewState};

use super::files::{decided_text, name_and_status};
use super::{Theme, fit, pane};

pub(super) fn host_status(state: &ReviewState, host: &str) -> (String, Class) {
    match state
        .decisions
        .get(&crate::review::decision::ItemKey::Host(host.to_string()))
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

pub(super) fn network(state: &ReviewState, theme: Theme, frame: &mut Frame<'_>, area: Rect) {
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
