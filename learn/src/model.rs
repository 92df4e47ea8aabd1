//! The learn model: everything observed, as plain data. `update` does no I/O; the
//! caller classifies events (which needs the filesystem for canonical paths) before
//! handing them over.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use nono_tracer::event::{Event, EventKind, SockAddr};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::observe::{Need, Observation};
use super::paths::PathMap;

/// A denied path the command must never be granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensitivePath {
    /// Canonical path.
    pub path: PathBuf,
    /// What denies it, for people ("group `deny_credentials`").
    pub label: String,
}

/// A path a group (or the base profile) grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Canonical path.
    pub path: PathBuf,
    /// Access granted.
    pub access: Access,
    /// A directory (covers what is below) rather than a single file.
    pub dir: bool,
}

/// A built-in group, for "covered by group X" and "include group X".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    /// Group name.
    pub name: String,
    /// Does the base profile include it?
    pub included: bool,
    /// What it grants (existing paths only).
    pub grants: Vec<Coverage>,
}

/// What learning happens against: the base profile's view of the machine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LearnContext {
    /// `$HOME`.
    pub home: PathBuf,
    /// The command's working directory.
    pub workdir: PathBuf,
    /// The base profile's name.
    pub base_profile: String,
    /// Denied paths.
    pub sensitive: Vec<SensitivePath>,
    /// Built-in groups (included or not).
    pub groups: Vec<GroupInfo>,
    /// The base profile's own grants (not from a group).
    pub base_grants: Vec<Coverage>,
    /// Directories in which the safety net lets nothing be created: the existing
    /// directories on the way to a withheld path that does not exist (Landlock has no
    /// deny rules, and a path that is not there cannot be hidden by a mount). Empty
    /// without the safety net.
    pub net_no_create: Vec<NoCreateDir>,
    /// Temporary directories (`/tmp`, `/var/tmp`, `/dev/shm`, `$TMPDIR`), canonical:
    /// random names below them are temporaries.
    pub temp_dirs: Vec<PathBuf>,
}

/// A directory the safety net withholds the right to create entries from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoCreateDir {
    /// Canonical path.
    pub dir: PathBuf,
    /// The withheld paths below it that do not exist (the first few).
    pub missing: Vec<PathBuf>,
    /// How many there are in all.
    pub count: usize,
    /// Withheld paths are carved around rather than hidden (no mount view): the list
    /// holds existing ones too.
    pub not_hidden: bool,
}

impl LearnContext {
    /// The denial covering `path`, if any.
    pub fn sensitive(&self, path: &Path) -> Option<&SensitivePath> {
        self.sensitive.iter().find(|s| path.starts_with(&s.path))
    }

    /// Why a failed access to `path` was the safety net's doing, when it was: a
    /// failure with `EACCES` to create an entry in a directory the safety net
    /// withholds creating from. For people: "refused by the safety net (DIR holds
    /// withheld names that do not exist yet: ~/.aws, …); …what to do".
    pub fn net_refusal(&self, path: &Path, node: &PathNode) -> Option<String> {
        if node.last_errno != Some(libc_eacces()) || self.sensitive(path).is_some() {
            return None;
        }
        let find = |dir: &Path| self.net_no_create.iter().find(|d| d.dir == dir);
        // A failed creation is observed on the directory (mkdir, link, rename); a
        // failed open that would have created a file, on the file.
        let (parent, hit) = match find(path) {
            Some(hit) if node.failed.contains(Need::Create) => (path, hit),
            _ => {
                if !node.ok.is_empty()
                    || !(node.failed.contains(Need::Create) || node.failed.contains(Need::Write))
                {
                    return None;
                }
                let parent = path.parent()?;
                (parent, find(parent)?)
            }
        };
        let short = |p: &Path| match p.strip_prefix(&self.home) {
            Ok(_) if self.home.as_os_str().is_empty() => p.display().to_string(),
            Ok(rest) if rest.as_os_str().is_empty() => "~".to_string(),
            Ok(rest) => format!("~/{}", rest.display()),
            _ => p.display().to_string(),
        };
        let mut names: Vec<String> = hit.missing.iter().map(|p| short(p)).collect();
        if hit.count > hit.missing.len() {
            names.push(format!("… {} in all", hit.count));
        }
        let holds = if hit.missing.iter().any(|m| m.parent() == Some(parent)) {
            "holds"
        } else {
            "is on the way to"
        };
        let what = if hit.not_hidden {
            "withheld paths (no mount namespace here to hide them)"
        } else {
            "withheld names that do not exist yet"
        };
        Some(format!(
            "refused by the safety net ({} {holds} {what}: {}); \
             create the entry before learning, learn in a subdirectory, or use --no-safety-net",
            short(parent),
            names.join(", ")
        ))
    }
}

