//! The planner's tests: an in-memory [`FsView`], property tests of the carving
//! invariants over random trees, and cases on the real filesystem.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;

use super::{EntryKind, FsView, MAX_CARVED_RULES, Plan, PlanError, RealFs, Rule, SkipReason, plan};
use crate::capability::{
    Access, CapabilitySet, EnvPolicy, GrantFlag, NetworkMode, NetworkPolicy, OverrideKind,
    PathDeny, PathGrant, PathKind, Source, Suggestion,
};
use crate::profile::SecuritySection;

// ---------------------------------------------------------------------------
// An in-memory filesystem.
// ---------------------------------------------------------------------------

/// Symlinks followed before resolution gives up with `ELOOP` (Linux's MAXSYMLINKS).
const MAX_SYMLINK_HOPS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File,
    Link(PathBuf),
}

/// A tree of directories, files and symlinks keyed by absolute path. Every key is
/// canonical: a symlink has no children, so no key passes through one.
#[derive(Clone)]
struct MemFs {
    nodes: BTreeMap<PathBuf, Node>,
}

enum Step {
    Root,
    Up,
    Name(OsString),
}

fn steps(path: &Path) -> Vec<Step> {
    path.components()
        .filter_map(|c| match c {
            Component::RootDir => Some(Step::Root),
            Component::CurDir => None,
            Component::ParentDir => Some(Step::Up),
            Component::Normal(name) => Some(Step::Name(name.to_os_string())),
            Component::Prefix(_) => panic!("no path prefixes on Unix: {}", path.display()),
        })
        .collect()
}

fn os_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

impl MemFs {
    fn new() -> Self {
        MemFs {
            nodes: BTreeMap::from([(PathBuf::from("/"), Node::Dir)]),
        }
    }

    fn insert(&mut self, path: impl Into<PathBuf>, node: Node) -> &mut Self {
        let path = path.into();
        let parent = path
            .parent()
            .filter(|_| path.is_absolute())
            .unwrap_or_else(|| panic!("in-memory fs: {} must be absolute, not /", path.display()));
        assert_eq!(
            self.nodes.get(parent),
            Some(&Node::Dir),
            "in-memory fs: the parent of {} must be a directory",
            path.display()
        );
        let old = self.nodes.insert(path.clone(), node);
        assert!(
            old.is_none(),
            "in-memory fs: {} already exists",
            path.display()
        );
        self
    }

    fn dir(&mut self, path: &str) -> &mut Self {
        self.insert(path, Node::Dir)
    }

    fn file(&mut self, path: &str) -> &mut Self {
        self.insert(path, Node::File)
    }

    fn link(&mut self, path: &str, target: &str) -> &mut Self {
        self.insert(path, Node::Link(target.into()))
    }

    /// Every existing path that is not a symlink, with its kind.
    fn real_nodes(&self) -> impl Iterator<Item = (&Path, EntryKind)> {
        self.nodes.iter().filter_map(|(path, node)| match node {
            Node::Dir => Some((path.as_path(), EntryKind::Dir)),
            Node::File => Some((path.as_path(), EntryKind::File)),
            Node::Link(_) => None,
        })
    }
}

impl FsView for MemFs {
    /// Resolves like the kernel: symlinks in every component (intermediate ones
    /// included), relative targets against the link's directory, `..` after
    /// resolution, `ENOTDIR` when a file is used as a directory, `ELOOP` after
    /// [`MAX_SYMLINK_HOPS`] links.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        if !path.is_absolute() {
            return Err(os_error(libc::EINVAL));
        }
        let mut todo: Vec<Step> = steps(path);
        todo.reverse();
        let mut current = PathBuf::from("/");
        let mut hops = 0;
        while let Some(step) = todo.pop() {
            match self.nodes.get(&current) {
                Some(Node::Dir) => {}
                Some(_) => return Err(os_error(libc::ENOTDIR)),
                None => panic!(
                    "in-memory fs: resolved to {}, which is absent",
                    current.display()
                ),
            }
            match step {
                Step::Root => current = PathBuf::from("/"),
                Step::Up => {
                    current.pop();
                }
                Step::Name(name) => {
                    let next = current.join(&name);
                    match self.nodes.get(&next) {
                        None => return Err(os_error(libc::ENOENT)),
                        Some(Node::Link(target)) => {
                            hops += 1;
                            if hops > MAX_SYMLINK_HOPS {
                                return Err(os_error(libc::ELOOP));
                            }
                            todo.extend(steps(target).into_iter().rev());
                        }
                        Some(Node::Dir | Node::File) => current = next,
                    }
                }
            }
        }
        Ok(current)
    }

    fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        let canonical = self.canonicalize(path)?;
        match self.nodes.get(&canonical) {
            Some(Node::Dir) => Ok(EntryKind::Dir),
            Some(Node::File) => Ok(EntryKind::File),
            other => panic!("in-memory fs: {} resolved to {other:?}", path.display()),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let dir = self.canonicalize(path)?;
        if self.nodes.get(&dir) != Some(&Node::Dir) {
            return Err(os_error(libc::ENOTDIR));
        }
        Ok(self
            .nodes
            .keys()
            .filter(|p| p.parent() == Some(dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
            .collect())
    }
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, node) in &self.nodes {
            match node {
                Node::Dir => {
                    writeln!(f, "  {}/", path.display().to_string().trim_end_matches('/'))?
                }
                Node::File => writeln!(f, "  {}", path.display())?,
                Node::Link(target) => writeln!(f, "  {} -> {}", path.display(), target.display())?,
            }
        }
        Ok(())
    }
}

