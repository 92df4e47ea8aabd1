//! The review screen's state: plain data. The learn model inside it stays the single
//! source of observations; the tree, the rows and the decisions refer to its paths.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nono_learn::model::PathNode;
use nono_learn::suggest::{Suggestion, SuggestionKind, suggest_with};
use nono_learn::{LearnModel, Msg as LearnMsg};

use super::decision::{Decision, ItemKey, PathRule, Rule, Verdict};
pub use super::layout::Focus;
pub use super::output::{Output, SCROLLBACK};
pub use super::overlay::{CONFIRM_WORD, Confirm, ConfirmPath, Overlay, SaveDialog, Status};
use super::tree::{NodeId, ROOT, Row, Tree};

/// The main pane's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The directory tree of file accesses.
    Files,
    /// Host names and socket peers.
    Network,
    /// Programs run.
    Exec,
}

impl Tab {
    /// All tabs, in order.
    pub const ALL: [Tab; 3] = [Tab::Files, Tab::Network, Tab::Exec];

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        match self {
            Tab::Files => 0,
            Tab::Network => 1,
            Tab::Exec => 2,
        }
    }

    /// The title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Files => "Files",
            Tab::Network => "Network",
            Tab::Exec => "Exec",
        }
    }
}

/// Which rows the Files tab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Everything.
    All,
    /// Rows waiting for a decision.
    Pending,
    /// Rows a decision allows.
    Allowed,
    /// Rows a decision denies.
    Denied,
    /// Denied (sensitive) paths the command reached for.
    Sensitive,
    /// Paths with failed accesses (probes).
    Failed,
}

impl Filter {
    /// The next filter in the `f` cycle.
    pub fn next(self) -> Filter {
        match self {
            Filter::All => Filter::Pending,
            Filter::Pending => Filter::Allowed,
            Filter::Allowed => Filter::Denied,
            Filter::Denied => Filter::Sensitive,
            Filter::Sensitive => Filter::Failed,
            Filter::Failed => Filter::All,
        }
    }

    /// The name shown.
    pub fn name(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Pending => "pending",
            Filter::Allowed => "allowed",
            Filter::Denied => "denied",
            Filter::Sensitive => "sensitive",
            Filter::Failed => "failed probes",
        }
    }
}

/// Fixed facts about this review, from the command line.
#[derive(Debug, Clone, Default)]
pub struct ReviewConfig {
    /// The traced command, for the header.
    pub command: String,
    /// The tracing backend (`ptrace`).
    pub backend: String,
    /// The profile the saved one extends.
    pub base_profile: String,
    /// `meta.description` of the saved profile.
    pub description: String,
    /// `$XDG_CONFIG_HOME/nono/profiles`: where a name is saved.
    pub profiles_dir: PathBuf,
    /// Relative save paths start here.
    pub cwd: PathBuf,
    /// What the save dialog proposes (a name or a path).
    pub default_target: String,
    /// Colours (off under `NO_COLOR`).
    pub color: bool,
    /// The directories on the command's `PATH`: a write grant reaching one asks first
    /// (a program planted there runs later, outside the sandbox).
    pub path_dirs: Vec<PathBuf>,
}

/// What governs a row of the Files tab.
#[derive(Debug, Clone, Copy)]
pub enum Governor<'a> {
    /// The row's own decision.
    Own(&'a Decision),
    /// An allowed or denied rule decided on another row (a directory above).
    Rule {
        /// The row it was decided on.
        anchor: &'a Path,
        /// The decision.
        decision: &'a Decision,
    },
    /// The working-directory decision.
    Workdir(&'a Decision),
    /// A group decision.
    Group(&'a Decision),
    /// Nothing decided yet.
    None,
}

impl Governor<'_> {
    /// The decision, if any.
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            Governor::Own(d)
            | Governor::Rule { decision: d, .. }
            | Governor::Workdir(d)
            | Governor::Group(d) => Some(d),
            Governor::None => None,
        }
    }
}

/// How a row stands, for colours and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Waiting for a decision.
    Pending,
    /// Allowed by a decision.
    Allowed,
    /// Denied by a decision.
    Denied,
    /// A denied path: never suggested.
    Sensitive,
    /// Already granted by the base profile or an included group.
    Covered,
    /// Only looked up (stat, access…): needs no grant.
    Lookup,
    /// Only failed accesses (a probe): not suggested.
    Failed,
    /// A directory on the way to observed paths.
    Branch,
    /// Observed since suggestions were last computed.
    Unknown,
}

