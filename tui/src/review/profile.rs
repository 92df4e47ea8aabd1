//! From decisions to the profile file, where it goes, and how it differs from what it
//! replaces. Pure: the event loop does the writing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nono_enforcer::ProfileStore;
use nono_enforcer::capability::Access;
use nono_enforcer::profile::file::{
    Conditional, Filesystem, Groups, Meta, Network, OneOrMany, ProfileFile, Workdir, WorkdirAccess,
};

use nono_learn::suggest::{covered_by, display};

use super::decision::{PathRule, Rule, Verdict};
use super::model::ReviewState;

/// The profile the decisions amount to: allowed rules (minus those inside a wider
/// allowed one), denials that carve something out of a grant, sensitive paths lifted
/// with `bypass_protection`, groups, the working directory and hosts.
pub fn build(state: &ReviewState, name: &str) -> ProfileFile {
    let ctx = &state.learn.ctx;
    let home = ctx.home.as_path();
    let allowed: Vec<&PathRule> = state
        .decisions
        .values()
        .filter(|d| d.verdict == Verdict::Allow)
        .filter_map(|d| d.path_rule())
        .collect();
    let mut rules: BTreeMap<(PathBuf, bool), Access> = BTreeMap::new();
    let mut bypass: BTreeSet<String> = BTreeSet::new();
    for rule in &allowed {
        let redundant = rule.bypass.is_none()
            && allowed.iter().any(|o| {
                o.dir
                    && o.path != rule.path
                    && rule.path.starts_with(&o.path)
                    && o.access.covers(rule.access)
            });
        if let Some(denied) = &rule.bypass {
            bypass.insert(display(denied, home));
        }
        if redundant {
            continue;
        }
        rules
            .entry((rule.path.clone(), rule.dir))
            .and_modify(|a| *a = a.union(rule.access))
            .or_insert(rule.access);
    }
    let mut fs = Filesystem::default();
    for ((path, dir), access) in &rules {
        let list = match (dir, access) {
            (true, Access::Read) => &mut fs.read,
            (true, Access::Write) => &mut fs.write,
            (true, Access::ReadWrite) => &mut fs.allow,
            (false, Access::Read) => &mut fs.read_file,
            (false, Access::Write) => &mut fs.write_file,
            (false, Access::ReadWrite) => &mut fs.allow_file,
        };
        list.push(Conditional::Plain(display(path, home)));
    }
    fs.bypass_protection = bypass.iter().cloned().map(Conditional::Plain).collect();
    // A denial only needs writing when something would otherwise grant the path: an
    // allowed directory rule, the allowed working directory, an included group, the
    // base profile.
    let workdir_allowed = state
        .decisions
        .values()
        .any(|d| d.verdict == Verdict::Allow && matches!(d.rule, Rule::Workdir(_)));
    let groups_allowed: Vec<&str> = state
        .decisions
        .values()
        .filter(|d| d.verdict == Verdict::Allow)
        .filter_map(|d| match &d.rule {
            Rule::Group(g) => Some(g.as_str()),
            _ => None,
        })
        .collect();
    let in_allowed_group = |path: &Path| {
        ctx.groups
            .iter()
            .filter(|g| groups_allowed.contains(&g.name.as_str()))
            .flat_map(|g| g.grants.iter())
            .any(|c| c.dir && c.path != path && path.starts_with(&c.path))
    };
    let mut denies = BTreeSet::new();
    for d in state.decisions.values() {
        if d.verdict != Verdict::Deny {
            continue;
        }
        let Some(rule) = d.path_rule() else { continue };
        let inside_allowed = rules
            .keys()
            .any(|(p, dir)| *dir && rule.path != *p && rule.path.starts_with(p))
            || (workdir_allowed && rule.path != ctx.workdir && rule.path.starts_with(&ctx.workdir))
            || in_allowed_group(&rule.path);
        let from_base = covered_by(ctx, &rule.path, Access::Read).is_some()
            || covered_by(ctx, &rule.path, Access::Write).is_some();
        if (inside_allowed || from_base) && ctx.sensitive(&rule.path).is_none() {
            denies.insert(display(&rule.path, home));
        }
    }
    fs.deny = denies.into_iter().map(Conditional::Plain).collect();

    let mut groups = Groups::default();
    let mut network = Network::default();
    let mut workdir = None;
    for d in state.decisions.values() {
        if d.verdict != Verdict::Allow {
            continue;
        }
        match &d.rule {
            Rule::Group(g) => groups.include.push(Conditional::Plain(g.clone())),
            Rule::Host(h) if !network.allow_domain.contains(h) => {
                network.allow_domain.push(h.clone())
            }
            Rule::Workdir(access) => {
                workdir = Some(match access {
                    Access::Read => WorkdirAccess::Read,
                    Access::Write => WorkdirAccess::Write,
                    Access::ReadWrite => WorkdirAccess::Readwrite,
                })
            }
            _ => {}
        }
    }
    network.allow_domain.sort();
    // As `--output` writes it: no network seen, none allowed.
    if network.allow_domain.is_empty() && !state.learn.network_used() {
        network.block = Some(true);
    }
    let mut description = state.config.description.clone();
    if !bypass.is_empty() {
        description.push_str(&format!(
            " — BYPASSES PROTECTION of {} (confirmed by hand)",
            bypass.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    ProfileFile {
        extends: Some(OneOrMany::One(state.config.base_profile.clone())),
        meta: Some(Meta {
            name: Some(name.to_string()),
            version: Some("1.0.0".into()),
            description: Some(description),
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

/// The file's text: pretty JSON and a final newline.
pub fn to_text(profile: &ProfileFile) -> String {
    let mut text = serde_json::to_string_pretty(profile).unwrap_or_else(|e| format!("{e}"));
    text.push('\n');
    text
}

/// Where a typed name or path is saved. A bare name goes to the profiles directory
/// (`NAME.json`) and must not be a built-in's; anything with a `/` or ending in
/// `.json` is a path (relative to `cwd`, `~/` expanded).
pub fn target(
    input: &str,
    profiles_dir: &Path,
    cwd: &Path,
    home: &Path,
) -> Result<PathBuf, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("type a profile name or a path".into());
    }
    let path = if text.contains('/') || text.ends_with(".json") {
        let path = match text.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => cwd.join(text),
        };
        if path.file_name().is_none() || text.ends_with('/') {
            return Err(format!("{text}: not a file name"));
        }
        path
    } else {
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || text.starts_with('.')
        {
            return Err(format!(
                "{text}: a profile name uses letters, digits, `-`, `_` and `.`"
            ));
        }
        profiles_dir.join(format!("{text}.json"))
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if ProfileStore::is_builtin(&stem)
        && (path.parent() == Some(profiles_dir) || !text.contains('/'))
    {
        return Err(format!(
            "`{stem}` is a built-in profile; choose another name"
        ));
    }
    Ok(path)
}

/// The profile name for a target path (`meta.name`).
pub fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "learned".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_to_the_profiles_directory_and_builtins_are_refused() {
        let (dir, cwd, home) = (
            Path::new("/c/nono/profiles"),
            Path::new("/w"),
            Path::new("/h"),
        );
        assert_eq!(
            target("mytool", dir, cwd, home),
            Ok(PathBuf::from("/c/nono/profiles/mytool.json"))
        );
        assert_eq!(
            target("out/p.json", dir, cwd, home),
            Ok(PathBuf::from("/w/out/p.json"))
        );
        assert_eq!(
            target("~/p.json", dir, cwd, home),
            Ok(PathBuf::from("/h/p.json"))
        );
        let refused = target("default", dir, cwd, home);
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("built-in")),
            "{refused:?}"
        );
        assert!(target("/c/nono/profiles/default.json", dir, cwd, home).is_err());
        assert!(target("a b", dir, cwd, home).is_err());
        assert!(target("", dir, cwd, home).is_err());
    }
}
