//! A cache of plans, so that `nono run` and `nono wrap` do not resolve the same ~115
//! denied paths on every start.
//!
//! A plan is a function of three things: the planner's inputs (each grant's path,
//! kind, access and strictness, each denied path, [`PlanOptions`]), the planner's code,
//! and what the file system answered. The cache stores, next to the plan, everything
//! that was asked of the kernel while making it — a [`Journal`] — and a cached plan is
//! used only when the inputs are byte-for-byte the same, the binary is the same file,
//! and every observation still holds:
//!
//! * **lookups** (`lstat`, and `readlink` of a symlink) are asked again and must give
//!   the same kind, errno or link target;
//! * **identities** (`stat`: device and inode, used to see through bind mounts) are
//!   asked again and must be equal;
//! * **`/proc/self/mountinfo`** is read again and must be equal, byte for byte;
//! * **listed directories** are not listed again (that is most of the cost): their
//!   `lstat` stamp — device, inode, mode, owner, link count, size, modification and
//!   change times — must be equal. Every change to a directory's entries (create,
//!   remove, rename, link) and to its mode or owner updates its change time, which
//!   no one can set by hand. A stamp is taken *before* the listing, so a change racing
//!   with it shows up as a different stamp later. Two limits keep the change time
//!   honest: a directory changed less than `min_age` (2 s) before it was listed could
//!   be changed again within the same timestamp tick, so such a plan is not stored
//!   (the next run stores it); and a directory on a file system whose change times are
//!   not known to be maintained locally (network and FUSE file systems, `/proc`) makes
//!   the plan uncacheable.
//!
//! Anything else — a missing, truncated, corrupt or foreign file, a file or directory
//! that is not private to this user, a symlink, a different binary — means "plan
//! afresh". A loaded plan is also checked against the planner's invariant (no rule on
//! or inside a denied path; a directory rule holding a denied path only where masking
//! is allowed), so even a well-formed but hostile file cannot widen a sandbox.
//!
//! The cache lives in nono's state directory (`$XDG_STATE_HOME/nono/plans`, mode 0700,
//! files 0600), which every sandbox denies, so a sandboxed command can neither read nor
//! plant a plan. It holds at most [`MAX_ENTRIES`] plans, one per set of inputs.

use std::ffi::OsString;
use std::hash::Hasher;
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    CachingFs, Carve, EntryKind, FsView, Mask, Node, Plan, PlanError, PlanOptions, PlannedDeny,
    Rule, SkipReason, Skipped, is_within, plan_with,
};
use crate::capability::{Access, CapabilitySet, PathKind};

/// At most this many plans are kept; the oldest go first.
pub const MAX_ENTRIES: usize = 32;
/// How long ago a listed directory must have changed for its stamp to be trusted.
pub const MIN_AGE: Duration = Duration::from_secs(2);
/// A cache file larger than this is not read.
const MAX_FILE: u64 = 16 << 20;
const MAGIC: &[u8; 8] = b"NONOPLAN";
const FORMAT: u32 = 3;

/// Where a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A cached plan whose every observation still holds.
    Hit,
    /// Planned afresh and stored.
    Stored,
    /// Planned afresh and not stored, for this reason.
    NotStored(&'static str),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Hit => f.write_str("plan cache: hit"),
            Outcome::Stored => f.write_str("plan cache: miss, stored"),
            Outcome::NotStored(why) => write!(f, "plan cache: miss, not stored ({why})"),
        }
    }
}

/// Plans, cached in a private directory.
#[derive(Debug, Clone)]
pub struct PlanCache {
    dir: PathBuf,
    min_age: Duration,
}

impl PlanCache {
    /// The cache in nono's state directory (`<state_dir>/plans`).
    pub fn new(state_dir: &Path) -> Self {
        PlanCache {
            dir: state_dir.join("plans"),
            min_age: MIN_AGE,
        }
    }

    /// The same, trusting directories changed up to `min_age` ago (tests).
    pub fn with_min_age(state_dir: &Path, min_age: Duration) -> Self {
        PlanCache {
            min_age,
            ..PlanCache::new(state_dir)
        }
    }