const NO_SUGGESTION: u32 = u32::MAX;

fn is_folded(folds: &HashMap<NodeId, bool>, quiet: &[bool], id: NodeId) -> bool {
    match folds.get(&id) {
        Some(&folded) => folded,
        None => id != ROOT && quiet.get(id as usize).copied().unwrap_or(false),
    }
}

/// The review screen's state.
#[derive(Debug)]
pub struct ReviewState {
    /// Everything observed.
    pub learn: LearnModel,
    /// Fixed facts.
    pub config: ReviewConfig,
    /// Observed paths as a tree.
    pub tree: Tree,
    /// The Files tab's visible rows.
    pub rows: Vec<Row>,
    pub(crate) rows_dirty: bool,
    /// Directories folded (`true`) or unfolded (`false`) by hand; the others are
    /// folded when nothing below them needs a decision (see [`ReviewState::is_folded`]).
    pub folds: HashMap<NodeId, bool>,
    /// By node: nothing below needs a look (only covered paths, lookups, failures).
    pub(crate) quiet: Vec<bool>,
    /// By node: the pending rows at or below it (see [`ReviewState::pending_inside`]).
    pub(crate) pending_below: Vec<u32>,
    /// Files-tab things waiting for a decision: suggestions with a pending row, and
    /// pending rows that belong to no suggestion (see [`ReviewState::pending_count`]).
    pub(crate) pending_files: usize,
    /// The Exec tab also lists programs that were only looked for on `PATH` (every
    /// run failed with `ENOENT`).
    pub show_failed_execs: bool,
    /// The command waits for input from its terminal (seen in `/proc`, see
    /// [`super::waiting`]).
    pub waiting: bool,
    /// The tab shown.
    pub tab: Tab,
    /// Where keys go.
    pub focus: Focus,
    /// The focused pane fills the screen.
    pub zoom: bool,
    /// Selected row per tab.
    pub cursor: [usize; 3],
    /// First row shown per tab.
    pub offset: [usize; 3],
    /// The selected tree node (kept across row rebuilds).
    pub(crate) selected_node: Option<NodeId>,
    /// Every decision.
    pub decisions: BTreeMap<ItemKey, Decision>,
    /// Rule path → anchors of the allowed and denied path decisions with that rule.
    pub(crate) rules_at: HashMap<PathBuf, Vec<PathBuf>>,
    /// Anchors of every path decision (so rows without one cost no lookup key).
    pub(crate) anchors: HashSet<PathBuf>,
    /// Undo stack: per action, the previous value of every decision it changed.
    pub undo: Vec<Vec<(ItemKey, Option<Decision>)>>,
    /// Bumped by every change of decisions.
    pub generation: u64,
    /// `generation` when last saved.
    pub saved_generation: u64,
    /// The Files tab filter.
    pub filter: Filter,
    /// The last search.
    pub search: Option<String>,
    /// The window shown over the main pane.
    pub overlay: Overlay,
    /// The status line's message.
    pub status: Option<Status>,
    /// The current suggestions.
    pub suggestions: Vec<Suggestion>,
    pub(crate) suggestion_of: Vec<u32>,
    pub(crate) suggestions_stale: bool,
    pub(crate) suggested_at: Duration,
    /// The command's terminal.
    pub output: Output,
    /// Terminal width and height.
    pub size: (u16, u16),
    /// Time since the command started.
    pub elapsed: Duration,
    /// Where the profile was last saved.
    pub saved_to: Option<PathBuf>,
    /// The loop should end.
    pub quit: bool,
    /// Something visible changed since the last frame.
    pub redraw: bool,
}