/// `EACCES`, without a libc dependency.
fn libc_eacces() -> i32 {
    13
}

/// A set of [`Need`]s, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Needs(u8);

impl Needs {
    fn bit(need: Need) -> u8 {
        1 << (need as u8)
    }

    /// Adds one.
    pub fn insert(&mut self, need: Need) {
        self.0 |= Self::bit(need);
    }

    /// Contains it?
    pub fn contains(self, need: Need) -> bool {
        self.0 & Self::bit(need) != 0
    }

    /// Empty?
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The needs, in badge order.
    pub fn iter(self) -> impl Iterator<Item = Need> {
        [
            Need::Read,
            Need::Write,
            Need::Exec,
            Need::Create,
            Need::Delete,
            Need::Lookup,
        ]
        .into_iter()
        .filter(move |n| self.contains(*n))
    }

    /// `rwxcd`-style badges, `-` for absent ones.
    pub fn badges(self) -> String {
        [
            Need::Read,
            Need::Write,
            Need::Exec,
            Need::Create,
            Need::Delete,
        ]
        .iter()
        .map(|n| if self.contains(*n) { n.badge() } else { '-' })
        .collect()
    }

    /// The access a grant needs for these (lookups need none).
    pub fn access(self) -> Option<Access> {
        let read = self.contains(Need::Read) || self.contains(Need::Exec);
        let write = self.contains(Need::Write)
            || self.contains(Need::Create)
            || self.contains(Need::Delete);
        match (read, write) {
            (true, true) => Some(Access::ReadWrite),
            (true, false) => Some(Access::Read),
            (false, true) => Some(Access::Write),
            (false, false) => None,
        }
    }
}

/// Everything observed about one path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathNode {
    /// The path is a directory.
    pub dir: bool,
    /// Needs of successful accesses.
    pub ok: Needs,
    /// Needs of failed accesses.
    pub failed: Needs,
    /// Successful accesses.
    pub ok_count: u32,
    /// Failed accesses.
    pub failed_count: u32,
    /// The last failure's errno (positive), if any.
    pub last_errno: Option<i32>,
    /// Entries created or removed in it (for directories), at most [`MAX_DETAIL`].
    pub entries: BTreeSet<PathBuf>,
    /// The trace created it: the first thing seen to succeed on it was its creation
    /// (so it did not exist when the command started).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
    /// The trace removed it (unlink, rmdir, or renamed away).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// Processes that accessed it, at most [`MAX_DETAIL`].
    pub pids: BTreeSet<i32>,
    /// Programs that accessed it, at most [`MAX_DETAIL`].
    pub exes: BTreeSet<PathBuf>,
}

/// How many entries, pids and programs a node remembers.
pub const MAX_DETAIL: usize = 16;

/// Where a host name was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostSource {
    /// A DNS question.
    Dns,
    /// A CONNECT through nono's proxy.
    Proxy,
}

/// A host name the command looked up or connected to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostNode {
    /// Where it was seen.
    pub sources: BTreeSet<HostSource>,
    /// DNS record types asked for.
    pub qtypes: BTreeSet<String>,
    /// Ports seen (proxy connections).
    pub ports: BTreeSet<u16>,
    /// How often.
    pub count: u32,
}

/// A socket peer the command connected or bound to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SocketNode {
    /// Successful connects/binds.
    pub ok: u32,
    /// Failed ones.
    pub failed: u32,
    /// `connect` or `bind`.
    pub kind: String,
}

/// A program the command ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExecNode {
    /// How often it was run.
    pub count: u32,
    /// How often that failed.
    pub failed: u32,
    /// The first argument vector seen.
    pub argv: Vec<String>,
}

/// A message to the model.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A traced event and the observations it amounts to.
    Event {
        /// The event.
        event: Box<Event>,
        /// Its observations (see [`super::observe::classify`]).
        observations: Vec<Observation>,
    },
    /// A host name seen by the proxy.
    ProxyHost {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// The tracer's counters.
    Counters {
        /// Events produced.
        events: u64,
        /// Events lost.
        dropped: u64,
    },
    /// The command ended.
    Finished {
        /// Its exit code.
        exit_code: i32,
    },
}

/// File observations by canonical path: a hash map (one lookup per event, which is
/// what a trace of a million events needs; a tree keyed by paths pays a pointer chase
/// per comparison), iterated and serialized in path order. Keyed by the path's bytes
/// with a cheap hash ([`PathMap`]): `Path`'s own `Hash` walks components.
#[derive(Debug, Clone, Default)]
pub struct Files {
    map: PathMap<PathNode>,
}

