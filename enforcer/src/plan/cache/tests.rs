//! The cache's defences: files that are damaged, planted, shared or hostile are never
//! trusted, and a plan is stored only when its observations can vouch for it.

use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;
use crate::capability::{PathDeny, PathGrant, Source};

fn source(name: &str) -> Source {
    Source::Group {
        group: name.into(),
        included_by: None,
    }
}

/// A capability set of `grants` (of any kind) and `denies`, each from a group of its own
/// name (built by the planner tests' builder).
fn caps(grants: &[(&Path, Access)], denies: &[&Path]) -> CapabilitySet {
    crate::plan::tests::caps(
        grants
            .iter()
            .map(|(path, access)| PathGrant {
                path: path.to_path_buf(),
                kind: PathKind::Any,
                access: *access,
                strict: false,
                source: source("grants"),
            })
            .collect(),
        denies
            .iter()
            .map(|path| PathDeny {
                path: path.to_path_buf(),
                source: source("denies"),
            })
            .collect(),
    )
}

/// A home directory granted read-write with `.ssh` and `.aws` denied (carved), and a
/// cache in a separate state directory that trusts fresh directories.
struct Fixture {
    _dir: tempfile::TempDir,
    home: PathBuf,
    state: PathBuf,
    caps: CapabilitySet,
    options: PlanOptions,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let base = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let home = base.join("home");
        for d in ["project", ".ssh", ".config"] {
            std::fs::create_dir_all(home.join(d)).expect("mkdir");
        }
        std::fs::write(home.join(".ssh/id_rsa"), "secret").expect("write");
        let caps = caps(
            &[(&home, Access::ReadWrite)],
            &[&home.join(".ssh"), &home.join(".aws")],
        );
        Fixture {
            _dir: dir,
            state: base.join("state"),
            options: PlanOptions {
                mask_system_denies: false,
                home: Some(home.clone()),
                mask_all_denies: false,
            },
            home,
            caps,
        }
    }

    fn cache(&self) -> PlanCache {
        PlanCache::with_min_age(&self.state, Duration::ZERO)
    }

    fn fresh(&self) -> Plan {
        plan_with(&self.caps, &CachingFs::new(), &self.options).expect("plan")
    }

    fn plan(&self) -> (Plan, Outcome) {
        self.cache().plan(&self.caps, &self.options).expect("plan")
    }

    /// The one cache file, after a run that stored it.
    fn slot(&self) -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.cache().dir())
            .expect("the cache directory exists")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "one cache file: {files:?}");
        files.pop().unwrap()
    }

    fn stored(&self) -> PathBuf {
        let (plan, outcome) = self.plan();
        assert_eq!(outcome, Outcome::Stored);
        assert_eq!(plan, self.fresh());
        let (_, outcome) = self.plan();
        assert_eq!(outcome, Outcome::Hit, "a stored plan is used");
        self.slot()
    }

    /// The next plan is made afresh (and equals a fresh plan).
    fn assert_not_trusted(&self, what: &str) {
        let (plan, outcome) = self.plan();
        assert_ne!(outcome, Outcome::Hit, "{what}: the cache file was trusted");
        assert_eq!(plan, self.fresh(), "{what}");
    }
}

