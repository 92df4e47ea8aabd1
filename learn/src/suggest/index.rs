//! What the base profile and the built-in groups already grant, looked up per path.

use std::path::Path;

use nono_enforcer::capability::Access;

use crate::paths::PathMap;

pub(super) fn covers(grant: &crate::model::Coverage, path: &Path, access: Access) -> bool {
    grant.access.covers(access)
        && if grant.dir {
            path.starts_with(&grant.path)
        } else {
            path == grant.path
        }
}

/// Who grants a path, in order of precedence: the base profile, then the included
/// groups, then the others (by their order in the context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Granter {
    Base,
    Included(usize),
    Other(usize),
}

/// The context's denials and grants by path: a path's are found by walking up its
/// ancestors (a few hash lookups) instead of testing every rule.
pub(super) struct Index<'a> {
    pub(super) sensitive: PathMap<usize>,
    pub(super) grants: PathMap<Vec<(Granter, &'a crate::model::Coverage)>>,
}

impl<'a> Index<'a> {
    pub(super) fn new(ctx: &'a crate::model::LearnContext) -> Self {
        let mut sensitive = PathMap::new();
        for (i, s) in ctx.sensitive.iter().enumerate() {
            sensitive.entry_or_insert_with(s.path.clone(), || i);
        }
        let mut grants: PathMap<Vec<_>> = PathMap::new();
        for g in &ctx.base_grants {
            grants
                .entry_or_insert_with(g.path.clone(), Vec::new)
                .push((Granter::Base, g));
        }
        for (i, group) in ctx.groups.iter().enumerate() {
            let who = if group.included {
                Granter::Included(i)
            } else {
                Granter::Other(i)
            };
            for g in &group.grants {
                grants
                    .entry_or_insert_with(g.path.clone(), Vec::new)
                    .push((who, g));
            }
        }
        Index { sensitive, grants }
    }

    /// Like [`crate::model::LearnContext::sensitive`]: the first denial covering it.
    pub(super) fn sensitive(
        &self,
        ctx: &'a crate::model::LearnContext,
        path: &Path,
    ) -> Option<&'a crate::model::SensitivePath> {
        let mut first: Option<usize> = None;
        self.sensitive.ancestors(path, |_, &i| {
            first = Some(first.map_or(i, |f| f.min(i)));
        });
        first.map(|i| &ctx.sensitive[i])
    }

    /// Who grants `access` to `path` first, if anyone.
    pub(super) fn grant(&self, path: &Path, access: Access) -> Option<Granter> {
        let mut best = None;
        self.grants.ancestors(path, |at, grants| {
            for (who, c) in grants {
                if c.access.covers(access) && (c.dir || at == path) {
                    best = Some(best.map_or(*who, |b: Granter| b.min(*who)));
                }
            }
        });
        best
    }
}
