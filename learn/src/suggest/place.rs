//! Where a path's need lands: a lasting path keeps it, a path created during the
//! trace or a temporary passes it to the nearest lasting directory above it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use serde::Serialize;

use crate::model::{LearnModel, PathNode};
use crate::paths::PathMap;

use super::covered_by;

#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) path: PathBuf,
    pub(super) dir: bool,
    pub(super) access: Access,
    pub(super) reason: Cow<'static, str>,
    pub(super) observed: Vec<PathBuf>,
    /// Which reason wins when candidates for one directory merge: the higher.
    pub(super) rank: u8,
}

/// The reason of a directory that temporary files fold into.
pub(super) const FOLDED_TEMPORARY: &str =
    "temporary files used here (created and removed, or named at random): no rule can name them";

/// The reason of a directory that lasting new entries fold into.
pub(super) const FOLDED_CREATED: &str = "entries created here, with what was done to them";

/// The access a node's successful accesses need; a path the trace created needs
/// write access too (its creation, granted on the directory it folds into).
pub(super) fn needed(node: &PathNode) -> Option<Access> {
    match (node.ok.access(), node.created) {
        (Some(access), true) => Some(access.union(Access::Write)),
        (None, true) => Some(Access::Write),
        (access, false) => access,
    }
}

/// Where a path's grant goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    /// On the path itself.
    Itself,
    /// On `dir`, the nearest directory above it that existed before the trace and is
    /// no temporary: the path, or a directory on its way up, was created during the
    /// trace (a rule naming it would not match before it is created again) or has a
    /// random name in a temporary directory.
    Into {
        /// The lasting directory.
        dir: PathBuf,
        /// Is what folds a temporary (removed again, or named at random)?
        temporary: bool,
    },
    /// That directory is `/` or `$HOME`, which is never granted whole: `top` is the
    /// entry in it.
    Forbidden {
        /// `/` or `$HOME`.
        dir: PathBuf,
        /// The entry created in it.
        top: PathBuf,
        /// The entry is a temporary: it gets no rule.
        temporary: bool,
    },
}

/// The paths the trace created, for [`Lasting::place`]: usually few, so most paths
/// are placed without a walk up their ancestors.
pub(super) struct Lasting<'a> {
    pub(super) created: PathMap<&'a PathNode>,
    pub(super) ctx: &'a crate::model::LearnContext,
}

impl<'a> Lasting<'a> {
    pub(super) fn new<'p>(
        files: impl Iterator<Item = (&'p PathBuf, &'a PathNode)>,
        ctx: &'a crate::model::LearnContext,
    ) -> Self {
        let mut created = PathMap::new();
        for (path, node) in files {
            if node.created {
                created.insert(path.clone(), node);
            }
        }
        Lasting { created, ctx }
    }

    /// Where the grant of `path` (observed as `node`) goes (see [`Place`]): the walk
    /// goes up from the path to the nearest temporary directory, `$HOME` or `/`, and
    /// the highest entry on the way that was created (or, for the file itself, has a
    /// random name below a temporary directory) is what folds into its parent.
    pub(super) fn place(&self, path: &Path, node: &PathNode) -> Place {
        let home = self.ctx.home.as_path();
        let below = |dir: &Path| {
            let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
            p.len() > d.len() && p.starts_with(d) && (d == b"/" || p[d.len()] == b'/')
        };
        let temp_dir = self
            .ctx
            .temp_dirs
            .iter()
            .filter(|t| below(t))
            .max_by_key(|t| t.as_os_str().len());
        // A random name counts for the file itself only: a directory that was there
        // before (a project in a `mktemp -d` directory) lasts, whatever its name; one
        // made during the trace counts as created.
        let random = temp_dir.is_some() && !node.dir && path.file_name().is_some_and(random_name);
        let mut top: Option<(&Path, bool)> = random.then_some((path, true));
        let mut temporary = random;
        if !self.created.is_empty() {
            for at in path.ancestors() {
                if at == Path::new("/") || at == home || temp_dir.is_some_and(|t| at == t) {
                    break;
                }
                if let Some(created) = self.created.get(at) {
                    let removed = created.removed || (at == path && random);
                    top = Some((at, removed));
                    temporary |= removed;
                }
            }
        }
        let Some((top, top_temporary)) = top else {
            return Place::Itself;
        };
        let dir = top.parent().unwrap_or(Path::new("/"));
        if dir == Path::new("/") || dir == home {
            return Place::Forbidden {
                dir: dir.to_path_buf(),
                top: top.to_path_buf(),
                temporary: top_temporary,
            };
        }
        Place::Into {
            dir: dir.to_path_buf(),
            temporary,
        }
    }
}

/// Does a file name look made at random, as temporary files' names are
/// (`ccAcOUPF.o` from gcc, `tmp.5Ag3kLq9Zx` from mktemp, `tmpk3j_4x9a` from Python's
/// tempfile, `sortH7d2Qa` from sort, a hexadecimal id)? Only asked of names below a
/// temporary directory, where a wrong "yes" costs little: the grant goes to the
/// temporary directory instead of the file.
pub fn random_name(name: &std::ffi::OsStr) -> bool {
    let Some(name) = name.to_str() else {
        // Not UTF-8: no name a person gave.
        return true;
    };
    name.split(['.', '-', '+', '#', ',', '~', ' '])
        .any(random_token)
}

fn random_token(token: &str) -> bool {
    if token.len() < 6 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    let count = |f: fn(&char) -> bool| token.chars().filter(f).count();
    let (upper, lower, digits) = (
        count(char::is_ascii_uppercase),
        count(char::is_ascii_lowercase),
        count(char::is_ascii_digit),
    );
    (digits >= 2 && upper + lower >= 2)
        || (upper >= 2 && lower >= 2)
        || (token.len() >= 9 && token.starts_with("tmp"))
}

/// Temporary files made directly in one directory that is never granted whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotGranted {
    /// `/` or `$HOME`.
    pub dir: PathBuf,
    /// The temporaries (observed paths).
    pub files: Vec<PathBuf>,
}

/// Temporary files created directly in `/` or `$HOME`, by directory: no rule can
/// name them and the directory is never granted whole, so the profile cannot let them
/// be created again. Said in the summary and the report instead of a rule.
pub fn unnamed_temporaries(model: &LearnModel) -> Vec<NotGranted> {
    let ctx = &model.ctx;
    let lasting = Lasting::new(model.files.unordered(), ctx);
    let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for (path, node) in model.files.iter() {
        let Some(access) = needed(node) else { continue };
        if !path.is_absolute() || ctx.sensitive(path).is_some() || path.starts_with(&ctx.workdir) {
            continue;
        }
        if let Place::Forbidden {
            dir,
            top,
            temporary: true,
        } = lasting.place(path, node)
            && covered_by(ctx, &top, access).is_none()
        {
            by_dir.entry(dir).or_default().push(path.clone());
        }
    }
    by_dir
        .into_iter()
        .map(|(dir, files)| NotGranted { dir, files })
        .collect()
}