#[test]
fn mem_fs_resolves_symlinks_like_the_kernel() {
    let mut fs = MemFs::new();
    fs.dir("/h")
        .dir("/h/real")
        .file("/h/real/f")
        .link("/h/abs", "/h/real")
        .link("/h/rel", "real")
        .link("/h/chain", "abs")
        .link("/h/up", "../h/real/..")
        .link("/h/loop", "loop")
        .link("/h/dangling", "/nowhere")
        .link("/h/tofile", "real/f");
    let canon = |p: &str| fs.canonicalize(Path::new(p));
    assert_eq!(
        canon("/h/abs/f").expect("absolute link"),
        Path::new("/h/real/f")
    );
    assert_eq!(
        canon("/h/rel/f").expect("relative link"),
        Path::new("/h/real/f")
    );
    assert_eq!(
        canon("/h/chain/f").expect("chained link"),
        Path::new("/h/real/f")
    );
    assert_eq!(
        canon("/h/up").expect("link with ..").as_path(),
        Path::new("/h")
    );
    assert_eq!(
        canon("/h/real/../abs/../rel").expect(".. after a link"),
        Path::new("/h/real")
    );
    assert_eq!(canon("/").expect("the root"), Path::new("/"));
    let code = |p: &str| canon(p).expect_err(p).raw_os_error();
    assert_eq!(code("/h/loop/x"), Some(libc::ELOOP));
    assert_eq!(code("/h/dangling"), Some(libc::ENOENT));
    assert_eq!(code("/h/tofile/x"), Some(libc::ENOTDIR));
    assert_eq!(code("/h/missing/x"), Some(libc::ENOENT));
    let mut names = fs
        .read_dir(Path::new("/h/abs"))
        .expect("read_dir through a link");
    names.sort();
    assert_eq!(names, vec![OsString::from("f")]);
    assert_eq!(
        fs.kind(Path::new("/h/tofile"))
            .expect("kind through a link"),
        EntryKind::File
    );
}

// ---------------------------------------------------------------------------
// Building capability sets.
// ---------------------------------------------------------------------------

pub(crate) fn caps(grants: Vec<PathGrant>, denies: Vec<PathDeny>) -> CapabilitySet {
    CapabilitySet {
        profile: None,
        profile_chain: vec![],
        profile_files: vec![],
        workdir: PathBuf::from("/"),
        groups: vec![],
        grants,
        denies,
        bypassed: vec![],
        network: NetworkPolicy {
            mode: NetworkMode::Allowed,
            credentials: vec![],
            listen_ports: vec![],
            open_ports: vec![],
        },
        environment: EnvPolicy::default(),
        security: SecuritySection::default(),
        notes: vec![],
    }
}

fn group(name: &str) -> Source {
    Source::Group {
        group: name.into(),
        included_by: None,
    }
}

/// A lenient grant, as a group or profile makes.
fn group_grant(path: impl Into<PathBuf>, access: Access, source: Source) -> PathGrant {
    PathGrant {
        path: path.into(),
        kind: PathKind::Any,
        access,
        strict: false,
        source,
    }
}

/// A strict grant, as a command-line flag makes.
fn flag_grant(flag: GrantFlag, path: &Path) -> PathGrant {
    let value = path.display().to_string();
    PathGrant {
        path: path.to_path_buf(),
        kind: flag.kind(),
        access: flag.access(),
        strict: true,
        source: Source::Flag {
            what: OverrideKind::Grant(flag),
            flag: flag.name().into(),
            value,
        },
    }
}