    /// The directory holding the cached plans.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Plans `caps` like [`plan_with`] on the real file system, from the cache when a
    /// cached plan for the same inputs still holds. The plan is always equal to the one
    /// [`plan_with`] would make now (see the module documentation for how that is
    /// checked). Errors are never cached.
    pub fn plan(
        &self,
        caps: &CapabilitySet,
        options: &PlanOptions,
    ) -> Result<(Plan, Outcome), PlanError> {
        let key = key(caps, options);
        let name = slot_name("plan-", &key);
        if let Some(plan) = self.load(&name, &key, caps, options) {
            return Ok((plan, Outcome::Hit));
        }
        let fs = CachingFs::recording(self.min_age);
        let plan = plan_with(caps, &fs, options)?;
        let journal = fs
            .into_journal()
            .expect("a recording CachingFs keeps a journal");
        if let Some(why) = journal.unfit {
            return Ok((plan, Outcome::NotStored(why)));
        }
        let outcome = match self.store(&name, &key, &journal, caps, &plan) {
            Ok(()) => Outcome::Stored,
            Err(why) => Outcome::NotStored(why),
        };
        Ok((plan, outcome))
    }

    fn load(
        &self,
        name: &str,
        key: &[u8],
        caps: &CapabilitySet,
        options: &PlanOptions,
    ) -> Option<Plan> {
        self.read_entry(name, key, |r| {
            if !Journal::holds(r)? {
                return None;
            }
            decode_plan(r, caps)
        })
        .filter(|plan| sound(plan, options))
    }

    fn store(
        &self,
        name: &str,
        key: &[u8],
        journal: &Journal,
        caps: &CapabilitySet,
        plan: &Plan,
    ) -> Result<(), &'static str> {
        self.write_entry(name, key, |w| {
            journal.encode(w);
            encode_plan(w, caps, plan).ok_or("the plan does not refer back to its inputs")
        })
    }

    /// How long ago a directory must have changed for its stamp to be trusted.
    pub(crate) fn min_age(&self) -> Duration {
        self.min_age
    }

    /// Reads the entry `name` when it is intact, private to this user, and was made
    /// for `key` by this binary; `decode` must consume the rest exactly.
    pub(crate) fn read_entry<T>(
        &self,
        name: &str,
        key: &[u8],
        decode: impl FnOnce(&mut Reader<'_>) -> Option<T>,
    ) -> Option<T> {
        let bytes = read_private(&self.dir, name)?;
        let body = checked(&bytes)?;
        let mut r = Reader::new(body);
        if r.take(MAGIC.len())? != MAGIC
            || r.u32()? != FORMAT
            || r.bytes()? != build_id()?
            || r.bytes()? != key
        {
            return None;
        }
        let value = decode(&mut r)?;
        r.at_end().then_some(value)
    }

    /// Writes the entry `name` for `key` atomically (a private temporary file,
    /// renamed), with what `encode` writes after the header.
    pub(crate) fn write_entry(
        &self,
        name: &str,
        key: &[u8],
        encode: impl FnOnce(&mut Writer) -> Result<(), &'static str>,
    ) -> Result<(), &'static str> {
        let build = build_id().ok_or("the binary cannot be identified")?;
        let mut w = Writer::default();
        w.raw(MAGIC);
        w.u32(FORMAT);
        w.bytes(build);
        w.bytes(key);
        encode(&mut w)?;
        let mut bytes = w.0;
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        if !private_dir(&self.dir, true) {
            return Err("the cache directory is not private to this user");
        }
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let target = self.dir.join(name);
        // Replacing an entry leaves the number of entries as it was: nothing to evict.
        let replacing = std::fs::symlink_metadata(&target).is_ok();
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| std::fs::rename(&tmp, &target));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
            return Err("the cache file cannot be written");
        }
        if !replacing {
            self.evict();
        }
        Ok(())
    }

    /// Keeps the newest [`MAX_ENTRIES`] plans.
    fn evict(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(SystemTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, e.path()))
            })
            .collect();
        if files.len() <= MAX_ENTRIES {
            return;
        }
        files.sort();
        for (_, path) in &files[..files.len() - MAX_ENTRIES] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The binary doing the planning: its version and its file (device, inode, size,
/// modification and change times). A rebuilt planner never trusts an older one's
/// plans. Asked once per process.
fn build_id() -> Option<&'static [u8]> {
    static BUILD: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    BUILD
        .get_or_init(|| {
            let meta = std::fs::metadata("/proc/self/exe").ok()?;
            let mut w = Writer::default();
            w.bytes(env!("CARGO_PKG_VERSION").as_bytes());
            for n in [
                meta.dev(),
                meta.ino(),
                meta.size(),
                meta.mtime() as u64,
                meta.mtime_nsec() as u64,
                meta.ctime() as u64,
                meta.ctime_nsec() as u64,
            ] {
                w.u64(n);
            }
            Some(w.0)
        })
        .as_deref()
}