impl ReviewState {
    /// A review of `learn` (usually empty: it fills as events arrive) on a terminal of
    /// `size` (width, height).
    pub fn new(learn: LearnModel, config: ReviewConfig, size: (u16, u16)) -> Self {
        let (rows, cols) = super::layout::output_size(size, Focus::Main, false);
        let mut state = ReviewState {
            learn: LearnModel::new(Default::default()),
            config,
            tree: Tree::new(),
            rows: Vec::new(),
            rows_dirty: true,
            folds: HashMap::new(),
            quiet: Vec::new(),
            pending_below: Vec::new(),
            pending_files: 0,
            show_failed_execs: false,
            waiting: false,
            tab: Tab::Files,
            focus: Focus::Main,
            zoom: false,
            cursor: [0; 3],
            offset: [0; 3],
            selected_node: None,
            decisions: BTreeMap::new(),
            rules_at: HashMap::new(),
            anchors: HashSet::new(),
            undo: Vec::new(),
            generation: 0,
            saved_generation: 0,
            filter: Filter::All,
            search: None,
            overlay: Overlay::None,
            status: None,
            suggestions: Vec::new(),
            suggestion_of: Vec::new(),
            suggestions_stale: true,
            suggested_at: Duration::ZERO,
            output: Output::new(rows, cols),
            size,
            elapsed: Duration::ZERO,
            saved_to: None,
            quit: false,
            redraw: true,
        };
        for path in learn.files.keys() {
            state.tree.observe(path);
        }
        state.learn = learn;
        state.refresh_suggestions();
        state.refresh();
        state
    }

    /// Feeds one learn message: the model, then the tree (a new path is one insert).
    pub fn ingest(&mut self, msg: LearnMsg) {
        if let LearnMsg::Event { observations, .. } = &msg {
            for obs in observations {
                if self.tree.observe(&obs.path).1 {
                    self.rows_dirty = true;
                }
                // `/` and `$HOME` are never granted whole: what the command created
                // there is suggested entry by entry, so the entries get rows.
                if let Some(entry) = &obs.entry
                    && (obs.path == Path::new("/") || obs.path == self.learn.ctx.home)
                    && self.tree.find(entry).is_none()
                {
                    self.tree.insert(entry);
                    self.rows_dirty = true;
                }
            }
            self.suggestions_stale = true;
        }
        if matches!(msg, LearnMsg::Finished { .. }) {
            self.suggestions_stale = true;
        }
        self.learn.update(msg);
        self.redraw = true;
    }

    /// Is the command still running?
    pub fn running(&self) -> bool {
        self.learn.exit_code.is_none()
    }

    /// Decisions made since the last save?
    pub fn unsaved(&self) -> bool {
        self.generation != self.saved_generation
            && self
                .decisions
                .values()
                .any(|d| d.verdict != Verdict::Pending)
    }

    /// How long to wait between two suggestion passes while events flow: longer for
    /// bigger models, so the pass (about 4 ms per 1,000 paths) stays a small share of
    /// the time.
    fn suggest_interval(&self) -> Duration {
        Duration::from_millis(250 + (self.learn.files.len() as u64 / 25))
    }

    /// Recomputes the suggestions if events arrived since the last pass.
    pub fn ensure_suggestions(&mut self) {
        if self.suggestions_stale {
            self.refresh_suggestions();
        }
    }

    /// Brings derived data up to date before a frame: suggestions (throttled while the
    /// command runs) and the visible rows. Pure: no I/O.
    pub fn refresh(&mut self) {
        if self.suggestions_stale
            && (!self.running()
                || self.suggestions.is_empty()
                || self.elapsed.saturating_sub(self.suggested_at) >= self.suggest_interval())
        {
            self.refresh_suggestions();
        }
        if self.rows_dirty {
            self.rebuild_rows();
        }
    }

    /// Recomputes the suggestions now (before a decision, so it acts on current ones).
    pub fn refresh_suggestions(&mut self) {
        let mut of = vec![NO_SUGGESTION; self.tree.len()];
        let tree = &self.tree;
        let suggestions = suggest_with(&self.learn, |path, index| {
            if let Some(id) = tree.find(path) {
                of[id as usize] = index as u32;
            }
        });
        self.suggestions = suggestions;
        self.suggestion_of = of;
        self.suggestions_stale = false;
        self.suggested_at = self.elapsed;
        self.recompute_quiet();
        self.redraw = true;
    }

