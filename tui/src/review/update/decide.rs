//! Decisions on rows and hosts: accept, allow, deny, widen, narrow, include a group,
//! accept every safe suggestion. What may be granted at all is `nono_learn::grant`'s.

use std::path::Path;

use nono_enforcer::capability::Access;

use nono_learn::grant::{self, narrow_host, never_whole, widen_host};
use nono_learn::suggest::{SuggestionKind, display};

use crate::review::decision::{Decision, ItemKey, PathRule, Rule, Verdict};
use crate::review::model::{Class, Confirm, ConfirmPath, Governor, Overlay, ReviewState, Tab};
use crate::review::tree::{NodeId, ROOT};

use super::undo::apply;
use super::{error, info};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Accept,
    Allow(Access),
    Deny,
    Widen,
    Narrow,
    Edit,
    Include,
}

fn node_is_dir(state: &ReviewState, id: NodeId) -> bool {
    state.tree.node(id).is_branch() || state.path_node(id).is_some_and(|n| n.dir)
}

/// The access the command needed on a node (successful and refused accesses).
fn needed_access(state: &ReviewState, id: NodeId) -> Option<Access> {
    let node = state.path_node(id)?;
    let mut all = node.ok;
    for need in node.failed.iter() {
        all.insert(need);
    }
    all.access()
}

/// The rule a row starts from: its grant suggestion, or the row itself.
pub(super) fn initial_rule(state: &ReviewState, id: NodeId) -> PathRule {
    let path = state.tree.path_buf(id);
    let anchor_dir = node_is_dir(state, id);
    if let Some(s) = state.suggestion(id)
        && s.kind == SuggestionKind::Grant
        && let (Some(p), Some(access)) = (&s.path, s.access)
    {
        return PathRule {
            path: p.clone(),
            dir: s.dir,
            access,
            anchor_dir,
            bypass: None,
        };
    }
    PathRule {
        path,
        dir: anchor_dir,
        access: needed_access(state, id).unwrap_or(Access::Read),
        anchor_dir,
        bypass: None,
    }
}

pub(super) fn describe(rule: &PathRule, home: &Path) -> String {
    format!(
        "{}{} ({})",
        display(&rule.path, home),
        if rule.dir { "/" } else { "" },
        rule.access.name()
    )
}

/// Allows a path rule after the checks: never `/` or `$HOME`; a denied (sensitive)
/// path opens the confirmation instead.
fn allow_path(state: &mut ReviewState, key: ItemKey, mut rule: PathRule) {
    let home = state.learn.ctx.home.clone();
    if let Some(why) = never_whole(&rule.path, &home) {
        error(state, format!("not allowed: {why}"));
        return;
    }
    if let Some(s) = state.learn.ctx.sensitive(&rule.path).cloned() {
        if rule.bypass.as_deref() != Some(s.path.as_path()) {
            rule.bypass = None;
            state.overlay = Overlay::Confirm(Box::new(Confirm {
                key,
                rule,
                denied: s.path,
                label: s.label,
                input: String::new(),
                error: None,
            }));
            return;
        }
    } else {
        rule.bypass = None;
    }
    if let Some(dir) = state.path_dir_reached(&rule) {
        state.overlay = Overlay::ConfirmPath(Box::new(ConfirmPath {
            key,
            rule,
            on_path: dir.to_path_buf(),
        }));
        return;
    }
    grant(state, key, rule);
}

/// Allows a path rule, checks done.
pub(super) fn grant(state: &mut ReviewState, key: ItemKey, rule: PathRule) {
    let home = state.learn.ctx.home.clone();
    let carved = if rule.dir {
        state
            .decisions
            .values()
            .filter(|d| d.verdict == Verdict::Deny)
            .filter_map(|d| d.path_rule())
            .filter(|r| r.path != rule.path && r.path.starts_with(&rule.path))
            .count()
    } else {
        0
    };
    let mut text = format!("allowed {}", describe(&rule, &home));
    if carved > 0 {
        text.push_str(&format!(
            "; {carved} denied path{} inside carved out (filesystem.deny): {}",
            if carved == 1 { "" } else { "s" },
            carve_cost(&rule.path, &home)
        ));
    }
    apply(
        state,
        vec![(
            key,
            Some(Decision {
                verdict: Verdict::Allow,
                rule: Rule::Path(rule),
            }),
        )],
    );
    info(state, text);
}