/// Everything the planner takes from its caller, exactly (the binary is checked by
/// [`PlanCache::read_entry`]). Sources are not part of it:
/// the planner only copies them, and a cached plan takes them from the current
/// capability set.
fn key(caps: &CapabilitySet, options: &PlanOptions) -> Vec<u8> {
    let mut w = Writer::default();
    w.u32(caps.grants.len() as u32);
    for g in &caps.grants {
        w.path(&g.path);
        w.u8(match g.kind {
            PathKind::Dir => 0,
            PathKind::File => 1,
            PathKind::Any => 2,
        });
        w.u8(access_code(g.access));
        w.u8(g.strict as u8);
    }
    w.u32(caps.denies.len() as u32);
    for d in &caps.denies {
        w.path(&d.path);
    }
    w.u8(options.mask_system_denies as u8);
    w.u8(options.mask_all_denies as u8);
    match &options.home {
        Some(home) => {
            w.u8(1);
            w.path(home);
        }
        None => w.u8(0),
    }
    w.0
}

/// The file for `key`, made by this binary (two versions of nono side by side keep
/// separate entries instead of replacing each other's).
pub(crate) fn slot_name(prefix: &str, key: &[u8]) -> String {
    let mut named = build_id().unwrap_or_default().to_vec();
    named.extend_from_slice(key);
    format!("{prefix}{:016x}", checksum(&named))
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(bytes);
    // Length too, so that trailing zero bytes change the sum.
    h.write(&(bytes.len() as u64).to_le_bytes());
    h.finish()
}

/// The body of a cache file whose trailing checksum matches.
fn checked(bytes: &[u8]) -> Option<&[u8]> {
    let split = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(split);
    (checksum(body) == u64::from_le_bytes(sum.try_into().ok()?)).then_some(body)
}

/// Is `dir` a real directory (not a symlink), owned by us and closed to everyone else?
/// With `create`, makes it (and its parents) first.
fn private_dir(dir: &Path, create: bool) -> bool {
    let private =
        |m: std::fs::Metadata| m.file_type().is_dir() && m.uid() == euid() && m.mode() & 0o077 == 0;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => private(meta),
        Err(_) if create => {
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir);
            std::fs::symlink_metadata(dir).is_ok_and(private)
        }
        Err(_) => false,
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The contents of `dir/name` when the directory and the file are private to this
/// user, the file is a regular file (not a symlink, FIFO or device) of a sane size.
fn read_private(dir: &Path, name: &str) -> Option<Vec<u8>> {
    if !private_dir(dir, false) {
        return None;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.join(name))
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.file_type().is_file()
        || meta.uid() != euid()
        || meta.mode() & 0o077 != 0
        || meta.len() > MAX_FILE
    {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    Read::by_ref(&mut file)
        .take(MAX_FILE)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

// ---------------------------------------------------------------------------
// The journal.
// ---------------------------------------------------------------------------

/// What a directory looked like: `lstat`'s device, inode, mode, owner, group, link
/// count, size, and modification and change times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp([u64; 11]);

impl Stamp {
    /// The stamp of `path` (not following a final symlink).
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(Stamp([
            m.dev(),
            m.ino(),
            u64::from(m.mode()),
            u64::from(m.uid()),
            u64::from(m.gid()),
            m.nlink(),
            m.size(),
            m.mtime() as u64,
            m.mtime_nsec() as u64,
            m.ctime() as u64,
            m.ctime_nsec() as u64,
        ]))
    }

    /// May a stamp taken at `now` vouch for the directory `dir`: did it last change
    /// at least `min_age` before, on a file system whose change times are trusted?
    /// Otherwise, why not.
    pub(crate) fn vouches(
        &self,
        dir: &Path,
        now: SystemTime,
        min_age: Duration,
    ) -> Result<(), &'static str> {
        let settled = self
            .changed()
            .and_then(|changed| changed.checked_add(min_age))
            .is_some_and(|settled| settled <= now);
        if !settled {
            Err("a listed directory changed too recently")
        } else if !trusted_file_system(dir) {
            Err("a listed directory is on a file system without trusted change times")
        } else {
            Ok(())
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        for n in self.0 {
            w.u64(n);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Option<Stamp> {
        let mut stamp = [0u64; 11];
        for n in &mut stamp {
            *n = r.u64()?;
        }
        Some(Stamp(stamp))
    }

    /// The change time, if it is after 1970.
    fn changed(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.0[9] as i64).ok()?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs) + Duration::from_nanos(self.0[10]))
    }
}