fn deny(path: impl Into<PathBuf>) -> PathDeny {
    PathDeny {
        path: path.into(),
        source: group("deny_test"),
    }
}

/// Does `rule` give access to the (canonical) path `node`?
fn covers(rule: &Rule, node: &Path) -> bool {
    match rule.kind {
        EntryKind::Dir => node.starts_with(&rule.path),
        EntryKind::File => node == rule.path,
    }
}

// ---------------------------------------------------------------------------
// Random trees, grants and denials.
// ---------------------------------------------------------------------------

/// Entry names: a directory's entries are named `a`, `b`, … in order, so random
/// paths over these names sometimes exist and sometimes do not (`e` never does).
const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Debug, Clone)]
enum Shape {
    File,
    Dir(Vec<Shape>),
    Link(Target),
}

#[derive(Debug, Clone)]
enum Target {
    /// An existing node (possibly a symlink, possibly the link itself).
    Node { index: Index, relative: bool },
    /// A path that may or may not exist.
    Raw {
        absolute: bool,
        ups: usize,
        names: Vec<&'static str>,
    },
}

#[derive(Debug, Clone)]
enum DenySpec {
    Node(Index),
    Raw(Vec<&'static str>),
    /// Below one of the granted paths, so that carving happens often.
    UnderGrant(Index, Vec<&'static str>),
}

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(NAMES.to_vec())
}

fn access() -> impl Strategy<Value = Access> {
    prop_oneof![
        Just(Access::Read),
        Just(Access::Write),
        Just(Access::ReadWrite)
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => (any::<Index>(), any::<bool>())
            .prop_map(|(index, relative)| Target::Node { index, relative }),
        1 => (any::<bool>(), 0usize..3, prop::collection::vec(name(), 0..=3))
            .prop_map(|(absolute, ups, names)| Target::Raw { absolute, ups, names }),
    ]
}

/// A subtree at most three levels deep below a child of the root (depth ≤ 4 in
/// all), at most four entries per directory.
fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        4 => Just(Shape::File),
        2 => Just(Shape::Dir(Vec::new())),
        2 => target().prop_map(Shape::Link),
    ];
    leaf.prop_recursive(3, 48, 4, |inner| {
        prop::collection::vec(inner, 0..=4).prop_map(Shape::Dir)
    })
}

fn deny_spec() -> impl Strategy<Value = DenySpec> {
    prop_oneof![
        1 => any::<Index>().prop_map(DenySpec::Node),
        1 => prop::collection::vec(name(), 1..=5).prop_map(DenySpec::Raw),
        2 => (any::<Index>(), prop::collection::vec(name(), 1..=3))
            .prop_map(|(grant, names)| DenySpec::UnderGrant(grant, names)),
    ]
}

/// A random filesystem with grants of random nodes and random denials.
struct Case {
    fs: MemFs,
    caps: CapabilitySet,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "filesystem:")?;
        write!(f, "{:?}", self.fs)?;
        for g in &self.caps.grants {
            writeln!(f, "grant {} {} ({})", g.access, g.path.display(), g.source)?;
        }
        for d in &self.caps.denies {
            writeln!(f, "deny {}", d.path.display())?;
        }
        Ok(())
    }
}

fn add_children(
    fs: &mut MemFs,
    dir: &Path,
    children: &[Shape],
    links: &mut Vec<(PathBuf, Target)>,
) {
    for (shape, name) in children.iter().zip(NAMES) {
        let path = dir.join(name);
        match shape {
            Shape::File => {
                fs.insert(path, Node::File);
            }
            Shape::Dir(grandchildren) => {
                fs.insert(path.clone(), Node::Dir);
                add_children(fs, &path, grandchildren, links);
            }
            Shape::Link(target) => {
                // The target is filled in once every node exists.
                fs.insert(path.clone(), Node::Link(PathBuf::from(".")));
                links.push((path, target.clone()));
            }
        }
    }
}