/// What carving a denied path out of the granted directory `dir` costs (Landlock
/// cannot deny below a grant: see docs/profiles.md, "How denials work").
fn carve_cost(dir: &Path, home: &Path) -> String {
    format!(
        "{}/ is then granted entry by entry, so the command cannot create, delete, rename or list entries directly in it (nor in the directories down to the denied path)",
        display(dir, home)
    )
}

/// The decision (key and rule) widen/narrow/edit work on for a node: its own, the one
/// deciding it from above, or a new pending one from its suggestion.
fn shaping_target(state: &ReviewState, id: NodeId) -> (ItemKey, Decision) {
    let own_key = ItemKey::Path(state.tree.path_buf(id));
    match state.governor(id) {
        Governor::Own(d) if d.path_rule().is_some() => (own_key, d.clone()),
        Governor::Rule { anchor, decision } => {
            (ItemKey::Path(anchor.to_path_buf()), decision.clone())
        }
        _ => (
            own_key,
            Decision {
                verdict: Verdict::Pending,
                rule: Rule::Path(initial_rule(state, id)),
            },
        ),
    }
}

/// Stores a reshaped rule. A rule that reaches into a denied path loses an earlier
/// confirmation and goes back to pending.
pub(super) fn reshape(state: &mut ReviewState, key: ItemKey, mut decision: Decision, what: &str) {
    let home = state.learn.ctx.home.clone();
    let mut note = String::new();
    if let Rule::Path(rule) = &mut decision.rule {
        let sensitive = state.learn.ctx.sensitive(&rule.path).is_some();
        if (rule.bypass.is_some() || sensitive) && decision.verdict == Verdict::Allow {
            decision.verdict = Verdict::Pending;
            note = " — sensitive: confirm again to allow".into();
        }
        rule.bypass = None;
        let verdict = match decision.verdict {
            Verdict::Pending if note.is_empty() => " — pending: y/r/w allows it, d denies it",
            Verdict::Pending => "",
            Verdict::Allow => " — allowed",
            Verdict::Deny => " — denied",
        };
        let text = format!("{what} to {}{verdict}{note}", describe(rule, &home));
        apply(state, vec![(key, Some(decision))]);
        info(state, text);
    }
}

pub(super) fn act(state: &mut ReviewState, action: Action) {
    state.ensure_suggestions();
    match state.tab {
        Tab::Network => return act_on_host(state, action),
        Tab::Files | Tab::Exec => {}
    }
    let Some(id) = state.current_node() else {
        info(state, "nothing selected");
        return;
    };
    if id == ROOT && action != Action::Deny {
        error(state, "not allowed: / is never granted whole");
        return;
    }
    match action {
        Action::Accept => accept(state, id),
        Action::Allow(access) => allow_with(state, id, access),
        Action::Deny => deny(state, id),
        Action::Widen => {
            let (key, mut d) = shaping_target(state, id);
            let home = state.learn.ctx.home.clone();
            let Rule::Path(rule) = &mut d.rule else {
                return;
            };
            match grant::widen(&rule.path, &home) {
                Ok(wider) => {
                    rule.path = wider;
                    rule.dir = true;
                    reshape(state, key, d, "widened");
                }
                Err(e) => error(state, e),
            }
        }
        Action::Narrow => {
            let (key, mut d) = shaping_target(state, id);
            let ItemKey::Path(anchor) = &key else { return };
            let anchor = anchor.clone();
            let Rule::Path(rule) = &mut d.rule else {
                return;
            };
            match grant::narrow(&rule.path, &anchor) {
                Ok(narrower) => {
                    rule.dir = if narrower == anchor {
                        rule.anchor_dir
                    } else {
                        true
                    };
                    rule.path = narrower;
                    reshape(state, key, d, "narrowed");
                }
                Err(e) => error(state, e),
            }
        }
        Action::Edit => {
            let (key, d) = shaping_target(state, id);
            let Rule::Path(rule) = &d.rule else { return };
            let home = &state.learn.ctx.home;
            let mut input = display(&rule.path, home).replace("$$", "$");
            if rule.dir && !input.ends_with('/') {
                input.push('/');
            }
            state.overlay = Overlay::Edit {
                key,
                input,
                error: None,
            };
        }
        Action::Include => match state.suggestion(id).map(|s| s.kind.clone()) {
            Some(SuggestionKind::IncludeGroup { group }) => include_group(state, &group),
            _ => info(state, "no group is suggested for this row"),
        },
    }
}

