//! What `nono learn` prints and writes: the human summary (grouped READ / WRITE /
//! EXEC / NETWORK with counts), the JSON report, and the suggested profile.

use std::fmt::Write as _;

use nono_enforcer::capability::Access;
use nono_enforcer::profile::file::{
    Conditional, Filesystem, Groups, Meta, Network, OneOrMany, ProfileFile, Workdir, WorkdirAccess,
};
use serde::Serialize;

use super::model::LearnModel;
use super::suggest::{Suggestion, SuggestionKind, unnamed_temporaries};

/// What a profile with `network.allow_domain` needs and this build lacks, said where
/// such a profile is saved (after the `--output` summary line, and in the review's
/// save dialog), in two lines that fit the dialog.
pub const ALLOW_DOMAIN_NOTE: [&str; 2] = [
    "allow_domain needs nono's network proxy, which this build does not have yet:",
    "`nono run` refuses this profile until then; run it with --allow-net or --block-network",
];

/// Builds a profile from accepted suggestions, extending `base`. `block_network`
/// (the trace saw no network use, see [`LearnModel::network_used`]) writes
/// `network.block`, unless a host is allowed.
pub fn profile(
    accepted: &[&Suggestion],
    base: &str,
    name: &str,
    description: &str,
    block_network: bool,
) -> ProfileFile {
    let mut fs = Filesystem::default();
    let mut groups = Groups::default();
    let mut network = Network::default();
    let mut workdir = None;
    for s in accepted {
        match &s.kind {
            SuggestionKind::Grant => {
                let list = match (s.dir, s.access.unwrap_or(Access::Read)) {
                    (true, Access::Read) => &mut fs.read,
                    (true, Access::Write) => &mut fs.write,
                    (true, Access::ReadWrite) => &mut fs.allow,
                    (false, Access::Read) => &mut fs.read_file,
                    (false, Access::Write) => &mut fs.write_file,
                    (false, Access::ReadWrite) => &mut fs.allow_file,
                };
                list.push(Conditional::Plain(s.rule.clone()));
            }
            SuggestionKind::IncludeGroup { group } => {
                groups.include.push(Conditional::Plain(group.clone()))
            }
            SuggestionKind::Workdir => {
                workdir = Some(match s.access.unwrap_or(Access::Read) {
                    Access::Read => WorkdirAccess::Read,
                    Access::Write => WorkdirAccess::Write,
                    Access::ReadWrite => WorkdirAccess::Readwrite,
                })
            }
            SuggestionKind::Host => network.allow_domain.push(s.rule.clone()),
            SuggestionKind::Covered { .. } | SuggestionKind::Sensitive { .. } => {}
        }
    }
    if block_network && network.allow_domain.is_empty() {
        network.block = Some(true);
    }
    ProfileFile {
        extends: Some(OneOrMany::One(base.to_string())),
        meta: Some(Meta {
            name: Some(name.to_string()),
            version: Some("1.0.0".into()),
            description: Some(description.to_string()),
            author: None,
        }),
        workdir: workdir.map(|access| Workdir {
            access: Some(access),
        }),
        groups: Some(groups).filter(|g| *g != Groups::default()),
        filesystem: Some(fs).filter(|f| *f != Filesystem::default()),
        network: Some(network).filter(|n| *n != Network::default()),
        ..ProfileFile::default()
    }
}

/// The suggestions `--output` writes without a person looking: the safe ones.
pub fn auto_approved(suggestions: &[Suggestion]) -> Vec<&Suggestion> {
    suggestions
        .iter()
        .filter(|s| {
            s.safe
                && !matches!(
                    s.kind,
                    SuggestionKind::Covered { .. } | SuggestionKind::Sensitive { .. }
                )
        })
        .collect()
}

/// `nono learn --json`.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// The command.
    pub command: &'a [String],
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// The session directory.
    pub session: Option<String>,
    /// Events received and lost.
    pub events: u64,
    /// Events lost by the tracer.
    pub dropped: u64,
    /// Everything observed.
    pub observations: &'a LearnModel,
    /// Every suggestion, with its reason and whether it is safe to auto-approve.
    pub suggestions: &'a [Suggestion],
    /// The profile of the safe suggestions.
    pub profile: ProfileFile,
    /// Temporary files made directly in `/` or `$HOME`: no rule can grant them.
    pub not_granted: Vec<super::suggest::NotGranted>,
}

fn access_tag(access: Option<Access>) -> &'static str {
    match access {
        Some(Access::Read) => "r ",
        Some(Access::Write) => " w",
        Some(Access::ReadWrite) => "rw",
        None => "  ",
    }
}

