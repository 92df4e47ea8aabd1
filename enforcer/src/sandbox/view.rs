//! The mount view's shape: which trees it holds (one per rule, nested ones folded
//! in), how a fresh view is built under a new root, and how the host's tree is made
//! read-only around the write grants.

#[allow(unused_imports)]
use super::*;

/// A tree of the mount view: the path of a rule, writable when any rule on it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ViewRoot {
    pub(super) path: PathBuf,
    pub(super) dir: bool,
    pub(super) writable: bool,
}

/// The trees the mount view holds, sorted, each containing nothing it adds to: a
/// read-only tree inside another tree is left out (the outer copy shows it, and a
/// read-only mount there would refuse what a write grant around it allows); a
/// writable tree inside a read-only one is kept (mounted on top). The view mirrors
/// carving: a carved grant's entries are bound one by one into an empty directory, so
/// a denied path in it does not exist in the view at all, whatever happens to it
/// outside. Also returns the carved directories (empty directories of the view).
pub(super) fn view_roots(plan: &Plan) -> (Vec<ViewRoot>, Vec<(PathBuf, bool)>) {
    use std::collections::BTreeMap;
    let mut all: BTreeMap<&Path, (bool, bool)> = BTreeMap::new();
    // Carved directory → may it be listed (a grant that reads carved it)?
    let mut carved: BTreeMap<&Path, bool> = BTreeMap::new();
    for rule in &plan.rules {
        if let Some(carve) = &rule.carved {
            let start = if rule.list_only {
                Some(rule.path.as_path())
            } else {
                rule.path.parent()
            };
            let reads = rule.access != Mode::Write;
            for dir in start.into_iter().flat_map(Path::ancestors) {
                if !crate::plan::is_within(dir, &carve.granted) {
                    break;
                }
                match carved.get_mut(dir) {
                    Some(listable) if *listable || !reads => break,
                    Some(listable) => *listable = true,
                    None => {
                        carved.insert(dir, reads);
                    }
                }
            }
            if rule.list_only {
                continue;
            }
        }
        let entry = all
            .entry(rule.path.as_path())
            .or_insert((rule.kind == EntryKind::Dir, false));
        entry.1 |= rule.access != Mode::Read;
    }
    let mut kept: Vec<ViewRoot> = Vec::new();
    // The kept directory trees containing the current path, outermost first.
    let mut open: Vec<(PathBuf, bool)> = Vec::new();
    for (path, (dir, writable)) in all {
        while open
            .last()
            .is_some_and(|(o, _)| !crate::plan::is_within(path, o))
        {
            open.pop();
        }
        if let Some((_, outer_writable)) = open.last()
            && (*outer_writable || !writable)
        {
            continue;
        }
        if dir {
            open.push((path.to_path_buf(), writable));
        }
        kept.push(ViewRoot {
            path: path.to_path_buf(),
            dir,
            writable,
        });
    }
    // A carved directory inside a kept tree is shown by it.
    let carved = carved
        .into_iter()
        .filter(|(c, _)| {
            !kept
                .iter()
                .any(|r| r.dir && crate::plan::is_within(c, &r.path))
        })
        .map(|(c, listable)| (c.to_path_buf(), listable))
        .collect();
    (kept, carved)
}

/// `/a/b` as `a/b`, for the calls made with the new root as the working directory.
pub(super) fn relative(path: &Path) -> Result<CString, SandboxError> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Ok(c".".into())
    } else {
        cstring(rel)
    }
}