fn include_group(state: &mut ReviewState, group: &str) {
    apply(
        state,
        vec![(
            ItemKey::Group(group.to_string()),
            Some(Decision {
                verdict: Verdict::Allow,
                rule: Rule::Group(group.to_string()),
            }),
        )],
    );
    info(state, format!("group `{group}` will be included"));
}

pub(super) fn accept(state: &mut ReviewState, id: NodeId) {
    let home = state.learn.ctx.home.clone();
    match state.governor(id) {
        Governor::Own(d) if d.verdict == Verdict::Allow => {
            return info(state, "already allowed");
        }
        Governor::Own(d) => {
            if let Rule::Path(rule) = &d.rule {
                let rule = rule.clone();
                let key = ItemKey::Path(state.tree.path_buf(id));
                return allow_path(state, key, rule);
            }
        }
        Governor::Rule { anchor, decision } if decision.verdict == Verdict::Allow => {
            let text = format!(
                "already allowed by {}{}",
                decision
                    .path_rule()
                    .map(|r| describe(r, &home))
                    .unwrap_or_default(),
                if state.tree.node(id).path.as_ref() != anchor {
                    format!(" (decided on {})", display(anchor, &home))
                } else {
                    String::new()
                }
            );
            return info(state, text);
        }
        Governor::Workdir(d) | Governor::Group(d) if d.verdict == Verdict::Allow => {
            return info(state, "already allowed");
        }
        _ => {}
    }
    let kind = state.suggestion(id).map(|s| (s.kind.clone(), s.access));
    match kind {
        Some((SuggestionKind::Workdir, access)) => {
            let access = access.unwrap_or(Access::ReadWrite);
            apply(
                state,
                vec![(
                    ItemKey::Workdir,
                    Some(Decision {
                        verdict: Verdict::Allow,
                        rule: Rule::Workdir(access),
                    }),
                )],
            );
            info(state, format!("workdir.access = {access}"));
        }
        Some((SuggestionKind::IncludeGroup { group }, _)) => include_group(state, &group),
        Some((SuggestionKind::Covered { by }, _)) => {
            info(state, format!("already granted by {by}: no rule needed"))
        }
        Some((SuggestionKind::Grant, _)) | Some((SuggestionKind::Sensitive { .. }, _)) => {
            let key = ItemKey::Path(state.tree.path_buf(id));
            let rule = initial_rule(state, id);
            allow_path(state, key, rule);
        }
        Some((SuggestionKind::Host, _)) => {}
        None => match state.class(id) {
            Class::Failed => info(
                state,
                "a failed probe: nothing suggested; r or w grants it anyway",
            ),
            Class::Lookup => info(state, "only looked up: needs no grant"),
            _ => info(
                state,
                "nothing suggested for this row; r or w grants it anyway",
            ),
        },
    }
}

