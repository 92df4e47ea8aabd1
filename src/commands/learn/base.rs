//! The learn context: what the base profile grants and denies, the PATH and
//! temporary directories, and where the safety net stops the command creating files.

use std::path::{Path, PathBuf};

use nono_enforcer::capability::{self, Access, Source};
use nono_enforcer::plan::{self, CachingFs, EntryKind, FsView};
use nono_enforcer::policy::Policy;
use nono_learn::model::{Coverage, GroupInfo, LearnContext, NoCreateDir, SensitivePath};

/// The base profile's view of the machine for the learn model.
pub(super) fn learn_context(
    caps: &capability::CapabilitySet,
    plan: &plan::Plan,
    policy: &Policy,
    vars: &nono_enforcer::PathVars,
    fs: &CachingFs,
) -> LearnContext {
    let sensitive = plan
        .denies
        .iter()
        .map(|d| SensitivePath {
            path: d.canonical.clone(),
            label: match &d.source {
                Source::Group { group, .. } => format!("group `{group}`"),
                Source::NonoState => "nono's own state".into(),
                other => other.to_string(),
            },
        })
        .collect();
    let coverage = |r: &plan::Rule| Coverage {
        path: r.path.clone(),
        access: r.access,
        dir: r.kind == EntryKind::Dir,
    };
    let mut groups = Vec::new();
    for (name, group) in &policy.groups {
        if group.required || !group.platform.applies_here() {
            continue;
        }
        let included = caps.groups.iter().any(|g| &g.name == name);
        let grants = if included {
            plan.rules
                .iter()
                .filter(
                    |r| matches!(r.source.as_ref(), Source::Group { group, .. } if **group == **name),
                )
                .map(coverage)
                .collect()
        } else {
            let lists = [
                (&group.read, Access::Read),
                (&group.write, Access::Write),
                (&group.allow, Access::ReadWrite),
                (&group.read_file, Access::Read),
                (&group.write_file, Access::Write),
                (&group.allow_file, Access::ReadWrite),
            ];
            let mut out = Vec::new();
            for (list, access) in lists {
                for raw in list {
                    let Ok(path) = vars.expand(raw, None) else {
                        continue;
                    };
                    let Ok(canonical) = fs.canonicalize(&path) else {
                        continue;
                    };
                    let dir = fs.kind(&canonical).is_ok_and(|k| k == EntryKind::Dir);
                    out.push(Coverage {
                        path: canonical,
                        access,
                        dir,
                    });
                }
            }
            out
        };
        groups.push(GroupInfo {
            name: name.clone(),
            included,
            grants,
        });
    }
    let base_grants = plan
        .rules
        .iter()
        .filter(|r| !matches!(r.source.as_ref(), Source::Group { .. }))
        .map(coverage)
        .collect();
    LearnContext {
        home: vars.home.clone(),
        workdir: vars.workdir.clone(),
        base_profile: caps.profile.clone().unwrap_or_default(),
        sensitive,
        groups,
        base_grants,
        net_no_create: Vec::new(),
        temp_dirs: temp_dirs(fs, &vars.home),
    }
}

/// The directories of `PATH` (which the command inherits), as written and resolved
/// (`/bin` may be a link to `/usr/bin`): the review asks before a write grant reaches
/// one of them.
pub(super) fn path_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if !dir.is_absolute() {
            continue;
        }
        if let Ok(real) = dir.canonicalize()
            && real != dir
            && !dirs.contains(&real)
        {
            dirs.push(real);
        }
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// The temporary directories of the command (`/tmp`, `/var/tmp`, `/dev/shm` and
/// `$TMPDIR`), canonical; never `/` or `$HOME`, which no rule grants whole.
fn temp_dirs(fs: &CachingFs, home: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let tmpdir = std::env::var_os("TMPDIR").map(PathBuf::from);
    let named = ["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from);
    for dir in named.into_iter().chain(tmpdir) {
        if !dir.is_absolute() {
            continue;
        }
        let Ok(canonical) = fs.canonicalize(&dir) else {
            continue;
        };
        if canonical != Path::new("/") && canonical != home && !dirs.contains(&canonical) {
            dirs.push(canonical);
        }
    }
    dirs
}

/// Said before the command starts when the safety net refuses creating entries in
/// `$HOME`, the working directory or a directory above either: where, why, what to do.
pub(super) fn no_create_warning(
    dirs: &[NoCreateDir],
    home: &Path,
    workdir: &Path,
) -> Option<String> {
    let shown: Vec<&NoCreateDir> = dirs
        .iter()
        .filter(|d| home.starts_with(&d.dir) || workdir.starts_with(&d.dir))
        .collect();
    // Nothing is created directly in `/` by ordinary programs: not worth a note alone.
    if shown.iter().all(|d| d.dir == Path::new("/")) {
        return None;
    }
    let deepest = shown.iter().max_by_key(|d| d.dir.as_os_str().len())?;
    let short = |p: &Path| match p.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => p.display().to_string(),
    };
    let names: Vec<String> = shown.iter().rev().map(|d| short(&d.dir)).collect();
    let mut missing: Vec<String> = deepest.missing.iter().map(|p| short(p)).collect();
    if deepest.count > deepest.missing.len() {
        missing.push("…".into());
    }
    let why = if deepest.not_hidden {
        "which cannot be hidden here (no mount namespace), and Landlock cannot refuse just \
         those"
    } else {
        "do not exist yet, and a path that is not there can be neither hidden nor refused \
         alone"
    };
    Some(format!(
        "the safety net lets the command create nothing directly in {}: {} withheld paths \
         below ({}) {why}. Create what the command must create there before learning, \
         learn in a subdirectory, or use --no-safety-net",
        names.join(", "),
        deepest.count,
        missing.join(", ")
    ))
}

/// The directories the safety net's plan lets nothing be created in: every existing
/// directory on the way to a withheld path that does not exist (the carve leaves it
/// without a rule of its own). With the withheld paths below each, those directly in
/// it first.
pub(super) fn net_no_create(
    plan: &plan::Plan,
    fs: &CachingFs,
    mount_view: bool,
) -> Vec<NoCreateDir> {
    use std::collections::BTreeMap;
    let mut dirs: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    // Without a mount view nothing is hidden: existing withheld paths are carved too.
    let masked = |p: &Path| plan.masks.iter().any(|m| m.path == p);
    let carved_existing = !mount_view;
    for deny in &plan.denies {
        if fs.kind(&deny.canonical).is_ok() && (!carved_existing || masked(&deny.canonical)) {
            continue;
        }
        for ancestor in deny.canonical.ancestors().skip(1) {
            if fs.kind(ancestor).is_ok_and(|k| k == EntryKind::Dir) {
                let list = dirs.entry(ancestor.to_path_buf()).or_default();
                if !list.contains(&deny.canonical) {
                    list.push(deny.canonical.clone());
                }
            }
        }
    }
    dirs.into_iter()
        .map(|(dir, mut missing)| {
            missing.sort_by_key(|m| (m.parent() != Some(dir.as_path()), m.clone()));
            let count = missing.len();
            missing.truncate(3);
            NoCreateDir {
                dir,
                missing,
                count,
                not_hidden: !mount_view,
            }
        })
        .collect()
}