/// The plan of a mount view built from the grants (see [`View::Fresh`]).
pub(super) fn fresh_view(
    caps: &CapabilitySet,
    plan: &Plan,
    (roots, carved): (&[ViewRoot], &[(PathBuf, bool)]),
    workdir: &Path,
    options: &SandboxOptions,
    scan_incomplete: &mut bool,
    dir_rules: Vec<(CString, u64)>,
) -> Result<MountPlan, SandboxError> {
    use std::collections::HashSet;
    // By hash rather than by comparing with every tree: a carved /etc has ~150.
    let root_set: HashSet<&Path> = roots.iter().map(|r| r.path.as_path()).collect();
    let inside_root = |path: &Path| path.ancestors().any(|a| root_set.contains(a));
    let mut ops = Vec::new();
    let mut made: HashSet<PathBuf> = HashSet::new();
    // The directories on the way to `path` that no tree provides, and `path` itself
    // when `last`.
    fn make_dirs(
        path: &Path,
        last: bool,
        inside_root: &dyn Fn(&Path) -> bool,
        made: &mut HashSet<PathBuf>,
        ops: &mut Vec<ViewOp>,
    ) -> Result<(), SandboxError> {
        let mut ancestors: Vec<&Path> = path.ancestors().skip(usize::from(!last)).collect();
        ancestors.reverse();
        for dir in ancestors {
            if dir == Path::new("/") || made.contains(dir) {
                continue;
            }
            if inside_root(dir) {
                break;
            }
            made.insert(dir.to_path_buf());
            ops.push(ViewOp::Dir(relative(dir)?));
        }
        Ok(())
    }
    // Carved directories: empty, with the entries granted bound into them below (and
    // their symbolic links, further down).
    for (dir, _) in carved {
        make_dirs(dir, true, &inside_root, &mut made, &mut ops)?;
    }
    for root in roots {
        let contained = root.path.parent().is_some_and(&inside_root);
        if !contained {
            if let Some(parent) = root.path.parent() {
                make_dirs(parent, true, &inside_root, &mut made, &mut ops)?;
            }
            ops.push(if root.dir {
                ViewOp::Dir(relative(&root.path)?)
            } else {
                ViewOp::File(relative(&root.path)?)
            });
        }
        ops.push(ViewOp::Bind {
            source: cstring(&root.path)?,
            target: relative(&root.path)?,
            readonly: !root.writable,
        });
    }
    // The working directory exists (empty, when not granted) so the command starts there.
    if !inside_root(workdir) {
        make_dirs(workdir, true, &inside_root, &mut made, &mut ops)?;
    }
    // Every directory the view made holds the symbolic links of its host directory:
    // a carved directory's (`/etc/localtime`, `/etc/resolv.conf`), and those on the
    // way to the grants (`/dev/fd -> /proc/self/fd`, which bash's `<(…)` uses).
    // Landlock checks what a link leads to, as on the host. A denied name is left out.
    let denied: HashSet<&Path> = plan.denies.iter().map(|d| d.canonical.as_path()).collect();
    let mut dirs: Vec<&PathBuf> = made.iter().collect();
    dirs.sort();
    let root = PathBuf::from("/");
    dirs.insert(0, &root);
    let mut links: HashSet<PathBuf> = HashSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_symlink())
                && !denied.contains(path.as_path())
                && let Ok(target) = std::fs::read_link(&path)
            {
                ops.push(ViewOp::Link {
                    target: cstring(&target)?,
                    path: relative(&path)?,
                });
                links.insert(path);
            }
        }
    }
    // Symbolic links on the way to granted paths, as on the host: `/bin -> usr/bin`,
    // `/lib64 -> usr/lib64`. Only the first link of a path is needed (the rest of the
    // path resolves through it into a tree of the view).
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for grant in &caps.grants {
        let mut prefix = PathBuf::new();
        for component in grant.path.components() {
            prefix.push(component);
            if prefix == Path::new("/") {
                continue;
            }
            if inside_root(&prefix) || links.contains(&prefix) {
                break;
            }
            if !seen.insert(prefix.clone()) {
                continue;
            }
            match std::fs::symlink_metadata(&prefix) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(&prefix) {
                        if let Some(parent) = prefix.parent() {
                            make_dirs(parent, true, &inside_root, &mut made, &mut ops)?;
                        }
                        ops.push(ViewOp::Link {
                            target: cstring(&target)?,
                            path: relative(&prefix)?,
                        });
                        links.insert(prefix.clone());
                    }
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    // Denied paths inside the trees, hidden as a second layer (Landlock's carving is
    // the first): a denied directory under an empty tmpfs, so not even its names show
    // (inotify, a READ_DIR that reaches it); a denied file under the empty file.
    let dir_set: HashSet<&Path> = roots
        .iter()
        .filter(|r| r.dir)
        .map(|r| r.path.as_path())
        .collect();
    let mut hidden: Vec<(PathBuf, bool)> = Vec::new();
    let mut denies: Vec<&Path> = plan
        .denies
        .iter()
        .map(|d| d.canonical.as_path())
        .filter(|d| {
            d.parent()
                .is_some_and(|p| p.ancestors().any(|a| dir_set.contains(a)))
        })
        .collect();
    denies.sort();
    denies.dedup();
    for deny in denies {
        if hidden
            .iter()
            .any(|(h, dir)| *dir && crate::plan::is_within(deny, h))
        {
            continue;
        }
        match std::fs::symlink_metadata(deny) {
            Ok(meta) if meta.is_dir() => hidden.push((deny.to_path_buf(), true)),
            Ok(meta) if !meta.file_type().is_symlink() && options.state_dir.is_some() => {
                hidden.push((deny.to_path_buf(), false))
            }
            _ => {}
        }
    }
    let empty_file = if hidden.iter().any(|(_, dir)| !dir) {
        Some(cstring(&empty_mask_file(options.state_dir.as_deref())?)?)
    } else {
        None
    };
    // Sockets: outside the trees they do not exist in the view. Inside a read-only
    // tree that reaches a place where services keep them, they are found and hidden.
    let scanned = roots.iter().any(|r| {
        r.dir
            && !r.writable
            && sockets::ROOTS.iter().any(|(s, _)| {
                let s = Path::new(s);
                crate::plan::is_within(s, &r.path) || crate::plan::is_within(&r.path, s)
            })
    });
    let mut found = Vec::new();
    if scanned {
        let (list, complete) = sockets::to_hide(plan, None, options.state_dir.as_deref());
        *scan_incomplete |= !complete;
        found = list
            .into_iter()
            .filter(|p| {
                roots
                    .iter()
                    .any(|r| r.dir && !r.writable && crate::plan::is_within(p, &r.path))
                    && !hidden
                        .iter()
                        .any(|(h, dir)| *dir && crate::plan::is_within(p, h))
            })
            .collect();
    }
    // Profile files inside a writable tree: bound read-only over themselves (a write,
    // truncate, chmod gets EROFS; a rename over or unlink of a mount point EBUSY).
    let mut profile_files = Vec::new();
    for file in &caps.profile_files {
        let Ok(file) = std::fs::canonicalize(file) else {
            continue;
        };
        let container = roots
            .iter()
            .rev()
            .find(|r| crate::plan::is_within(&file, &r.path));
        if container.is_some_and(|r| r.writable) {
            profile_files.push((cstring(&file)?, relative(&file)?));
        }
    }
    Ok(MountPlan {
        user_namespace: None,
        network_namespace: false,
        read_only: true,
        isolation: Isolation::default(),
        private_rules: Vec::new(),
        view: View::Fresh {
            ops,
            profile_files,
            dir_rules,
        },
        sockets: found
            .iter()
            .map(|p| relative(p))
            .collect::<Result<_, _>>()?,
        hidden: hidden
            .iter()
            .map(|(p, dir)| relative(p).map(|c| (c, *dir)))
            .collect::<Result<_, _>>()?,
        empty_file,
    })
}

/// The plan of a mount view over the host's tree (see [`View::Host`]).
pub(super) fn host_view(
    plan: &Plan,
    options: &SandboxOptions,
    scan_incomplete: &mut bool,
) -> Result<MountPlan, SandboxError> {
    let mut writable: Vec<&Path> = plan
        .rules
        .iter()
        .filter(|r| r.access != Mode::Read)
        .map(|r| r.path.as_path())
        .collect();
    writable.sort();
    writable.dedup();
    // A writable tree inside another is cloned with it.
    let mut outer: Vec<&Path> = Vec::new();
    for path in writable {
        if !outer.iter().any(|o| path.starts_with(o)) {
            outer.push(path);
        }
    }
    if options.masks_only {
        outer.clear();
    }
    let runtime_dir = runtime_dir_to_mask(plan).filter(|_| !options.masks_only);
    let sockets = if options.masks_only {
        Vec::new()
    } else {
        let (sockets, complete) =
            sockets::to_hide(plan, runtime_dir.as_deref(), options.state_dir.as_deref());
        *scan_incomplete |= !complete;
        sockets
    };
    Ok(MountPlan {
        user_namespace: None,
        network_namespace: false,
        read_only: true,
        isolation: Isolation::default(),
        private_rules: Vec::new(),
        view: View::Host {
            fds: vec![-1; outer.len()],
            writable: outer.into_iter().map(cstring).collect::<Result<_, _>>()?,
            masks: runtime_dir
                .iter()
                .map(|p| cstring(p))
                .collect::<Result<_, _>>()?,
        },
        hidden: plan
            .masks
            .iter()
            .map(|m| cstring(&m.path).map(|c| (c, m.dir)))
            .collect::<Result<_, _>>()?,
        empty_file: if plan.masks.iter().any(|m| !m.dir) {
            Some(cstring(&empty_mask_file(options.state_dir.as_deref())?)?)
        } else {
            None
        },
        sockets: sockets
            .iter()
            .map(|p| cstring(p))
            .collect::<Result<_, _>>()?,
    })
}

/// `$XDG_RUNTIME_DIR` (or `/run/user/UID`) when it exists and no rule reaches into it.
pub(super) fn runtime_dir_to_mask(plan: &Plan) -> Option<PathBuf> {
    let uid = nix::unistd::getuid().as_raw();
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
    let dir = std::fs::canonicalize(dir).ok()?;
    let reached = plan.rules.iter().any(|r| r.path.starts_with(&dir));
    (dir.is_dir() && !reached).then_some(dir)
}