fn allow_with(state: &mut ReviewState, id: NodeId, access: Access) {
    let own_key = ItemKey::Path(state.tree.path_buf(id));
    let own = state.decisions.get(&own_key).cloned();
    if own.is_none()
        && let Some(s) = state.suggestion(id)
        && s.kind == SuggestionKind::Workdir
    {
        apply(
            state,
            vec![(
                ItemKey::Workdir,
                Some(Decision {
                    verdict: Verdict::Allow,
                    rule: Rule::Workdir(access),
                }),
            )],
        );
        return info(state, format!("workdir.access = {access}"));
    }
    if own.is_none()
        && let Governor::Rule { decision, .. } = state.governor(id)
        && decision.verdict == Verdict::Allow
        && decision
            .path_rule()
            .is_some_and(|r| r.access.covers(access))
    {
        return info(state, "already allowed by the rule above it");
    }
    let mut rule = match own.as_ref().and_then(|d| d.path_rule()) {
        Some(rule) => rule.clone(),
        None => initial_rule(state, id),
    };
    rule.access = access;
    allow_path(state, own_key, rule);
}

/// `d`: denies the row under the cursor — its own path, never the wider rule it
/// shares with other rows (a directory suggestion, the working directory, a group),
/// which stays as it was. Inside an allowed directory the denial is a carve-out, and
/// the status line says what that costs. On the working directory's own row, `d`
/// denies the working directory; a rule shaped on this row (widened, narrowed,
/// edited, not yet decided) is denied as shaped.
pub(super) fn deny(state: &mut ReviewState, id: NodeId) {
    let home = state.learn.ctx.home.clone();
    let workdir = state.learn.ctx.workdir.clone();
    let path = state.tree.path_buf(id);
    let own_key = ItemKey::Path(path.clone());
    let dir = node_is_dir(state, id);
    let row_rule = PathRule {
        path: path.clone(),
        dir,
        access: needed_access(state, id).unwrap_or(Access::ReadWrite),
        anchor_dir: dir,
        bypass: None,
    };
    let row_text = describe(&row_rule, &home);
    let suggested = state.suggestion(id).map(|s| s.kind.clone());
    // The working directory's own row: the whole working directory.
    if path == workdir && matches!(suggested, Some(SuggestionKind::Workdir)) {
        apply(
            state,
            vec![(
                ItemKey::Workdir,
                Some(Decision {
                    verdict: Verdict::Deny,
                    rule: Rule::Workdir(Access::ReadWrite),
                }),
            )],
        );
        return info(
            state,
            "working directory denied: workdir.access is left out",
        );
    }
    if deny_governed(state, id, row_rule.clone()) {
        return;
    }
    let shared = match &suggested {
        Some(SuggestionKind::Workdir) => Some("the working directory (workdir.access)".to_string()),
        Some(SuggestionKind::IncludeGroup { group }) => Some(format!("group `{group}`")),
        Some(SuggestionKind::Grant) => state.suggestion(id).and_then(|s| {
            s.path
                .as_ref()
                .filter(|p| **p != path)
                .map(|p| format!("{}{}", display(p, &home), if s.dir { "/" } else { "" }))
        }),
        _ => None,
    };
    apply(state, vec![(own_key, Some(denied(row_rule)))]);
    info(
        state,
        match shared {
            Some(rest) => format!(
                "denied {row_text} only; {rest} stays pending for the other rows (allowing it carves this one out)"
            ),
            None => format!("denied {row_text}"),
        },
    );
}

