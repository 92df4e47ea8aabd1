//! The directory tree of observed paths, grown one path at a time.
//!
//! Nodes live in an arena and are found by path through a hash index, so adding a path
//! costs one hash lookup when it is known and a few pushes when it is new (its missing
//! ancestors are created on the way). Children are sorted lazily, the next time the
//! visible rows are rebuilt. A parent is always created before its children, so node
//! ids increase downwards: a reverse walk over ids visits every child before its parent,
//! which is how filters find the directories that lead to a match without recursion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A node's index in the arena.
pub type NodeId = u32;

/// The root (`/`).
pub const ROOT: NodeId = 0;

const NO_PARENT: NodeId = NodeId::MAX;

/// One path in the tree.
#[derive(Debug, Clone)]
pub struct Node {
    /// The full path (shared with the index).
    pub path: Arc<Path>,
    /// The parent, or `NodeId::MAX` for the root.
    parent: NodeId,
    /// Children (sorted when `sorted`).
    children: Vec<NodeId>,
    sorted: bool,
    /// The learn model holds observations for this exact path.
    pub observed: bool,
    /// Observed paths at or below this node.
    pub observed_below: u32,
}

impl Node {
    /// The parent, if this is not the root.
    pub fn parent(&self) -> Option<NodeId> {
        (self.parent != NO_PARENT).then_some(self.parent)
    }

    /// The children, sorted once the rows have been rebuilt since the last insert.
    pub fn children(&self) -> &[NodeId] {
        &self.children
    }

    /// Has children (shown as a directory).
    pub fn is_branch(&self) -> bool {
        !self.children.is_empty()
    }
}

/// One visible row: a node, or a chain of single-child directories shown as one
/// (`/home/u/proj` instead of three rows), like compact folders in an editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The node the row stands for (the last of the chain).
    pub node: NodeId,
    /// The first node of the chain (== `node` when nothing was compacted).
    pub first: NodeId,
    /// Indentation level.
    pub depth: u16,
}