/// `to` relative to the directory `from` (both canonical).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// Grants name a directory (when the flag is set, three times in four) or any node.
fn build_case(
    children: Vec<Shape>,
    grants: Vec<(bool, Index, Access)>,
    denies: Vec<DenySpec>,
) -> Case {
    let mut fs = MemFs::new();
    let mut links = Vec::new();
    add_children(&mut fs, Path::new("/"), &children, &mut links);
    let all: Vec<PathBuf> = fs.nodes.keys().cloned().collect();
    for (path, target) in links {
        let target = match target {
            Target::Node {
                index,
                relative: false,
            } => index.get(&all).clone(),
            Target::Node {
                index,
                relative: true,
            } => relative_path(
                path.parent().unwrap_or(Path::new("/")),
                index.get::<PathBuf>(&all),
            ),
            Target::Raw {
                absolute,
                ups,
                names,
            } => {
                let mut t = if absolute {
                    PathBuf::from("/")
                } else {
                    PathBuf::new()
                };
                for _ in 0..ups {
                    t.push("..");
                }
                t.extend(names);
                if t.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    t
                }
            }
        };
        fs.nodes.insert(path, Node::Link(target));
    }
    let dirs: Vec<PathBuf> = fs
        .real_nodes()
        .filter(|(_, k)| *k == EntryKind::Dir)
        .map(|(p, _)| p.to_path_buf())
        .collect();
    let grants: Vec<PathGrant> = grants
        .into_iter()
        .enumerate()
        .map(|(i, (dir_only, index, access))| {
            let path = index.get(if dir_only { &dirs } else { &all });
            group_grant(path, access, group(&format!("g{i}")))
        })
        .collect();
    let denies = denies
        .into_iter()
        .map(|spec| match spec {
            DenySpec::Node(index) => deny(index.get::<PathBuf>(&all)),
            DenySpec::Raw(names) => deny(Path::new("/").join(names.join("/"))),
            DenySpec::UnderGrant(grant, names) => {
                deny(grant.get(&grants).path.join(names.join("/")))
            }
        })
        .collect();
    Case {
        fs,
        caps: caps(grants, denies),
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(shape(), 1..=4),
        prop::collection::vec(
            (prop::bool::weighted(0.75), any::<Index>(), access()),
            1..=3,
        ),
        prop::collection::vec(deny_spec(), 0..=3),
    )
        .prop_map(|(children, grants, denies)| build_case(children, grants, denies))
}

/// Plans `case`; `None` when carving needed too many rules (the one error a
/// lenient grant may produce, and it never widens anything).
fn plan_case(case: &Case) -> Result<Option<Plan>, TestCaseError> {
    match plan(&case.caps, &case.fs) {
        Ok(plan) => Ok(Some(plan)),
        Err(PlanError::TooManyRules { .. }) => Ok(None),
        // Refusing a plan grants nothing: every property holds vacuously.
        Err(PlanError::PlantableSymlink { .. } | PlanError::SymlinkOntoDenied { .. }) => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!("plan failed: {e}"))),
    }
}

/// The grants that are in effect: canonical path, not inside a denied path.
fn effective_grants<'a>(case: &'a Case, plan: &Plan) -> Vec<(&'a PathGrant, PathBuf)> {
    case.caps
        .grants
        .iter()
        .filter_map(|g| case.fs.canonicalize(&g.path).ok().map(|c| (g, c)))
        .filter(|(_, c)| !plan.denies.iter().any(|d| c.starts_with(&d.canonical)))
        .collect()
}

/// The longest existing prefix of `path` resolved, the rest appended (the generated
/// paths hold no `..`).
fn lenient(fs: &MemFs, path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut prefix = path;
    loop {
        if let Ok(resolved) = fs.canonicalize(prefix) {
            return rest.iter().rev().fold(resolved, |acc, name| acc.join(name));
        }
        rest.extend(prefix.file_name());
        prefix = prefix
            .parent()
            .unwrap_or_else(|| panic!("/ always resolves ({})", path.display()));
    }
}

fn overlaps_a_deny(plan: &Plan, node: &Path) -> bool {
    plan.denies
        .iter()
        .any(|d| node.starts_with(&d.canonical) || d.canonical.starts_with(node))
}

fn rules_text(plan: &Plan) -> String {
    plan.rules
        .iter()
        .map(|r| {
            format!(
                "  {:?} {} {} ({})\n",
                r.kind,
                r.access,
                r.path.display(),
                r.source
            )
        })
        .collect()
}