pub(super) fn accept_all_safe(state: &mut ReviewState) {
    state.ensure_suggestions();
    let ctx = &state.learn.ctx;
    let mut changes: Vec<(ItemKey, Option<Decision>)> = Vec::new();
    for s in &state.suggestions {
        let undecided = |key: &ItemKey| !state.decisions.contains_key(key);
        let change = match &s.kind {
            SuggestionKind::Grant => {
                let (Some(path), Some(access)) = (&s.path, s.access) else {
                    continue;
                };
                let key = ItemKey::Path(path.clone());
                // A row decided by hand keeps its decision; a row only denied does not
                // stop the rest of the suggestion (the profile carves it out).
                let governed = s.observed.iter().chain(std::iter::once(path)).any(|p| {
                    state
                        .tree
                        .find(p)
                        .is_some_and(|id| match state.governor(id) {
                            Governor::None => false,
                            Governor::Own(d) => {
                                d.verdict != Verdict::Deny
                                    || d.path_rule().is_none_or(|r| r.path != *p)
                            }
                            _ => true,
                        })
                });
                let rule = PathRule {
                    path: path.clone(),
                    dir: s.dir,
                    access,
                    anchor_dir: s.dir,
                    bypass: None,
                };
                if !grant::may_accept_unasked(path, s.safe, ctx)
                    || state.path_dir_reached(&rule).is_some()
                {
                    continue;
                }
                if governed || !undecided(&key) {
                    continue;
                }
                (key, Rule::Path(rule))
            }
            SuggestionKind::IncludeGroup { group } => {
                (ItemKey::Group(group.clone()), Rule::Group(group.clone()))
            }
            SuggestionKind::Workdir => (
                ItemKey::Workdir,
                Rule::Workdir(s.access.unwrap_or(Access::ReadWrite)),
            ),
            SuggestionKind::Host => (ItemKey::Host(s.rule.clone()), Rule::Host(s.rule.clone())),
            SuggestionKind::Sensitive { .. } | SuggestionKind::Covered { .. } => continue,
        };
        if !s.safe {
            continue;
        }
        if undecided(&change.0) {
            changes.push((
                change.0,
                Some(Decision {
                    verdict: Verdict::Allow,
                    rule: change.1,
                }),
            ));
        }
    }
    let n = changes.len();
    apply(state, changes);
    // The same count as the header's, so the two never disagree.
    let pending = state.pending_count();
    let sensitive = state
        .suggestions
        .iter()
        .filter(|s| matches!(s.kind, SuggestionKind::Sensitive { .. }))
        .count();
    let mut text = format!(
        "accepted {n} safe suggestion{}; {pending} pending left for you",
        if n == 1 { "" } else { "s" }
    );
    if pending > 0 {
        text.push_str(" (system writes, PATH directories, rules you shaped: p finds them)");
    }
    if sensitive > 0 {
        text.push_str(&format!(
            "; {sensitive} sensitive group{} of paths stay denied",
            if sensitive == 1 { "" } else { "s" }
        ));
    }
    info(state, text);
}

fn act_on_host(state: &mut ReviewState, action: Action) {
    let i = state.cursor[1];
    let Some((host, _)) = state.host_row(i) else {
        return info(
            state,
            "socket peers are reached through nono's proxy by host name: allow the host instead",
        );
    };
    let host = host.clone();
    let key = ItemKey::Host(host.clone());
    let current = state.decisions.get(&key).cloned();
    let pattern = match current.as_ref().map(|d| &d.rule) {
        Some(Rule::Host(p)) => p.clone(),
        _ => host.clone(),
    };
    let verdict = current.as_ref().map_or(Verdict::Pending, |d| d.verdict);
    let set = |state: &mut ReviewState, verdict, pattern: String| {
        let text = format!(
            "{pattern}: {}",
            match verdict {
                Verdict::Allow => "allowed (network.allow_domain)",
                Verdict::Deny => "denied",
                Verdict::Pending => "pending: y allows it",
            }
        );
        apply(
            state,
            vec![(
                key.clone(),
                Some(Decision {
                    verdict,
                    rule: Rule::Host(pattern),
                }),
            )],
        );
        info(state, text);
    };
    match action {
        Action::Accept | Action::Allow(_) | Action::Include => {
            if verdict == Verdict::Allow {
                return info(state, "already allowed");
            }
            set(state, Verdict::Allow, pattern)
        }
        Action::Deny => set(state, Verdict::Deny, pattern),
        Action::Widen => match widen_host(&pattern) {
            Ok(p) => set(state, verdict, p),
            Err(e) => error(state, e),
        },
        Action::Narrow => match narrow_host(&pattern, &host) {
            Ok(p) => set(state, verdict, p),
            Err(e) => error(state, e),
        },
        Action::Edit => info(state, "host rules are widened with + and narrowed with -"),
    }
}