    /// Finds the directories with nothing below that needs a look (only paths the
    /// base profile covers, lookups and failed probes): they are shown folded.
    pub(crate) fn recompute_quiet(&mut self) {
        let n = self.tree.len();
        let mut loud = vec![false; n];
        let mut pending_below = vec![0u32; n];
        let mut pending_suggestions = HashSet::new();
        let mut pending_alone = 0usize;
        for id in (0..n).rev() {
            let class = self.class(id as NodeId);
            if class == Class::Pending {
                pending_below[id] += 1;
                match self.suggestion_of.get(id) {
                    Some(&i) if i != NO_SUGGESTION => {
                        pending_suggestions.insert(i);
                    }
                    _ => pending_alone += 1,
                }
            }
            if !loud[id] {
                loud[id] = matches!(
                    class,
                    Class::Pending
                        | Class::Allowed
                        | Class::Denied
                        | Class::Sensitive
                        | Class::Unknown
                );
            }
            if let Some(parent) = self.tree.node(id as NodeId).parent() {
                pending_below[parent as usize] += pending_below[id];
                if loud[id] {
                    loud[parent as usize] = true;
                }
            }
        }
        self.pending_below = pending_below;
        self.pending_files = pending_suggestions.len() + pending_alone;
        let quiet: Vec<bool> = loud.iter().map(|l| !l).collect();
        if quiet != self.quiet {
            self.quiet = quiet;
            self.rows_dirty = true;
        }
        if self.filter != Filter::All {
            self.rows_dirty = true;
        }
    }

    /// Is a directory folded: by hand, or because nothing below needs a look.
    pub fn is_folded(&self, id: NodeId) -> bool {
        is_folded(&self.folds, &self.quiet, id)
    }

    /// Rebuilds the Files rows (after new paths, a fold, a filter or a decision).
    pub fn rebuild_rows(&mut self) {
        let selected = self
            .selected_node
            .or_else(|| self.current_row().map(|r| r.node));
        let filter = self.filter;
        let matched = (filter != Filter::All)
            .then(|| self.tree.matches(|id| self.matches_filter(id, filter)));
        let (folds, quiet) = (&self.folds, &self.quiet);
        let folded = |id: NodeId| is_folded(folds, quiet, id);
        let rows = self.tree.rows(&folded, matched.as_deref());
        self.rows = rows;
        self.rows_dirty = false;
        if let Some(node) = selected
            && let Some(i) = self.rows.iter().position(|r| r.node == node)
        {
            self.cursor[0] = i;
        }
        self.cursor[0] = self.cursor[0].min(self.rows.len().saturating_sub(1));
        self.selected_node = self.rows.get(self.cursor[0]).map(|r| r.node);
        self.scroll_into_view();
        self.redraw = true;
    }

    fn matches_filter(&self, id: NodeId, filter: Filter) -> bool {
        let node = self.tree.node(id);
        if !node.observed {
            return false;
        }
        match filter {
            Filter::All => true,
            Filter::Failed => self
                .learn
                .files
                .get(&node.path)
                .is_some_and(|n| n.failed_count > 0),
            Filter::Sensitive => self.is_sensitive(id),
            Filter::Pending => self.class(id) == Class::Pending,
            Filter::Allowed => self.class(id) == Class::Allowed,
            Filter::Denied => self.class(id) == Class::Denied,
        }
    }

    /// The selected Files row.
    pub fn current_row(&self) -> Option<&Row> {
        self.rows.get(self.cursor[0])
    }

    /// The selected tree node (Files tab), or the node of the selected program (Exec).
    pub fn current_node(&self) -> Option<NodeId> {
        match self.tab {
            Tab::Files => self.current_row().map(|r| r.node),
            Tab::Exec => self
                .exec_row(self.cursor[2])
                .and_then(|(p, _)| self.tree.find(p)),
            Tab::Network => None,
        }
    }

    /// Rows in the current tab.
    pub fn row_count(&self) -> usize {
        match self.tab {
            Tab::Files => self.rows.len(),
            Tab::Network => self.learn.hosts.len() + self.learn.sockets.len(),
            Tab::Exec => self.exec_rows().len(),
        }
    }