/// File systems whose directories' change times are kept by the local kernel on every
/// change of their entries. Anything else (NFS, SMB, FUSE, 9p, `/proc`, `/sys`) is not
/// vouched for by a stamp.
fn trusted_file_system(path: &Path) -> bool {
    use nix::sys::statfs::{
        BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, F2FS_SUPER_MAGIC, FsType, OVERLAYFS_SUPER_MAGIC,
        TMPFS_MAGIC, XFS_SUPER_MAGIC, statfs,
    };
    // ext2 and ext3 share ext4's magic; devtmpfs reports tmpfs's or ramfs's.
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    const ZFS_MAGIC: FsType = FsType(0x2fc1_2fc1);
    const BCACHEFS_MAGIC: FsType = FsType(0xca45_1a4e);
    statfs(path).is_ok_and(|stat| {
        [
            EXT4_SUPER_MAGIC,
            XFS_SUPER_MAGIC,
            BTRFS_SUPER_MAGIC,
            TMPFS_MAGIC,
            F2FS_SUPER_MAGIC,
            OVERLAYFS_SUPER_MAGIC,
            RAMFS_MAGIC,
            ZFS_MAGIC,
            BCACHEFS_MAGIC,
        ]
        .contains(&stat.filesystem_type())
    })
}

/// Everything the planner asked the kernel while making one plan (see the module
/// documentation), and whether a plan made from it may be stored.
#[derive(Debug)]
pub(crate) struct Journal {
    min_age: Duration,
    lookups: Vec<(PathBuf, Node)>,
    listings: Vec<(PathBuf, Stamp)>,
    identities: Vec<(PathBuf, Option<(u64, u64)>)>,
    mountinfo: Option<Vec<u8>>,
    /// Why the plan must not be stored, when it must not.
    pub(crate) unfit: Option<&'static str>,
}

impl Journal {
    pub(crate) fn new(min_age: Duration) -> Self {
        Journal {
            min_age,
            lookups: Vec::new(),
            listings: Vec::new(),
            identities: Vec::new(),
            mountinfo: None,
            unfit: None,
        }
    }

    pub(super) fn looked_up(&mut self, path: &Path, node: &Node) {
        self.lookups.push((path.to_path_buf(), node.clone()));
    }

    pub(super) fn identified(&mut self, path: &Path, id: Option<(u64, u64)>) {
        self.identities.push((path.to_path_buf(), id));
    }

    pub(super) fn set_mountinfo(&mut self, mountinfo: Option<Vec<u8>>) {
        self.mountinfo = mountinfo;
    }

    /// Called before a directory is listed.
    pub(super) fn listing(&mut self, dir: &Path) {
        if self.unfit.is_some() {
            return;
        }
        let now = SystemTime::now();
        let Some(stamp) = Stamp::of(dir) else {
            self.unfit = Some("a listed directory cannot be stamped");
            return;
        };
        match stamp.vouches(dir, now, self.min_age) {
            Ok(()) => self.listings.push((dir.to_path_buf(), stamp)),
            Err(why) => self.unfit = Some(why),
        }
    }

    fn encode(&self, w: &mut Writer) {
        match &self.mountinfo {
            Some(text) => {
                w.u8(1);
                w.bytes(text);
            }
            None => w.u8(0),
        }
        w.u32(self.listings.len() as u32);
        for (dir, stamp) in &self.listings {
            w.path(dir);
            stamp.encode(w);
        }
        w.u32(self.lookups.len() as u32);
        for (path, node) in &self.lookups {
            w.path(path);
            match node {
                Node::Missing(errno) => {
                    w.u8(0);
                    w.u32(*errno as u32);
                }
                Node::Dir => w.u8(1),
                Node::File => w.u8(2),
                Node::Symlink(target) => {
                    w.u8(3);
                    w.path(target);
                }
            }
        }
        w.u32(self.identities.len() as u32);
        for (path, id) in &self.identities {
            w.path(path);
            match id {
                Some((dev, ino)) => {
                    w.u8(1);
                    w.u64(*dev);
                    w.u64(*ino);
                }
                None => w.u8(0),
            }
        }
    }