/// Denies a row some wider decision already covers (its own rule, a rule above it, the
/// working directory, a group), saying what happens to that decision. False when
/// nothing governs the row.
fn deny_governed(state: &mut ReviewState, id: NodeId, row_rule: PathRule) -> bool {
    let home = state.learn.ctx.home.clone();
    let workdir = state.learn.ctx.workdir.clone();
    let path = row_rule.path.clone();
    let own_key = ItemKey::Path(path.clone());
    let row_text = describe(&row_rule, &home);
    match state.governor(id) {
        Governor::Own(d) if d.verdict == Verdict::Deny => {
            info(state, "already denied");
        }
        Governor::Own(d) => {
            let Some(rule) = d.path_rule().cloned() else {
                return true;
            };
            if d.verdict == Verdict::Pending || rule.path == path {
                let text = describe(&rule, &home);
                apply(state, vec![(own_key, Some(denied(rule)))]);
                info(state, format!("denied {text}"));
                return true;
            }
            // A wider rule allowed on this row: it stays allowed (now decided on its
            // own path) and this row is carved out of it.
            let grant_key = ItemKey::Path(rule.path.clone());
            let grant_path = rule.path.clone();
            let grant = Decision {
                verdict: Verdict::Allow,
                rule: Rule::Path(PathRule {
                    anchor_dir: true,
                    ..rule
                }),
            };
            apply(
                state,
                vec![(grant_key, Some(grant)), (own_key, Some(denied(row_rule)))],
            );
            info(
                state,
                format!(
                    "denied {row_text} only, carved out of {}/ (filesystem.deny): {}",
                    display(&grant_path, &home),
                    carve_cost(&grant_path, &home)
                ),
            );
        }
        Governor::Rule { decision, .. } if decision.verdict == Verdict::Deny => {
            info(state, "already denied by the rule above it");
        }
        Governor::Rule { decision, .. } => {
            let above = decision.path_rule().map(|r| r.path.clone());
            apply(state, vec![(own_key, Some(denied(row_rule)))]);
            let Some(above) = above else { return true };
            info(
                state,
                format!(
                    "denied {row_text}, carved out of {}/ (filesystem.deny): {}",
                    display(&above, &home),
                    carve_cost(&above, &home)
                ),
            );
        }
        Governor::Workdir(d) if d.verdict == Verdict::Deny => {
            info(state, "already denied with the working directory");
        }
        Governor::Workdir(d) => {
            let allowed = d.verdict == Verdict::Allow;
            apply(state, vec![(own_key, Some(denied(row_rule)))]);
            info(
                state,
                if allowed {
                    format!(
                        "denied {row_text}, carved out of the working directory (filesystem.deny): {}",
                        carve_cost(&workdir, &home)
                    )
                } else {
                    format!("denied {row_text} only; the working directory stays as it was")
                },
            );
        }
        Governor::Group(d) if d.verdict == Verdict::Deny => {
            info(state, "already denied with its group");
        }
        Governor::Group(d) => {
            let allowed = d.verdict == Verdict::Allow;
            let group = match &d.rule {
                Rule::Group(g) => g.clone(),
                _ => String::new(),
            };
            apply(state, vec![(own_key, Some(denied(row_rule)))]);
            info(
                state,
                if allowed {
                    format!(
                        "denied {row_text}, carved out of group `{group}` (filesystem.deny): the directory of the group holding it is then granted entry by entry"
                    )
                } else {
                    format!("denied {row_text} only; group `{group}` stays as it was")
                },
            );
        }
        Governor::None => return false,
    }
    true
}

/// A denial of `rule` (never with a confirmation to reach a denied path).
fn denied(rule: PathRule) -> Decision {
    Decision {
        verdict: Verdict::Deny,
        rule: Rule::Path(PathRule {
            bypass: None,
            ..rule
        }),
    }
}