impl Files {
    /// The observations of one path.
    pub fn get(&self, path: &Path) -> Option<&PathNode> {
        self.map.get(path)
    }

    /// Is the path observed?
    pub fn contains_key(&self, path: &Path) -> bool {
        self.map.contains_key(path)
    }

    /// Paths observed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Nothing observed?
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every path and its observations, in path order.
    pub fn iter(&self) -> std::vec::IntoIter<(&PathBuf, &PathNode)> {
        let mut all: Vec<(&PathBuf, &PathNode)> = self.map.iter().collect();
        // Keys are unique, so an unstable sort gives the one order there is.
        all.sort_unstable_by(|(a, _), (b, _)| path_order(a, b));
        all.into_iter()
    }

    /// Every path and its observations, in no particular order (without the sort
    /// [`Files::iter`] pays for).
    pub fn unordered(&self) -> impl Iterator<Item = (&PathBuf, &PathNode)> {
        self.map.iter()
    }

    /// Every path, in order.
    pub fn keys(&self) -> impl Iterator<Item = &PathBuf> {
        self.iter().map(|(p, _)| p)
    }

    fn entry(&mut self, path: PathBuf) -> &mut PathNode {
        self.map.entry_or_insert_with(path, PathNode::default)
    }
}

/// `Path`'s order (component by component) for the normal-form paths the model holds:
/// the bytes compared with `/` ranked first, so sorting is a byte comparison instead
/// of parsing components at every step (and allocates nothing).
pub(crate) fn path_order(a: &Path, b: &Path) -> Ordering {
    let (a, b) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    let rank = |c: u8| if c == b'/' { 0 } else { c };
    match first_difference(a, b) {
        Some(i) => rank(a[i]).cmp(&rank(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

/// Where two byte strings first differ (within the shorter one's length), comparing
/// eight bytes at a time: sorted paths share long prefixes.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let n = a.len().min(b.len());
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let mut i = 0;
    while i + 8 <= n {
        let diff = word(a, i) ^ word(b, i);
        if diff != 0 {
            // Little-endian: the lowest set bit is in the first differing byte.
            return Some(i + diff.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    (i..n).find(|&j| a[j] != b[j])
}

impl<'a> IntoIterator for &'a Files {
    type Item = (&'a PathBuf, &'a PathNode);
    type IntoIter = std::vec::IntoIter<(&'a PathBuf, &'a PathNode)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Serialize for Files {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (path, node) in self.iter() {
            map.serialize_entry(path, node)?;
        }
        map.end()
    }
}

/// What a learn has seen so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LearnModel {
    /// What learning happens against.
    #[serde(skip)]
    pub ctx: LearnContext,
    /// File observations by canonical path.
    pub files: Files,
    /// Programs run.
    pub execs: BTreeMap<PathBuf, ExecNode>,
    /// Host names.
    pub hosts: BTreeMap<String, HostNode>,
    /// Socket peers (display form).
    pub sockets: BTreeMap<String, SocketNode>,
    /// Connects and binds (tried or made) of network sockets: every family but unix
    /// and netlink, which `network.block` leaves alone.
    pub network_sockets: u64,
    /// Events received.
    pub events: u64,
    /// Events the tracer lost.
    pub dropped: u64,
    /// Processes seen.
    pub processes: u64,
    /// The command's exit code, once it ended.
    pub exit_code: Option<i32>,
}

fn remember<T: Ord>(set: &mut BTreeSet<T>, value: T) {
    if set.len() < MAX_DETAIL {
        set.insert(value);
    }
}

/// How a socket address is shown.
pub fn socket_label(addr: &SockAddr) -> String {
    match addr {
        SockAddr::Inet {
            ip: std::net::IpAddr::V6(ip),
            port,
        } => format!("[{ip}]:{port}"),
        SockAddr::Inet { ip, port } => format!("{ip}:{port}"),
        SockAddr::Unix { path } => format!("unix:{}", path.display()),
        SockAddr::AbstractUnix { name } => format!("unix:@{name}"),
        SockAddr::Other { family } => format!("family {family}"),
    }
}

impl LearnModel {
    /// An empty model.
    pub fn new(ctx: LearnContext) -> Self {
        LearnModel {
            ctx,
            ..LearnModel::default()
        }
    }

    /// Applies a message. No I/O.
    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Event {
                event,
                observations,
            } => {
                self.events += 1;
                for obs in observations {
                    self.observe(obs, event.exe.as_deref());
                }
                self.event(*event);
            }
            Msg::ProxyHost { host, port } => {
                let node = self.hosts.entry(host.to_ascii_lowercase()).or_default();
                node.sources.insert(HostSource::Proxy);
                node.ports.insert(port);
                node.count += 1;
            }
            Msg::Counters { events, dropped } => {
                self.dropped = dropped;
                self.events = self.events.max(events);
            }
            Msg::Finished { exit_code } => self.exit_code = Some(exit_code),
        }
    }

    /// Records one observation of an event whose program is `exe`.
    fn observe(&mut self, obs: Observation, exe: Option<&Path>) {
        let node = self.files.entry(obs.path);
        node.dir |= obs.dir;
        if obs.result >= 0 {
            node.ok.insert(obs.need);
            node.ok_count += 1;
        } else {
            node.failed.insert(obs.need);
            node.failed_count += 1;
            node.last_errno = Some(-obs.result);
        }
        let fate = (obs.result >= 0)
            .then_some(obs.need)
            .filter(|n| matches!(n, Need::Create | Need::Delete))
            .zip(obs.entry.clone());
        if let Some(entry) = obs.entry {
            remember(&mut node.entries, entry);
        }
        remember(&mut node.pids, obs.pid);
        // Copied only when new: most accesses to a path are by a program seen before.
        if let Some(exe) = exe
            && node.exes.len() < MAX_DETAIL
            && !node.exes.contains(exe)
        {
            node.exes.insert(exe.to_path_buf());
        }
        // What became of the entry: created (when nothing before showed it existed),
        // or removed.
        // (A removal is only noted on a path seen before: `rm -r` of a tree it never
        // opened adds no paths.)
        match fate {
            Some((Need::Create, entry)) => {
                let node = self.files.entry(entry);
                if node.ok_count == 0 && !node.removed {
                    node.created = true;
                }
            }
            Some((_, entry)) => {
                if let Some(node) = self.files.map.get_mut(&entry) {
                    node.removed = true;
                }
            }
            None => {}
        }
    }

    fn event(&mut self, event: Event) {
        match event.kind {
            EventKind::Exec { path, argv, result } => {
                let node = self.execs.entry(path).or_default();
                node.count += 1;
                if result < 0 {
                    node.failed += 1;
                }
                if node.argv.is_empty() {
                    node.argv = argv;
                }
            }
            EventKind::Dns { name, qtype, .. } => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name.is_empty() {
                    return;
                }
                let node = self.hosts.entry(name).or_default();
                node.sources.insert(HostSource::Dns);
                node.qtypes.insert(qtype);
                node.count += 1;
            }
            EventKind::Connect { addr, result } => self.socket("connect", &addr, result),
            EventKind::Bind { addr, result } => self.socket("bind", &addr, result),
            EventKind::ProcessStart { .. } => self.processes += 1,
            _ => {}
        }
    }
}

impl LearnModel {
    /// Did the command use the network (a DNS question, a host through the proxy, a
    /// connect or bind of a network socket, whether it worked or not)? When it did
    /// not, the suggested profile blocks the network.
    pub fn network_used(&self) -> bool {
        !self.hosts.is_empty() || self.network_sockets > 0
    }

    fn socket(&mut self, kind: &str, addr: &SockAddr, result: i32) {
        // AF_UNIX (an unnamed socket) and AF_NETLINK.
        let local = match addr {
            SockAddr::Unix { .. } | SockAddr::AbstractUnix { .. } => true,
            SockAddr::Other { family } => matches!(family, 1 | 16),
            SockAddr::Inet { .. } => false,
        };
        if !local {
            self.network_sockets += 1;
        }
        let node = self
            .sockets
            .entry(format!("{kind} {}", socket_label(addr)))
            .or_default();
        node.kind = kind.to_string();
        if result >= 0 || result == -libc_einprogress() {
            node.ok += 1;
        } else {
            node.failed += 1;
        }
    }
}

/// EINPROGRESS on Linux (a non-blocking connect under way counts as made).
const fn libc_einprogress() -> i32 {
    115
}

#[cfg(test)]
mod tests {
    use super::*;
    use nono_tracer::event::FileOp;

    fn read_by(exe: &str, pid: i32, path: &str) -> Msg {
        let event = Event {
            seq: 0,
            time_ns: 0,
            pid,
            ppid: 1,
            exe: Some(exe.into()),
            kind: EventKind::File {
                op: FileOp::Read,
                path: path.into(),
                path2: None,
                result: 0,
            },
        };
        let observations =
            super::super::observe::classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
        Msg::Event {
            event: Box::new(event),
            observations,
        }
    }

    fn file_event(op: FileOp, path: &str, result: i32) -> Msg {
        let event = Event {
            seq: 0,
            time_ns: 0,
            pid: 7,
            ppid: 1,
            exe: Some("/bin/p".into()),
            kind: EventKind::File {
                op,
                path: path.into(),
                path2: None,
                result,
            },
        };
        let observations =
            super::super::observe::classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
        Msg::Event {
            event: Box::new(event),
            observations,
        }
    }

    /// A create refused in a directory the safety net withholds creating from is
    /// explained; other failures, and sensitive paths, are not.
    #[test]
    fn refusals_of_the_safety_net_are_explained() {
        let ctx = LearnContext {
            home: "/h".into(),
            sensitive: vec![SensitivePath {
                path: "/h/.ssh".into(),
                label: "group `deny_credentials`".into(),
            }],
            net_no_create: vec![
                NoCreateDir {
                    dir: "/h".into(),
                    missing: vec!["/h/.aws".into(), "/h/.config/gh".into()],
                    count: 5,
                    not_hidden: false,
                },
                NoCreateDir {
                    dir: "/".into(),
                    missing: vec!["/h/.aws".into()],
                    count: 5,
                    not_hidden: false,
                },
            ],
            ..LearnContext::default()
        };
        let mut model = LearnModel::new(ctx);
        model.update(file_event(FileOp::Write, "/h/out.txt", -13));
        model.update(file_event(FileOp::Mkdir, "/newdir", -13));
        model.update(file_event(FileOp::Write, "/h/src/x", -13));
        model.update(file_event(FileOp::Write, "/h/missing", -2));
        model.update(file_event(FileOp::Read, "/h/.ssh/id", -13));
        let why = |path: &str| {
            let node = model.files.get(Path::new(path)).expect("observed");
            model.ctx.net_refusal(Path::new(path), node)
        };
        assert_eq!(
            why("/h/out.txt").as_deref(),
            Some(
                "refused by the safety net (~ holds withheld names that do not exist yet: \
                 ~/.aws, ~/.config/gh, … 5 in all); create the entry before learning, learn \
                 in a subdirectory, or use --no-safety-net"
            )
        );
        assert!(
            why("/")
                .unwrap()
                .starts_with("refused by the safety net (/ is on the way to withheld names")
        );
        assert_eq!(why("/h/src/x"), None);
        assert_eq!(why("/h/missing"), None);
        assert_eq!(why("/h/.ssh/id"), None);
        let summary = super::super::output::summary(&model, &[]);
        assert!(
            summary.contains("REFUSED BY THE SAFETY NET (2)\n  /  — refused")
                && summary.contains("\n  /h/out.txt  — refused by the safety net (~ holds"),
            "{summary}"
        );
    }

    #[test]
    fn a_path_remembers_the_programs_of_its_events_up_to_the_limit() {
        let mut model = LearnModel::default();
        for i in 0..40 {
            model.update(read_by(&format!("/bin/p{:02}", i % 20), i, "/etc/x"));
        }
        model.update(read_by("/bin/p00", 99, "/etc/x/"));
        let node = model.files.get(Path::new("/etc/x")).expect("observed");
        assert_eq!(node.ok_count, 41, "two spellings of one path are one node");
        let exes: Vec<String> = node.exes.iter().map(|p| p.display().to_string()).collect();
        let first: Vec<String> = (0..MAX_DETAIL).map(|i| format!("/bin/p{i:02}")).collect();
        assert_eq!(exes, first);
        assert_eq!(node.pids.len(), MAX_DETAIL);
    }

    #[test]
    fn files_iterate_in_the_order_paths_compare() {
        let paths = [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/a-b/c",
            "/ab",
            "/a/b.c",
            "/a/b/c",
            "/a0",
            "/b",
            "/a b",
            "/A",
            "/é",
            "/a/\u{7f}",
            "/a/.hidden",
            "/usr/share/doc/a",
            "/usr/share/doc/a/b",
            "/usr/share/doc-x",
            "/usr/share/docs",
            "/usr/share/doc.d/z",
            "/usr/share/doc",
        ];
        for x in paths {
            for y in paths {
                let (a, b) = (Path::new(x), Path::new(y));
                assert_eq!(path_order(a, b), a.cmp(b), "{x} vs {y}");
            }
        }
        let mut files = Files::default();
        for p in paths.iter().rev() {
            files.entry(PathBuf::from(p));
        }
        let mut sorted: Vec<&str> = paths.to_vec();
        sorted.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
        let got: Vec<&str> = files.keys().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(got, sorted);
    }
}