    /// Does every observation of the journal [`Journal::encode`] wrote at `r` still
    /// hold? Each is asked again as it is read, cheapest kind first (the order they are
    /// written in), and the first that no longer holds ends the check: `Some(false)`.
    /// `None` when the journal is malformed.
    fn holds(r: &mut Reader<'_>) -> Option<bool> {
        let mountinfo = match r.u8()? {
            0 => None,
            1 => Some(r.bytes()?),
            _ => return None,
        };
        if super::read_mountinfo().as_deref() != mountinfo {
            return Some(false);
        }
        for _ in 0..r.count()? {
            let dir = r.path_ref()?;
            if Stamp::of(dir) != Some(Stamp::decode(r)?) {
                return Some(false);
            }
        }
        for _ in 0..r.count()? {
            let path = r.path_ref()?;
            let node = match r.u8()? {
                0 => Node::Missing(r.u32()? as i32),
                1 => Node::Dir,
                2 => Node::File,
                3 => Node::Symlink(r.path()?),
                _ => return None,
            };
            if super::lookup(path) != node {
                return Some(false);
            }
        }
        for _ in 0..r.count()? {
            let path = r.path_ref()?;
            let id = match r.u8()? {
                0 => None,
                1 => Some((r.u64()?, r.u64()?)),
                _ => return None,
            };
            if super::RealFs.identity(path) != id {
                return Some(false);
            }
        }
        Some(true)
    }
}

// ---------------------------------------------------------------------------
// Plans, by reference to their inputs.
// ---------------------------------------------------------------------------

fn access_code(access: Access) -> u8 {
    match access {
        Access::Read => 0,
        Access::Write => 1,
        Access::ReadWrite => 2,
    }
}

/// Writes `plan` with every source, and every denied path the planner copied, as an
/// index into `caps` (grants) or into the plan's own denials. `None` when something
/// cannot be expressed so (it always can for a plan [`plan_with`] made from `caps`).
fn encode_plan(w: &mut Writer, caps: &CapabilitySet, plan: &Plan) -> Option<()> {
    let grant_index = |rule_source: &crate::capability::Source, access: Access| {
        caps.grants
            .iter()
            .position(|g| g.source == *rule_source && g.access == access)
            .map(|i| i as u32)
    };
    let deny_index = |path: &Path, source: &crate::capability::Source| {
        plan.denies
            .iter()
            .position(|d| d.path == path && d.source == *source)
            .map(|i| i as u32)
    };
    // Denials: the first ones are the capability set's, in order, with their canonical
    // form; the rest are aliases (a denial seen under a bind mount's path).
    if plan.denies.len() < caps.denies.len() {
        return None;
    }
    for (planned, deny) in plan.denies.iter().zip(&caps.denies) {
        if planned.path != deny.path || planned.source != deny.source {
            return None;
        }
        w.path(&planned.canonical);
    }
    let aliases = &plan.denies[caps.denies.len()..];
    w.u32(aliases.len() as u32);
    for alias in aliases {
        let of = caps
            .denies
            .iter()
            .position(|d| d.path == alias.path && d.source == alias.source)?;
        w.u32(of as u32);
        w.path(&alias.canonical);
    }
    w.u32(plan.rules.len() as u32);
    for rule in &plan.rules {
        w.path(&rule.path);
        w.u8(match rule.kind {
            EntryKind::Dir => 0,
            EntryKind::File => 1,
        });
        w.u32(grant_index(&rule.source, rule.access)?);
        match &rule.carved {
            Some(carve) => {
                w.u8(if rule.list_only { 2 } else { 1 });
                w.path(&carve.granted);
                w.path(&carve.denied);
            }
            None => w.u8(0),
        }
    }
    w.u32(plan.skipped.len() as u32);
    for skip in &plan.skipped {
        let grant = caps.grants.iter().position(|g| {
            g.path == skip.path && g.access == skip.access && g.source == skip.source
        })?;
        w.u32(grant as u32);
        match &skip.reason {
            SkipReason::Missing => w.u8(0),
            SkipReason::Denied {
                denied,
                deny_source,
            } => {
                w.u8(1);
                w.u32(deny_index(denied, deny_source)?);
            }
        }
    }
    w.u32(plan.masks.len() as u32);
    for mask in &plan.masks {
        w.path(&mask.path);
        w.u8(mask.dir as u8);
        let of = plan.denies.iter().position(|d| d.source == mask.source)?;
        w.u32(of as u32);
    }
    Some(())
}