fn check_never_grants_denied(case: &Case) -> Result<(), TestCaseError> {
    let Some(plan) = plan_case(case)? else {
        return Ok(());
    };
    for d in &plan.denies {
        prop_assert_eq!(
            &d.canonical,
            &lenient(&case.fs, &d.path),
            "a denial's canonical form is its longest existing prefix resolved, plus the rest"
        );
    }
    for rule in &plan.rules {
        let landed = case.fs.canonicalize(&rule.path);
        prop_assert!(
            landed.as_ref().is_ok_and(|p| *p == rule.path),
            "rule {} is not a canonical existing path (it resolves to {landed:?})\nrules:\n{}",
            rule.path.display(),
            rules_text(&plan)
        );
        for d in &plan.denies {
            let denied = &d.canonical;
            prop_assert!(
                !rule.path.starts_with(denied),
                "rule {} is on or inside denied {}\nrules:\n{}",
                rule.path.display(),
                denied.display(),
                rules_text(&plan)
            );
            // A file contains nothing, so a file rule "above" a denial (the
            // denial names a path under a file, which cannot exist) exposes nothing.
            prop_assert!(
                rule.kind == EntryKind::File
                    || !denied.starts_with(&rule.path)
                    || (rule.list_only && rule.access != Access::Write),
                "rule {} is an ancestor of denied {}\nrules:\n{}",
                rule.path.display(),
                denied.display(),
                rules_text(&plan)
            );
        }
    }
    Ok(())
}

fn check_complete(case: &Case) -> Result<(), TestCaseError> {
    let Some(plan) = plan_case(case)? else {
        return Ok(());
    };
    let grants = effective_grants(case, &plan);
    for (node, _) in case.fs.real_nodes() {
        if overlaps_a_deny(&plan, node) || !grants.iter().any(|(_, g)| node.starts_with(g)) {
            continue;
        }
        prop_assert!(
            plan.rules.iter().any(|r| covers(r, node)),
            "{} is granted and overlaps no denial, but no rule covers it\nrules:\n{}",
            node.display(),
            rules_text(&plan)
        );
    }
    Ok(())
}

fn check_access_preserved(case: &Case) -> Result<(), TestCaseError> {
    let Some(plan) = plan_case(case)? else {
        return Ok(());
    };
    let grants = effective_grants(case, &plan);
    for (node, _) in case.fs.real_nodes() {
        if overlaps_a_deny(&plan, node) {
            continue;
        }
        for (grant, canonical) in grants.iter().filter(|(_, g)| node.starts_with(g)) {
            prop_assert!(
                plan.rules.iter().any(|r| covers(r, node)
                    && r.access == grant.access
                    && *r.source == grant.source),
                "{} is under {} ({}, {}) but no rule with that access and source covers it\nrules:\n{}",
                node.display(),
                canonical.display(),
                grant.access,
                grant.source,
                rules_text(&plan)
            );
        }
    }
    // Grants inside a denied path are listed as skipped, not silently dropped.
    for grant in &case.caps.grants {
        let Ok(canonical) = case.fs.canonicalize(&grant.path) else {
            continue;
        };
        if plan
            .denies
            .iter()
            .any(|d| canonical.starts_with(&d.canonical))
        {
            prop_assert!(
                plan.skipped
                    .iter()
                    .any(|s| s.source == grant.source
                        && matches!(s.reason, SkipReason::Denied { .. })),
                "grant {} lies inside a denial but is not reported as skipped",
                grant.path.display()
            );
        }
    }
    Ok(())
}

fn check_never_widens(case: &Case) -> Result<(), TestCaseError> {
    let Some(plan) = plan_case(case)? else {
        return Ok(());
    };
    let grants = effective_grants(case, &plan);
    for rule in &plan.rules {
        prop_assert!(
            grants
                .iter()
                .any(|(g, c)| rule.path.starts_with(c) && g.source == *rule.source),
            "rule {} ({}) reaches outside the grant it implements{}\nrules:\n{}",
            rule.path.display(),
            rule.source,
            rule.carved
                .as_ref()
                .map(|c| format!(
                    " ({} carved around {})",
                    c.granted.display(),
                    c.denied.display()
                ))
                .unwrap_or_default(),
            rules_text(&plan)
        );
    }
    Ok(())
}