/// The human summary: one line of counters, then sections with counts.
pub fn summary(model: &LearnModel, suggestions: &[Suggestion]) -> String {
    let mut out = String::new();
    // Only counted: no need to sort every path for that.
    let failed = model
        .files
        .unordered()
        .filter(|(_, n)| n.ok.is_empty() && n.failed_count > 0)
        .count();
    let _ = writeln!(
        out,
        "nono learn: {} events ({} dropped), {} paths, {} programs, {} hosts, {} processes; exit {}",
        model.events,
        model.dropped,
        model.files.len(),
        model.execs.len(),
        model.hosts.len(),
        model.processes.max(1),
        model
            .exit_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "?".into())
    );
    let grants: Vec<&Suggestion> = suggestions
        .iter()
        .filter(|s| s.kind == SuggestionKind::Grant)
        .collect();
    let reads: Vec<_> = grants
        .iter()
        .filter(|s| s.access == Some(Access::Read))
        .collect();
    let writes: Vec<_> = grants
        .iter()
        .filter(|s| s.access != Some(Access::Read))
        .collect();
    let mut section = |title: &str, rows: Vec<String>| {
        let _ = writeln!(out, "\n{title} ({})", rows.len());
        for row in rows {
            let _ = writeln!(out, "  {row}");
        }
    };
    let row = |s: &Suggestion| {
        let kind = if s.dir { "dir " } else { "file" };
        let flag = if s.safe { "" } else { "  [review]" };
        format!(
            "{} {kind} {}  — {}{flag}",
            access_tag(s.access),
            s.rule,
            s.reason
        )
    };
    section("READ", reads.iter().map(|s| row(s)).collect());
    section("WRITE", writes.iter().map(|s| row(s)).collect());
    section(
        "EXEC",
        model
            .execs
            .iter()
            .map(|(path, e)| {
                let failed = if e.failed > 0 {
                    format!(", {} failed", e.failed)
                } else {
                    String::new()
                };
                format!("{}  ({}×{failed})", path.display(), e.count)
            })
            .collect(),
    );
    let mut network: Vec<String> = suggestions
        .iter()
        .filter(|s| s.kind == SuggestionKind::Host)
        .map(|s| format!("{}  — {}", s.rule, s.reason))
        .collect();
    network.extend(
        model
            .sockets
            .iter()
            .map(|(peer, n)| format!("{peer}  ({} ok, {} failed)", n.ok, n.failed)),
    );
    if !model.network_used() {
        network.push("none used: the profile blocks the network (network.block)".into());
    }
    section("NETWORK", network);
    let other: Vec<String> = suggestions
        .iter()
        .filter(|s| {
            matches!(
                s.kind,
                SuggestionKind::IncludeGroup { .. } | SuggestionKind::Workdir
            )
        })
        .map(|s| match &s.kind {
            SuggestionKind::IncludeGroup { group } => {
                format!("include group {group}  — {}", s.reason)
            }
            _ => format!("{}  — {}", s.rule, s.reason),
        })
        .collect();
    if !other.is_empty() {
        section("PROFILE", other);
    }
    let covered: Vec<String> = suggestions
        .iter()
        .filter(|s| matches!(s.kind, SuggestionKind::Covered { .. }))
        .map(|s| s.reason.clone())
        .collect();
    if !covered.is_empty() {
        section("ALREADY GRANTED", covered);
    }
    let sensitive: Vec<String> = suggestions
        .iter()
        .filter_map(|s| match &s.kind {
            SuggestionKind::Sensitive { label } => Some(
                s.observed
                    .iter()
                    .map(|p| format!("{}  — denied by {label}", p.display()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    if !sensitive.is_empty() {
        section("SENSITIVE (never granted)", sensitive);
    }
    let refused = refused_rows(model);
    if !refused.is_empty() {
        section("REFUSED BY THE SAFETY NET", refused);
    }
    let unnamed = not_granted_rows(model);
    if !unnamed.is_empty() {
        section("NOT GRANTED", unnamed);
    }
    let _ = writeln!(out, "\nfailed probes: {failed} (not suggested)");
    out
}

/// The summary's rows for what the safety net kept the command from creating.
fn refused_rows(model: &LearnModel) -> Vec<String> {
    if model.ctx.net_no_create.is_empty() {
        Vec::new()
    } else {
        model
            .files
            .iter()
            .filter_map(|(path, n)| {
                model
                    .ctx
                    .net_refusal(path, n)
                    .map(|why| format!("{}  — {why}", path.display()))
            })
            .collect()
    }
}

/// The summary's rows for temporaries no rule can grant.
fn not_granted_rows(model: &LearnModel) -> Vec<String> {
    unnamed_temporaries(model)
        .into_iter()
        .map(|super::suggest::NotGranted { dir, files }| {
            let dir = super::suggest::display(&dir, &model.ctx.home);
            let listed: Vec<String> = files
                .iter()
                .take(4)
                .map(|f| f.display().to_string())
                .collect();
            format!(
                "{} temporary file(s) made directly in {dir} ({}{}): no rule can grant them \
                 ({dir} is never granted whole); point TMPDIR at a directory for them",
                files.len(),
                listed.join(", "),
                if files.len() > listed.len() {
                    ", …"
                } else {
                    ""
                }
            )
        })
        .collect()
}