/// The tree of every observed path and its ancestors.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    index: HashMap<Arc<Path>, NodeId>,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    /// A tree holding only `/`.
    pub fn new() -> Self {
        let root: Arc<Path> = Arc::from(Path::new("/"));
        let mut index = HashMap::new();
        index.insert(Arc::clone(&root), ROOT);
        Tree {
            nodes: vec![Node {
                path: root,
                parent: NO_PARENT,
                children: Vec::new(),
                sorted: true,
                observed: false,
                observed_below: 0,
            }],
            index,
        }
    }

    /// Number of nodes (the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Only the root?
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// A node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The node of a path, if it is in the tree.
    pub fn find(&self, path: &Path) -> Option<NodeId> {
        self.index.get(path).copied()
    }

    /// Adds `path` (and its missing ancestors) and marks it observed. Returns its id
    /// and whether it was newly observed.
    pub fn observe(&mut self, path: &Path) -> (NodeId, bool) {
        let id = match self.index.get(path) {
            Some(&id) => id,
            None => self.insert(path),
        };
        let node = &mut self.nodes[id as usize];
        if node.observed {
            return (id, false);
        }
        node.observed = true;
        let mut at = id;
        while at != NO_PARENT {
            let node = &mut self.nodes[at as usize];
            node.observed_below += 1;
            at = node.parent;
        }
        (id, true)
    }

    /// Adds `path` and its missing ancestors, unobserved.
    pub fn insert(&mut self, path: &Path) -> NodeId {
        if let Some(&id) = self.index.get(path) {
            return id;
        }
        // Walk up to the first ancestor already present, then create downwards.
        let mut missing: Vec<&Path> = vec![path];
        let mut parent = ROOT;
        let mut at = path.parent();
        while let Some(p) = at {
            if p.as_os_str().is_empty() {
                break;
            }
            if let Some(&id) = self.index.get(p) {
                parent = id;
                break;
            }
            missing.push(p);
            at = p.parent();
        }
        for p in missing.into_iter().rev() {
            let id = self.nodes.len() as NodeId;
            let shared: Arc<Path> = Arc::from(p);
            self.index.insert(Arc::clone(&shared), id);
            self.nodes.push(Node {
                path: shared,
                parent,
                children: Vec::new(),
                sorted: true,
                observed: false,
                observed_below: 0,
            });
            let parent_node = &mut self.nodes[parent as usize];
            parent_node.children.push(id);
            parent_node.sorted = false;
            // A node that just became a branch sorts differently in its own parent
            // (branches first).
            if parent_node.children.len() == 1 && parent_node.parent != NO_PARENT {
                let grand = parent_node.parent;
                self.nodes[grand as usize].sorted = false;
            }
            parent = id;
        }
        parent
    }

    /// The ancestors of a node, nearest first (the node itself excluded).
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let mut at = self.nodes[id as usize].parent;
        std::iter::from_fn(move || {
            if at == NO_PARENT {
                return None;
            }
            let out = at;
            at = self.nodes[at as usize].parent;
            Some(out)
        })
    }

    /// How a row is labelled: the chain's path below the row's parent (`/` and the
    /// full path for chains starting at the root).
    pub fn label(&self, row: &Row) -> String {
        let last = &self.nodes[row.node as usize];
        let first = &self.nodes[row.first as usize];
        match first.parent() {
            None if row.first == row.node => "/".to_string(),
            None => last.path.display().to_string(),
            Some(parent) => {
                let base = &self.nodes[parent as usize].path;
                match last.path.strip_prefix(base) {
                    Ok(rest) => rest.display().to_string(),
                    Err(_) => last.path.display().to_string(),
                }
            }
        }
    }

    fn sort_children(&mut self, id: NodeId) {
        if self.nodes[id as usize].sorted {
            return;
        }
        let mut children = std::mem::take(&mut self.nodes[id as usize].children);
        let nodes = &self.nodes;
        children.sort_by(|&a, &b| {
            let (a, b) = (&nodes[a as usize], &nodes[b as usize]);
            b.is_branch()
                .cmp(&a.is_branch())
                .then_with(|| a.path.file_name().cmp(&b.path.file_name()))
        });
        let node = &mut self.nodes[id as usize];
        node.children = children;
        node.sorted = true;
    }

    /// Which nodes a filter shows: those `keep` accepts and every ancestor of one.
    pub fn matches(&self, keep: impl Fn(NodeId) -> bool) -> Vec<bool> {
        let mut matched = vec![false; self.nodes.len()];
        for id in (0..self.nodes.len()).rev() {
            if !matched[id] && keep(id as NodeId) {
                matched[id] = true;
            }
            let parent = self.nodes[id].parent;
            if matched[id] && parent != NO_PARENT {
                matched[parent as usize] = true;
            }
        }
        matched
    }

    /// The visible rows: depth-first, children sorted (branches first, then by name),
    /// collapsed nodes' children hidden, single-child chains of unobserved directories
    /// compacted. With `matched` (see [`Tree::matches`]), only those nodes are shown.
    pub fn rows(&mut self, folded: &dyn Fn(NodeId) -> bool, matched: Option<&[bool]>) -> Vec<Row> {
        let visible = |id: NodeId| matched.is_none_or(|m| m.get(id as usize) == Some(&true));
        let mut rows = Vec::new();
        if self.nodes.len() == 1 {
            return rows;
        }
        let mut stack: Vec<(NodeId, u16)> = vec![(ROOT, 0)];
        while let Some((first, depth)) = stack.pop() {
            // Compact a chain of unobserved directories with one visible child each.
            let mut last = first;
            loop {
                self.sort_children(last);
                let node = &self.nodes[last as usize];
                if node.observed || folded(last) {
                    break;
                }
                let mut shown = node.children.iter().copied().filter(|&c| visible(c));
                let (Some(only), None) = (shown.next(), shown.next()) else {
                    break;
                };
                if !self.nodes[only as usize].is_branch() {
                    break;
                }
                last = only;
            }
            rows.push(Row {
                node: last,
                first,
                depth,
            });
            if folded(last) {
                continue;
            }
            self.sort_children(last);
            for &child in self.nodes[last as usize].children.iter().rev() {
                if visible(child) {
                    stack.push((child, depth + 1));
                }
            }
        }
        rows
    }

    /// Every node's path, in id order (for searching).
    pub fn paths(&self) -> impl Iterator<Item = (NodeId, &Path)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i as NodeId, &*n.path))
    }

    /// The path of a node as an owned value.
    pub fn path_buf(&self, id: NodeId) -> PathBuf {
        self.nodes[id as usize].path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashSet;

    fn labels(tree: &mut Tree, collapsed: &HashSet<NodeId>) -> Vec<String> {
        tree.rows(&|id| collapsed.contains(&id), None)
            .iter()
            .map(|r| format!("{}{}", "  ".repeat(r.depth as usize), tree.label(r)))
            .collect()
    }

    #[test]
    fn chains_of_single_directories_are_compacted_and_branches_come_first() {
        let mut t = Tree::new();
        t.observe(Path::new("/home/u/proj/b.txt"));
        t.observe(Path::new("/home/u/proj/src/a.rs"));
        t.observe(Path::new("/etc/hostname"));
        assert_eq!(
            labels(&mut t, &HashSet::new()),
            [
                "/",
                "  etc",
                "    hostname",
                "  home/u/proj",
                "    src",
                "      a.rs",
                "    b.txt"
            ]
        );
        assert_eq!(t.node(ROOT).observed_below, 3);
    }

    #[test]
    fn collapsed_nodes_hide_their_children_and_filters_keep_the_way_to_matches() {
        let mut t = Tree::new();
        let (a, _) = t.observe(Path::new("/x/a"));
        t.observe(Path::new("/x/b"));
        t.observe(Path::new("/y/c"));
        let x = t.find(Path::new("/x")).unwrap();
        let collapsed: HashSet<NodeId> = [x].into();
        assert_eq!(labels(&mut t, &collapsed), ["/", "  x", "  y", "    c"]);
        let matched = t.matches(|id| id == a);
        let rows = t.rows(&|_| false, Some(&matched));
        let got: Vec<String> = rows.iter().map(|r| t.label(r)).collect();
        assert_eq!(got, ["/x", "a"]);
    }

    #[test]
    fn observing_twice_counts_once() {
        let mut t = Tree::new();
        assert!(t.observe(Path::new("/a/b")).1);
        assert!(!t.observe(Path::new("/a/b")).1);
        assert_eq!(t.node(ROOT).observed_below, 1);
    }
}