proptest! {
    // No regression file: failures are shrunk and printed, and the source tree is
    // not written to.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// No rule is on, inside, or above a denied path, and every rule is a
    /// canonical path that resolves to itself.
    #[test]
    fn plan_never_grants_a_denied_path(case in case()) {
        check_never_grants_denied(&case)?;
    }

    /// Carving loses nothing: every node under a grant that overlaps no denial is
    /// still covered by some rule.
    #[test]
    fn plan_covers_everything_granted_outside_denials(case in case()) {
        check_complete(&case)?;
    }

    /// Each grant's access reaches every node under it that overlaps no denial,
    /// through a rule that names that grant; grants inside a denial are reported.
    #[test]
    fn plan_preserves_each_grants_access(case in case()) {
        check_access_preserved(&case)?;
    }

    /// A rule never reaches beyond the directory its grant named. Without carving,
    /// a rule on the granted directory does not reach the target of a symlink that
    /// points out of it (Landlock checks the resolved path), so carving must not
    /// either.
    #[test]
    fn carving_never_widens_a_grant(case in case()) {
        check_never_widens(&case)?;
    }
}

// ---------------------------------------------------------------------------
// The real filesystem.
// ---------------------------------------------------------------------------

/// A temporary directory and its canonical path (the planner compares canonical paths).
fn temp_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let root = fs::canonicalize(dir.path()).expect("canonicalize the temporary directory");
    (dir, root)
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

fn touch(path: &Path) {
    // Empty: writing data makes creating thousands of files slow on some disks.
    fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
}

fn ln(target: &Path, link: &Path) {
    symlink(target, link)
        .unwrap_or_else(|e| panic!("symlink {} -> {}: {e}", link.display(), target.display()));
}

fn plan_ok(caps: &CapabilitySet) -> Plan {
    plan(caps, &RealFs).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

fn rule_paths(plan: &Plan) -> Vec<&Path> {
    plan.rules.iter().map(|r| r.path.as_path()).collect()
}

#[test]
fn carving_home_around_ssh_grants_its_siblings_but_not_ssh_or_a_link_to_it() {
    let (_dir, root) = temp_root();
    let home = root.join("home");
    let ssh = home.join(".ssh");
    mkdir(&ssh);
    touch(&ssh.join("id_rsa"));
    touch(&home.join("notes.txt"));
    mkdir(&home.join("proj"));
    ln(Path::new(".ssh"), &home.join("link"));

    let plan = plan_ok(&caps(
        vec![flag_grant(GrantFlag::Allow, &home)],
        vec![deny(&ssh)],
    ));

    for rule in &plan.rules {
        assert!(
            !rule.path.starts_with(&ssh) && !ssh.starts_with(&rule.path),
            "rule {} overlaps the denied {}; rules: {:?}",
            rule.path.display(),
            ssh.display(),
            rule_paths(&plan)
        );
        assert_eq!(
            rule.access,
            Access::ReadWrite,
            "rule {} lost the grant's access",
            rule.path.display()
        );
        let carve = rule
            .carved
            .as_ref()
            .unwrap_or_else(|| panic!("rule {} is not marked carved", rule.path.display()));
        assert_eq!(
            (&carve.granted, &carve.denied),
            (&home, &ssh),
            "carve of {}",
            rule.path.display()
        );
    }
    assert!(
        !plan.rules.iter().any(|r| r.path == home.join("link")),
        "the symlink to .ssh produced a rule: {:?}",
        rule_paths(&plan)
    );
    let notes = plan.rules.iter().find(|r| r.path == home.join("notes.txt"));
    assert_eq!(
        notes.map(|r| r.kind),
        Some(EntryKind::File),
        "notes.txt: {:?}",
        rule_paths(&plan)
    );
    let proj = plan.rules.iter().find(|r| r.path == home.join("proj"));
    assert_eq!(
        proj.map(|r| r.kind),
        Some(EntryKind::Dir),
        "proj: {:?}",
        rule_paths(&plan)
    );
    assert_eq!(
        plan.rules.len(),
        2,
        "only notes.txt and proj: {:?}",
        rule_paths(&plan)
    );
}

#[test]
fn a_deny_two_levels_down_is_carved_at_both_levels() {
    let (_dir, root) = temp_root();
    let home = root.join("home");
    let config = home.join(".config");
    mkdir(&config.join("gcloud"));
    touch(&config.join("gcloud/credentials.db"));
    mkdir(&config.join("nvim"));
    touch(&config.join("git"));
    mkdir(&home.join("docs"));
    touch(&home.join("notes.txt"));

    let plan = plan_ok(&caps(
        vec![flag_grant(GrantFlag::Read, &home)],
        vec![deny(config.join("gcloud"))],
    ));

    let mut paths = rule_paths(&plan);
    paths.sort();
    let expected = [
        config.join("git"),
        config.join("nvim"),
        home.join("docs"),
        home.join("notes.txt"),
    ];
    assert_eq!(
        paths,
        expected.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        "rules"
    );
}

#[test]
fn a_grant_inside_a_deny_is_skipped_as_denied() {
    let (_dir, root) = temp_root();
    let ssh = root.join("home/.ssh");
    mkdir(&ssh);
    touch(&ssh.join("config"));
    let grant = group_grant(ssh.join("config"), Access::Read, group("ssh_config"));

    let plan = plan_ok(&caps(vec![grant.clone()], vec![deny(&ssh)]));

    assert!(
        plan.rules.is_empty(),
        "a denied file was granted: {:?}",
        rule_paths(&plan)
    );
    assert_eq!(plan.skipped.len(), 1, "skipped: {:?}", plan.skipped);
    let skipped = &plan.skipped[0];
    assert_eq!(
        (&skipped.path, skipped.access, &skipped.source),
        (&grant.path, grant.access, &grant.source)
    );
    assert_eq!(
        skipped.reason,
        SkipReason::Denied {
            denied: ssh.clone(),
            deny_source: group("deny_test")
        },
        "skip reason"
    );
}

#[test]
fn strict_grants_fail_on_a_missing_path_or_the_wrong_kind() {
    let (_dir, root) = temp_root();
    let missing = root.join("missing");
    match plan(
        &caps(vec![flag_grant(GrantFlag::Allow, &missing)], vec![]),
        &RealFs,
    ) {
        Err(e @ PlanError::Missing { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&missing.display().to_string()),
                "message names the path: {message}"
            );
        }
        other => panic!("a missing strict grant should fail with Missing, got {other:?}"),
    }
    let missing_file = root.join("out.txt");
    match plan(
        &caps(
            vec![flag_grant(GrantFlag::WriteFile, &missing_file)],
            vec![],
        ),
        &RealFs,
    ) {
        Err(PlanError::Missing { create_in, .. }) => {
            assert_eq!(
                create_in.as_deref(),
                Some(root.as_path()),
                "the hint grants the directory"
            );
        }
        other => panic!("a missing strict file grant should fail with Missing, got {other:?}"),
    }

    let file = root.join("data.csv");
    touch(&file);
    match plan(
        &caps(vec![flag_grant(GrantFlag::Read, &file)], vec![]),
        &RealFs,
    ) {
        Err(PlanError::WrongKind {
            what: "a file",
            suggestion,
            ..
        }) => {
            assert_eq!(
                suggestion,
                Suggestion::grant(GrantFlag::ReadFile, &file),
                "suggests a file grant"
            );
        }
        other => panic!("--read on a file should fail with WrongKind, got {other:?}"),
    }
    match plan(
        &caps(vec![flag_grant(GrantFlag::AllowFile, &root)], vec![]),
        &RealFs,
    ) {
        Err(PlanError::WrongKind {
            what: "a directory",
            suggestion,
            ..
        }) => {
            assert_eq!(
                suggestion,
                Suggestion::grant(GrantFlag::Allow, &root),
                "suggests a directory grant"
            );
        }
        other => panic!("--allow-file on a directory should fail with WrongKind, got {other:?}"),
    }
}