fn write_private(path: &Path, bytes: &[u8]) {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn damaged_cache_files_are_ignored_and_replaced() {
    let f = Fixture::new();
    let slot = f.stored();
    let good = std::fs::read(&slot).expect("read");
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x40;
    let mut bigger_count = good.clone();
    bigger_count[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        (
            "garbage",
            b"not a plan at all, but long enough to have a checksum".to_vec(),
        ),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("one byte flipped", flipped),
        ("a huge length", bigger_count),
        ("trailing bytes", [good.as_slice(), b"x"].concat()),
        ("all zeros", vec![0; good.len()]),
    ];
    for (what, bytes) in cases {
        write_private(&slot, &bytes);
        f.assert_not_trusted(what);
        // The fresh plan replaced the damaged file.
        let (_, outcome) = f.plan();
        assert_eq!(outcome, Outcome::Hit, "{what}: replaced by a good file");
    }
}

#[test]
fn cache_files_not_private_to_the_user_are_ignored() {
    let f = Fixture::new();
    let slot = f.stored();
    let good = std::fs::read(&slot).expect("read");

    // Readable by others.
    std::fs::set_permissions(&slot, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    f.assert_not_trusted("mode 0644");

    // A symlink to a good file elsewhere.
    let elsewhere = f.home.join("project/plan");
    write_private(&elsewhere, &good);
    std::fs::remove_file(&slot).expect("rm");
    symlink(&elsewhere, &slot).expect("symlink");
    f.assert_not_trusted("a symlink");

    // A FIFO must not block the run.
    std::fs::remove_file(&slot).expect("rm");
    nix::unistd::mkfifo(&slot, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    f.assert_not_trusted("a FIFO");
    std::fs::remove_file(&slot).expect("rm");

    // A directory in its place.
    std::fs::create_dir(&slot).expect("mkdir");
    f.assert_not_trusted("a directory");
    std::fs::remove_dir(&slot).expect("rmdir");

    // The cache directory open to others: not read, not written.
    write_private(&slot, &good);
    let dir = f.cache().dir().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    f.assert_not_trusted("a cache directory with mode 0755");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");

    // The cache directory a symlink to a private directory holding a good file.
    let moved = f.state.join("moved");
    std::fs::rename(&dir, &moved).expect("rename");
    symlink(&moved, &dir).expect("symlink");
    f.assert_not_trusted("a symlinked cache directory");
}

#[test]
fn a_cache_file_owned_by_someone_else_is_ignored() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: giving a file to another user needs root (run the tests as root)");
        assert!(
            std::env::var_os("NONO_TEST_STRICT").is_none_or(|v| v != "1"),
            "NONO_TEST_STRICT=1 and this test cannot run: it needs root"
        );
        return;
    }
    let f = Fixture::new();
    let slot = f.stored();
    let nobody = nix::unistd::Uid::from_raw(65534);
    nix::unistd::chown(&slot, Some(nobody), None).expect("chown");
    f.assert_not_trusted("a file owned by nobody");
}

/// A file with a valid checksum, the right key and current observations, whose plan
/// grants the denied directory, is refused by the invariant check.
#[test]
fn a_well_formed_plan_that_grants_a_denied_path_is_refused() {
    let f = Fixture::new();
    let slot = f.stored();
    let cache = f.cache();
    let name = slot.file_name().unwrap().to_str().unwrap().to_string();
    let key = key(&f.caps, &f.options);
    let fs = CachingFs::recording(Duration::ZERO);
    let mut plan = plan_with(&f.caps, &fs, &f.options).expect("plan");
    let journal = fs.into_journal().expect("journal");
    let template = plan.rules[0].clone();
    plan.rules.push(Rule {
        path: f.home.join(".ssh"),
        kind: EntryKind::Dir,
        carved: None,
        list_only: false,
        ..template.clone()
    });
    cache
        .store(&name, &key, &journal, &f.caps, &plan)
        .expect("store");
    f.assert_not_trusted("a rule on a denied directory");

    // And a rule on the whole home, which holds the denied paths.
    plan.rules.pop();
    plan.rules.push(Rule {
        path: f.home.clone(),
        kind: EntryKind::Dir,
        carved: None,
        list_only: false,
        ..template
    });
    cache
        .store(&name, &key, &journal, &f.caps, &plan)
        .expect("store");
    f.assert_not_trusted("a rule above a denied directory");
}

#[test]
fn a_new_denied_path_or_a_changed_symlink_invalidates_the_plan() {
    let f = Fixture::new();
    f.stored();
    std::thread::sleep(Duration::from_millis(20));
    // A credentials directory that appears after the plan was cached, as a symlink
    // into a directory that was granted whole.
    std::fs::create_dir_all(f.home.join("project/aws")).expect("mkdir");
    symlink(f.home.join("project/aws"), f.home.join(".aws")).expect("symlink");
    let (plan, outcome) = f.plan();
    assert_ne!(outcome, Outcome::Hit);
    assert_eq!(plan, f.fresh());
    assert!(
        plan.rules
            .iter()
            .all(|r| !is_within(&f.home.join("project/aws"), &r.path)),
        "the symlink's target is carved out: {:#?}",
        plan.rules
    );
}

#[test]
fn recently_changed_directories_are_not_stored() {
    let f = Fixture::new();
    let cache = PlanCache::new(&f.state);
    let (plan, outcome) = cache.plan(&f.caps, &f.options).expect("plan");
    assert_eq!(plan, f.fresh());
    assert_eq!(
        outcome,
        Outcome::NotStored("a listed directory changed too recently")
    );
}

#[test]
fn directories_without_trusted_change_times_are_not_stored() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let kernel = Path::new("/proc/sys/kernel");
    let caps = caps(
        &[(kernel, Access::Read)],
        &[&kernel.join("nono-a"), &kernel.join("nono-b")],
    );
    let cache = PlanCache::with_min_age(dir.path(), Duration::ZERO);
    let (_, outcome) = cache.plan(&caps, &PlanOptions::default()).expect("plan");
    assert_eq!(
        outcome,
        Outcome::NotStored("a listed directory is on a file system without trusted change times")
    );
}

#[test]
fn at_most_max_entries_plans_are_kept() {
    let f = Fixture::new();
    f.stored();
    let dir = f.cache().dir().to_path_buf();
    for i in 0..MAX_ENTRIES + 5 {
        write_private(&dir.join(format!("{i:016x}")), b"old");
    }
    f.cache().evict();
    assert_eq!(std::fs::read_dir(&dir).expect("list").count(), MAX_ENTRIES);
}
