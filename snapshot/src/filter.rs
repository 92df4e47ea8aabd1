//! What a snapshot leaves out, stored with it so that every later use decides the same way.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

/// Directory names left out everywhere: version-control internals, dependency and build trees,
/// caches. They are big, regenerated, and not what an undo is for.
pub const BUILTIN_EXCLUDES: &[&str] = &[".git", "node_modules", "target", "__pycache__", ".venv"];

/// The contents of one `.gitignore` seen at the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitignoreFile {
    /// Which root (index into the snapshot's roots).
    pub root: u32,
    /// The directory holding it, relative to the root (empty for the root itself).
    #[serde(with = "crate::hash::bytes")]
    pub dir: Vec<u8>,
    /// Its contents.
    #[serde(with = "crate::hash::bytes")]
    pub content: Vec<u8>,
}

/// The exclusion filter of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Directory (or file) names excluded at any depth.
    pub builtin: Vec<String>,
    /// Extra gitignore-syntax patterns, relative to each root (`!pat` re-includes).
    pub patterns: Vec<String>,
    /// The `.gitignore` files read at the baseline.
    pub gitignores: Vec<GitignoreFile>,
}

/// A pattern could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// An exclusion pattern is not valid gitignore syntax.
    #[error("invalid exclusion pattern {pattern:?}: {error}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The cause.
        error: ignore::Error,
    },
}

impl Filter {
    /// The built-in exclusions plus `patterns`; `.gitignore` files are added by the baseline.
    pub fn new(patterns: Vec<String>) -> Filter {
        Filter {
            builtin: BUILTIN_EXCLUDES.iter().map(|s| s.to_string()).collect(),
            patterns,
            gitignores: Vec::new(),
        }
    }

    /// Checks that the patterns parse.
    pub fn check(&self) -> Result<(), FilterError> {
        for p in &self.patterns {
            let mut b = GitignoreBuilder::new("/");
            b.add_line(None, p).map_err(|error| FilterError::Pattern {
                pattern: p.clone(),
                error,
            })?;
        }
        Ok(())
    }
}

fn build(dir: &Path, lines: &[u8]) -> Option<Gitignore> {
    let mut b = GitignoreBuilder::new(dir);
    for line in String::from_utf8_lossy(lines).lines() {
        // A line that does not parse is ignored, as git does.
        let _ = b.add_line(None, line);
    }
    b.build().ok().filter(|g| !g.is_empty())
}

/// A [`Filter`] compiled for a set of roots.
#[derive(Debug)]
pub(crate) struct Matcher {
    builtin: Vec<Vec<u8>>,
    patterns: Vec<Option<Gitignore>>,
    stored: HashMap<(u32, Vec<u8>), Gitignore>,
    /// Whether `.gitignore` files are read from the tree (the baseline) instead of the stored
    /// ones.
    pub live: bool,
}

/// The verdict of one `.gitignore` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Excluded,
    Included,
    Undecided,
}

fn verdict<T>(m: Match<T>) -> Verdict {
    match m {
        Match::Ignore(_) => Verdict::Excluded,
        Match::Whitelist(_) => Verdict::Included,
        Match::None => Verdict::Undecided,
    }
}

impl Matcher {
    pub fn new(filter: &Filter, roots: &[PathBuf], live: bool) -> Result<Matcher, FilterError> {
        filter.check()?;
        let patterns = roots
            .iter()
            .map(|root| {
                let mut b = GitignoreBuilder::new(root);
                for p in &filter.patterns {
                    let _ = b.add_line(None, p);
                }
                b.build().ok().filter(|g| !g.is_empty())
            })
            .collect();
        let mut stored = HashMap::new();
        if !live {
            for g in &filter.gitignores {
                let Some(root) = roots.get(g.root as usize) else {
                    continue;
                };
                let dir = join(root, &g.dir);
                if let Some(gi) = build(&dir, &g.content) {
                    stored.insert((g.root, g.dir.clone()), gi);
                }
            }
        }
        Ok(Matcher {
            builtin: filter
                .builtin
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            patterns,
            stored,
            live,
        })
    }

    /// The `.gitignore` of directory `rel` under root `root`: read from `abs` when live
    /// (returning its contents to record), else the stored one.
    pub fn gitignore_for(
        &self,
        root: u32,
        rel: &[u8],
        abs: &Path,
    ) -> (Option<Gitignore>, Option<Vec<u8>>) {
        if self.live {
            let path = abs.join(".gitignore");
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => match std::fs::read(&path) {
                    Ok(content) => (build(abs, &content), Some(content)),
                    Err(_) => (None, None),
                },
                _ => (None, None),
            }
        } else {
            (self.stored.get(&(root, rel.to_vec())).cloned(), None)
        }
    }

    /// Whether the entry `name` at `abs` (under `root`) is excluded, given the `.gitignore`
    /// levels from its directory up to the root (deepest first).
    pub fn excluded(
        &self,
        root: u32,
        name: &[u8],
        abs: &Path,
        is_dir: bool,
        levels: &[&Gitignore],
    ) -> bool {
        if self.builtin.iter().any(|b| b == name) {
            return true;
        }
        if let Some(Some(p)) = self.patterns.get(root as usize) {
            match verdict(p.matched(abs, is_dir)) {
                Verdict::Excluded => return true,
                Verdict::Included => return false,
                Verdict::Undecided => {}
            }
        }
        for g in levels {
            match verdict(g.matched(abs, is_dir)) {
                Verdict::Excluded => return true,
                Verdict::Included => return false,
                Verdict::Undecided => {}
            }
        }
        false
    }
}

/// `root` joined with a relative path given as raw bytes (empty: the root).
pub(crate) fn join(root: &Path, rel: &[u8]) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(OsStr::from_bytes(rel))
    }
}