fn decode_plan(r: &mut Reader<'_>, caps: &CapabilitySet) -> Option<Plan> {
    let mut denies = Vec::with_capacity(caps.denies.len());
    for deny in &caps.denies {
        denies.push(PlannedDeny {
            path: deny.path.clone(),
            canonical: r.path()?,
            source: deny.source.clone(),
        });
    }
    for _ in 0..r.count()? {
        let deny = caps.denies.get(r.u32()? as usize)?;
        denies.push(PlannedDeny {
            path: deny.path.clone(),
            canonical: r.path()?,
            source: deny.source.clone(),
        });
    }
    // One shared source per grant, as the planner makes them.
    let mut sources: Vec<Option<Arc<crate::capability::Source>>> = vec![None; caps.grants.len()];
    let mut rules = Vec::new();
    for _ in 0..r.count()? {
        let path = r.path()?;
        let kind = match r.u8()? {
            0 => EntryKind::Dir,
            1 => EntryKind::File,
            _ => return None,
        };
        let index = r.u32()? as usize;
        let grant = caps.grants.get(index)?;
        let source = sources[index]
            .get_or_insert_with(|| Arc::new(grant.source.clone()))
            .clone();
        let tag = r.u8()?;
        let carved = match tag {
            0 => None,
            1 | 2 => Some(Arc::new(Carve {
                granted: r.path()?,
                denied: r.path()?,
            })),
            _ => return None,
        };
        rules.push(Rule {
            path,
            kind,
            access: grant.access,
            source,
            carved,
            list_only: tag == 2,
        });
    }
    let mut skipped = Vec::new();
    for _ in 0..r.count()? {
        let grant = caps.grants.get(r.u32()? as usize)?;
        let reason = match r.u8()? {
            0 => SkipReason::Missing,
            1 => {
                let deny = denies.get(r.u32()? as usize)?;
                SkipReason::Denied {
                    denied: deny.path.clone(),
                    deny_source: deny.source.clone(),
                }
            }
            _ => return None,
        };
        skipped.push(Skipped {
            path: grant.path.clone(),
            access: grant.access,
            source: grant.source.clone(),
            reason,
        });
    }
    let mut masks = Vec::new();
    for _ in 0..r.count()? {
        let path = r.path()?;
        let dir = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let deny = denies.get(r.u32()? as usize)?;
        masks.push(Mask {
            path,
            dir,
            source: deny.source.clone(),
        });
    }
    Some(Plan {
        rules,
        denies,
        skipped,
        masks,
    })
}

/// The planner's invariant, checked on a loaded plan: no rule on or inside a denied
/// path; a directory rule with a denied path below it only when it grants listing the
/// directory alone (a carved directory's `READ_DIR`).
fn sound(plan: &Plan, options: &PlanOptions) -> bool {
    plan.rules.iter().all(|rule| {
        plan.denies.iter().all(|deny| {
            if is_within(&rule.path, &deny.canonical) {
                return false;
            }
            if rule.kind == EntryKind::Dir && is_within(&deny.canonical, &rule.path) {
                // The learn safety net hides what exists under masks instead.
                if options.mask_all_denies && plan.masks.iter().any(|m| m.path == deny.canonical) {
                    return true;
                }
                return rule.list_only && rule.access != Access::Write;
            }
            true
        })
    })
}

// ---------------------------------------------------------------------------
// A little binary format: little-endian integers, length-prefixed byte strings.
// ---------------------------------------------------------------------------

#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    pub(crate) fn u8(&mut self, n: u8) {
        self.0.push(n);
    }
    pub(crate) fn u32(&mut self, n: u32) {
        self.raw(&n.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, n: u64) {
        self.raw(&n.to_le_bytes());
    }
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.u32(bytes.len() as u32);
        self.raw(bytes);
    }
    pub(crate) fn path(&mut self, path: &Path) {
        self.bytes(path.as_os_str().as_bytes());
    }
}

/// Reads what [`Writer`] wrote; every method returns `None` past the end.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items that each take at least one byte: no larger than what is left,
    /// so a corrupt count cannot make a huge allocation or a long loop.
    pub(crate) fn count(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= self.bytes.len()).then_some(n)
    }
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub(crate) fn path(&mut self) -> Option<PathBuf> {
        Some(PathBuf::from(OsString::from_vec(self.bytes()?.to_vec())))
    }
    /// A path, borrowed from the bytes read.
    pub(crate) fn path_ref(&mut self) -> Option<&'a Path> {
        Some(Path::new(std::ffi::OsStr::from_bytes(self.bytes()?)))
    }
    fn at_end(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests;
