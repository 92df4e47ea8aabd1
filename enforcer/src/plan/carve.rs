//! Carving a denied path out of a grant: the grant becomes rules on its entries,
//! recursively, around the denied path.

use super::*;

pub(super) enum CarveError {
    TooMany,
    Io(PathBuf, io::Error),
}

pub(super) struct Carver<'a, F: FsView> {
    pub(super) fs: &'a F,
    pub(super) access: Access,
    pub(super) source: Arc<Source>,
    pub(super) carve: Arc<Carve>,
    /// Denied paths the mount view hides: skipped, not descended into.
    pub(super) hidden: &'a [PathBuf],
    pub(super) out: Vec<Rule>,
}

impl<F: FsView> Carver<'_, F> {
    pub(super) fn push(&mut self, path: PathBuf, kind: EntryKind) -> Result<(), CarveError> {
        if self.out.len() >= MAX_CARVED_RULES {
            return Err(CarveError::TooMany);
        }
        self.out.push(Rule {
            path,
            kind,
            access: self.access,
            source: Arc::clone(&self.source),
            carved: Some(Arc::clone(&self.carve)),
            list_only: false,
        });
        Ok(())
    }

    /// Grants every entry of `dir` except those on the way to a denied path in
    /// `inside` (all strictly below `dir`), descending along those.
    pub(super) fn carve(&mut self, dir: &Path, inside: &[&PlannedDeny]) -> Result<(), CarveError> {
        let mut entries = self
            .fs
            .read_dir_kinds(dir)
            .map_err(|e| CarveError::Io(dir.to_path_buf(), e))?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in entries {
            let child = dir.join(&name);
            let below: Vec<&PlannedDeny> = inside
                .iter()
                .copied()
                .filter(|d| is_within(&d.canonical, &child))
                .collect();
            if below.iter().any(|d| d.canonical == child) || self.hidden.contains(&child) {
                continue; // the denied entry itself
            }
            // A symlink gets no rule: a rule on it would apply to its target, which may
            // lie outside the grant, while a single rule on the granted directory never
            // reaches through a symlink (Landlock checks the resolved path). A target
            // inside the grant gets its own rule anyway.
            let Some(kind) = kind else { continue };
            if below.is_empty() {
                self.push(child, kind)?;
            } else if kind == EntryKind::Dir {
                self.carve(&child, &below)?;
            }
        }
        // The directory itself may be listed when no denied directory below it could
        // be listed through that right (READ_DIR reaches every directory below). What
        // remains is a denied directory that something outside creates during the run:
        // its names, never its contents, could be listed. (The mount view lists carved
        // directories its own way: they are its directories, with nothing denied
        // below them.)
        let lists_denied = || {
            inside.iter().any(|d| {
                self.fs
                    .kind(&d.canonical)
                    .is_ok_and(|k| k == EntryKind::Dir)
            })
        };
        if self.access != Access::Write && !lists_denied() {
            self.push(dir.to_path_buf(), EntryKind::Dir)?;
            if let Some(rule) = self.out.last_mut() {
                rule.list_only = true;
            }
        }
        Ok(())
    }
}