#[test]
fn carving_that_needs_too_many_rules_is_refused_naming_both_paths() {
    let (_dir, root) = temp_root();
    let big = root.join("big");
    mkdir(&big.join("secret"));
    for i in 0..MAX_CARVED_RULES + 10 {
        touch(&big.join(format!("f{i}")));
    }
    let secret = big.join("secret");

    match plan(
        &caps(
            vec![flag_grant(GrantFlag::Allow, &big)],
            vec![deny(&secret)],
        ),
        &RealFs,
    ) {
        Err(e @ PlanError::TooManyRules { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&big.display().to_string()),
                "names the grant: {message}"
            );
            assert!(
                message.contains(&secret.display().to_string()),
                "names the denial: {message}"
            );
            assert!(
                message.contains(&MAX_CARVED_RULES.to_string()),
                "names the limit: {message}"
            );
        }
        other => panic!(
            "expected TooManyRules, got {:?}",
            other.map(|p| p.rules.len())
        ),
    }
}

#[test]
fn a_denied_symlink_protects_its_target_from_a_grant_of_the_targets_directory() {
    let (_dir, root) = temp_root();
    let real = root.join("x/awsreal");
    mkdir(&real);
    touch(&real.join("credentials"));
    touch(&root.join("x/other.txt"));
    let home = root.join("home");
    mkdir(&home);
    ln(&real, &home.join(".aws"));

    let plan = plan_ok(&caps(
        vec![flag_grant(GrantFlag::Allow, &root.join("x"))],
        vec![deny(home.join(".aws"))],
    ));

    assert_eq!(
        plan.denies[0].canonical, real,
        "the denial is resolved to its target"
    );
    for rule in &plan.rules {
        assert!(
            !covers(rule, &real) && !rule.path.starts_with(&real),
            "rule {} exposes the denied symlink's target {}",
            rule.path.display(),
            real.display()
        );
    }
    assert_eq!(
        rule_paths(&plan),
        vec![root.join("x/other.txt").as_path()],
        "rules"
    );
}