    /// Rows the list pane shows at the current size.
    pub fn list_height(&self) -> usize {
        let areas = super::layout::layout(
            ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1),
            self.focus,
            self.zoom,
        );
        areas.list.height.saturating_sub(2).max(1) as usize
    }

    /// Moves the offset so the cursor is visible.
    pub fn scroll_into_view(&mut self) {
        let t = self.tab.index();
        let height = self.list_height();
        let count = self.row_count();
        self.cursor[t] = self.cursor[t].min(count.saturating_sub(1));
        if self.cursor[t] < self.offset[t] {
            self.offset[t] = self.cursor[t];
        } else if self.cursor[t] >= self.offset[t] + height {
            self.offset[t] = self.cursor[t] + 1 - height;
        }
        self.offset[t] = self.offset[t].min(count.saturating_sub(height));
    }

    /// The observations of a node, if it was observed.
    pub fn path_node(&self, id: NodeId) -> Option<&PathNode> {
        let node = self.tree.node(id);
        if node.observed {
            self.learn.files.get(&node.path)
        } else {
            None
        }
    }

    /// The suggestion an observed node belongs to.
    pub fn suggestion(&self, id: NodeId) -> Option<&Suggestion> {
        match self.suggestion_of.get(id as usize) {
            Some(&i) if i != NO_SUGGESTION => self.suggestions.get(i as usize),
            _ => None,
        }
    }

    /// The denied path (and what denies it) a node lies in, when the command needed
    /// access there.
    pub fn sensitive(&self, id: NodeId) -> Option<&nono_learn::model::SensitivePath> {
        self.learn.ctx.sensitive(&self.tree.node(id).path)
    }

    /// Is a node a denied path the command needed access to?
    pub fn is_sensitive(&self, id: NodeId) -> bool {
        let path = &self.tree.node(id).path;
        self.learn.ctx.sensitive(path).is_some()
            && self.learn.files.get(path).is_some_and(|n| {
                let mut all = n.ok;
                for need in n.failed.iter() {
                    all.insert(need);
                }
                all.access().is_some()
            })
    }

    /// What governs a Files node: its own decision, a rule decided above it, the
    /// working-directory or group decision its suggestion points at, or nothing.
    pub fn governor(&self, id: NodeId) -> Governor<'_> {
        let path: &Path = &self.tree.node(id).path;
        if self.anchors.contains(path)
            && let Some(d) = self.decisions.get(&ItemKey::Path(path.to_path_buf()))
        {
            return Governor::Own(d);
        }
        if !self.rules_at.is_empty() {
            for at in path.ancestors() {
                let Some(anchors) = self.rules_at.get(at) else {
                    continue;
                };
                for anchor in anchors {
                    let Some(d) = self.decisions.get(&ItemKey::Path(anchor.clone())) else {
                        continue;
                    };
                    if let Rule::Path(rule) = &d.rule
                        && rule.covers(path)
                        && d.verdict != Verdict::Pending
                    {
                        return Governor::Rule {
                            anchor: anchor.as_path(),
                            decision: d,
                        };
                    }
                }
            }
        }
        match self.suggestion(id).map(|s| &s.kind) {
            Some(SuggestionKind::Workdir) => self
                .decisions
                .get(&ItemKey::Workdir)
                .map_or(Governor::None, Governor::Workdir),
            Some(SuggestionKind::IncludeGroup { group }) => self
                .decisions
                .get(&ItemKey::Group(group.clone()))
                .map_or(Governor::None, Governor::Group),
            _ => Governor::None,
        }
    }

    /// How a Files node stands.
    pub fn class(&self, id: NodeId) -> Class {
        let node = self.tree.node(id);
        match self.governor(id).decision().map(|d| d.verdict) {
            Some(Verdict::Allow) => return Class::Allowed,
            Some(Verdict::Deny) => return Class::Denied,
            Some(Verdict::Pending) => return Class::Pending,
            None => {}
        }
        if let Some(s) = self.suggestion(id) {
            return match s.kind {
                SuggestionKind::Grant
                | SuggestionKind::IncludeGroup { .. }
                | SuggestionKind::Workdir
                | SuggestionKind::Host => Class::Pending,
                SuggestionKind::Covered { .. } => Class::Covered,
                SuggestionKind::Sensitive { .. } => Class::Sensitive,
            };
        }
        if !node.observed {
            return Class::Branch;
        }
        match self.learn.files.get(&node.path) {
            Some(_)
                if nono_learn::grant::never_whole(&node.path, &self.learn.ctx.home).is_some() =>
            {
                Class::Branch
            }
            Some(n) if n.ok.access().is_some() => Class::Unknown,
            Some(n) if n.ok.is_empty() && n.failed_count > 0 => {
                if self.learn.ctx.sensitive(&node.path).is_some() && n.failed.access().is_some() {
                    Class::Sensitive
                } else {
                    Class::Failed
                }
            }
            _ => Class::Lookup,
        }
    }

    /// Rebuilds the index from rule paths to the decisions that hold them.
    pub(crate) fn reindex_rules(&mut self) {
        self.rules_at.clear();
        self.anchors.clear();
        for (key, d) in &self.decisions {
            if let ItemKey::Path(anchor) = key {
                self.anchors.insert(anchor.clone());
            }
            if let (ItemKey::Path(anchor), Rule::Path(rule)) = (key, &d.rule)
                && d.verdict != Verdict::Pending
            {
                self.rules_at
                    .entry(rule.path.clone())
                    .or_default()
                    .push(anchor.clone());
            }
        }
        for anchors in self.rules_at.values_mut() {
            anchors.sort();
        }
    }

    /// The host and its decision for a Network row, if the row is a host.
    pub fn host_row(&self, i: usize) -> Option<(&String, &nono_learn::model::HostNode)> {
        self.learn.hosts.iter().nth(i)
    }

    /// The suggestion for a host.
    pub fn host_suggestion(&self, host: &str) -> Option<&Suggestion> {
        self.suggestions
            .iter()
            .find(|s| s.kind == SuggestionKind::Host && s.rule == host)
    }

    /// What still waits for a decision: every suggestion with a row still pending (a
    /// directory suggestion stays pending while one of its rows is, even after another
    /// row of it was denied), every pending row that belongs to no suggestion, and
    /// every suggested host not decided. The header shows it; `A` reports it.
    pub fn pending_count(&self) -> usize {
        let hosts = self
            .suggestions
            .iter()
            .filter(|s| s.kind == SuggestionKind::Host && self.host_pending(&s.rule))
            .count();
        self.pending_files + hosts
    }

    /// Is a suggested host still undecided (no decision, or one only shaped)?
    pub fn host_pending(&self, host: &str) -> bool {
        self.decisions
            .get(&ItemKey::Host(host.to_string()))
            .is_none_or(|d| d.verdict == Verdict::Pending)
    }

    /// Pending rows below a node (itself excluded), as of the last decision or
    /// suggestion pass: what a folded directory shows.
    pub fn pending_inside(&self, id: NodeId) -> u32 {
        let at = |i: NodeId| self.pending_below.get(i as usize).copied().unwrap_or(0);
        let own = u32::from(self.class(id) == Class::Pending);
        at(id).saturating_sub(own)
    }

    /// A program of the Exec tab that was only looked for: every run of it failed
    /// with `ENOENT` (a shell or `execvp` trying each directory of `PATH`).
    pub fn failed_lookup(&self, path: &Path, exec: &nono_learn::model::ExecNode) -> bool {
        exec.count > 0
            && exec.failed == exec.count
            && self
                .learn
                .files
                .get(path)
                .is_none_or(|n| n.ok.is_empty() && n.last_errno.is_none_or(|e| e == 2))
    }

    /// The Exec tab's rows: every program run, failed `PATH` lookups only when shown.
    pub fn exec_rows(&self) -> Vec<(&PathBuf, &nono_learn::model::ExecNode)> {
        self.learn
            .execs
            .iter()
            .filter(|(p, e)| self.show_failed_execs || !self.failed_lookup(p, e))
            .collect()
    }

    /// Failed `PATH` lookups the Exec tab hides.
    pub fn hidden_execs(&self) -> usize {
        if self.show_failed_execs {
            return 0;
        }
        self.learn
            .execs
            .iter()
            .filter(|(p, e)| self.failed_lookup(p, e))
            .count()
    }

    /// The Exec row `i`.
    pub fn exec_row(&self, i: usize) -> Option<(&PathBuf, &nono_learn::model::ExecNode)> {
        self.exec_rows().into_iter().nth(i)
    }

    /// The directory on `PATH` a write grant of `rule` would reach (the directory, one
    /// inside it, or a program in it), if any.
    pub fn path_dir_reached(&self, rule: &PathRule) -> Option<&Path> {
        if !rule.access.covers(nono_enforcer::capability::Access::Write) {
            return None;
        }
        self.config
            .path_dirs
            .iter()
            .find(|d| rule.covers(d) || rule.path.starts_with(d))
            .map(PathBuf::as_path)
    }
}