/// Regression guard for sibling expansion following symlinks out of the grant:
/// `--read HOME` without denials gives one rule on HOME, and Landlock checks the
/// resolved path, so HOME/elsewhere -> OUTSIDE grants nothing in OUTSIDE. Carving
/// `.ssh` out of HOME must not change that.
#[test]
fn carving_does_not_grant_symlink_targets_outside_the_grant() {
    let (_dir, root) = temp_root();
    let home = root.join("home");
    mkdir(&home.join(".ssh"));
    touch(&home.join("notes.txt"));
    let outside = root.join("outside");
    mkdir(&outside);
    touch(&outside.join("secret"));
    ln(&outside, &home.join("elsewhere"));

    let uncarved = plan_ok(&caps(vec![flag_grant(GrantFlag::Read, &home)], vec![]));
    assert!(
        !uncarved
            .rules
            .iter()
            .any(|r| covers(r, &outside.join("secret"))),
        "without denials: {:?}",
        rule_paths(&uncarved)
    );

    let carved = plan_ok(&caps(
        vec![flag_grant(GrantFlag::Read, &home)],
        vec![deny(home.join(".ssh"))],
    ));
    let widened: Vec<&Path> = carved
        .rules
        .iter()
        .filter(|r| !r.path.starts_with(&home))
        .map(|r| r.path.as_path())
        .collect();
    assert!(
        widened.is_empty(),
        "carving .ssh out of --read {} granted paths outside it: {widened:?} (all rules: {:?})",
        home.display(),
        rule_paths(&carved)
    );
}

mod cache_props;

/// The few-calls read of mountinfo reads what `std::fs::read` reads.
#[test]
fn read_mountinfo_reads_the_whole_table() {
    assert_eq!(
        super::read_mountinfo(),
        std::fs::read("/proc/self/mountinfo").ok()
    );
}

/// A link inside a directory that a write grant of the same plan covers is not
/// followed (an earlier run could have planted it); nor is a link that makes a group
/// grant reach a directory holding a denied path.
#[test]
fn plantable_symlinks_are_refused() {
    let mut fs = MemFs::new();
    fs.dir("/h")
        .dir("/h/.cache")
        .dir("/h/.cache/real")
        .dir("/h/.ssh")
        .dir("/elsewhere")
        .link("/h/.cache/pip", "/h")
        .link("/h/.cache/other", "/elsewhere");
    let grant = |path: &str, access: Access, strict: bool| PathGrant {
        path: path.into(),
        kind: PathKind::Dir,
        access,
        strict,
        source: Source::NonoState,
    };
    let deny = PathDeny {
        path: "/h/.ssh".into(),
        source: Source::NonoState,
    };
    let caps = |grants: Vec<PathGrant>| caps(grants, vec![deny.clone()]);
    // A group grant through a link onto the home, which holds ~/.ssh.
    let err = plan(
        &caps(vec![grant("/h/.cache/pip", Access::ReadWrite, false)]),
        &fs,
    );
    assert!(
        matches!(err, Err(PlanError::SymlinkOntoDenied { .. })),
        "{err:?}"
    );
    // The same link named on the command line is the user's choice…
    assert!(plan(&caps(vec![grant("/h/.cache/pip", Access::Read, true)]), &fs).is_ok());
    // …unless the same sandbox may write where the link lives.
    let err = plan(
        &caps(vec![
            grant("/h/.cache", Access::ReadWrite, true),
            grant("/h/.cache/other", Access::Read, true),
        ]),
        &fs,
    );
    assert!(
        matches!(err, Err(PlanError::PlantableSymlink { .. })),
        "{err:?}"
    );
    // A link to a directory without denied paths, outside any write grant: fine.
    assert!(
        plan(
            &caps(vec![grant("/h/.cache/other", Access::ReadWrite, false)]),
            &fs
        )
        .is_ok()
    );
}
