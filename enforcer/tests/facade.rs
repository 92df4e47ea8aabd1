//! `nono_enforcer::Sandbox`, the facade the commands and bindings call: from a profile
//! name or a capability set to a command run under the sandbox. Real kernel, no mocks.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use nono_enforcer::capability::{GrantFlag, Overrides, resolve};
use nono_enforcer::exec::CommandSpec;
use nono_enforcer::facade::{BuildError, Stage};
use nono_enforcer::sandbox::{self, SandboxOptions};
use nono_enforcer::{PathVars, ProfileStore, Sandbox};

fn command(workdir: &Path, script: &str) -> CommandSpec {
    CommandSpec {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))],
        cwd: workdir.to_path_buf(),
    }
}

fn skip(why: &str) {
    if std::env::var_os("NONO_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!("NONO_TEST_STRICT=1 and this test cannot run: {why}");
    }
    eprintln!("SKIP: {why}");
}

fn store() -> ProfileStore {
    ProfileStore::new("/nonexistent/nono-profiles".into())
}

#[test]
fn a_profile_name_becomes_a_sandbox_that_the_kernel_enforces() {
    if nono_enforcer::support::probe_landlock_abi().is_none() {
        return skip("Landlock is not available");
    }
    let work = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    let vars = PathVars::from_env(work.path().to_path_buf());
    let overrides = Overrides {
        allow_cwd: true,
        ..Overrides::default()
    };
    let sandbox = Sandbox::profile("default", vars)
        .store(store())
        .overrides(overrides)
        .options(SandboxOptions::default())
        .plan()
        .expect("plan");
    assert!(
        sandbox
            .plan()
            .rules
            .iter()
            .any(|r| r.path == std::fs::canonicalize(work.path()).unwrap()),
        "the working directory is granted: {:?}",
        sandbox.plan().rules
    );
    let mut prepared = sandbox.prepare().expect("prepare");
    assert!(prepared.report().to_string().starts_with("sandbox "));
    let script = format!(
        "echo made > inside.txt && cat {} || exit 9",
        secret.display()
    );
    let outcome = prepared
        .run_captured(
            &command(work.path(), &script),
            Some(Duration::from_secs(30)),
        )
        .expect("run");
    assert_eq!(
        outcome.code, 9,
        "reading outside the grants must fail: {outcome:?}"
    );
    assert!(!String::from_utf8_lossy(&outcome.stdout).contains("top secret"));
    assert_eq!(
        std::fs::read_to_string(work.path().join("inside.txt")).unwrap(),
        "made\n"
    );
}

#[test]
fn an_unknown_profile_is_a_typed_error() {
    let work = tempfile::tempdir().unwrap();
    let vars = PathVars::from_env(work.path().to_path_buf());
    let error = Sandbox::profile("no-such-profile-anywhere", vars)
        .store(store())
        .plan()
        .expect_err("an unknown profile cannot be planned");
    assert!(matches!(error, BuildError::Profile(_)), "{error:?}");
}

#[test]
fn the_stages_are_reported_in_order() {
    use std::sync::Mutex;
    static SEEN: Mutex<Vec<Stage>> = Mutex::new(Vec::new());
    let work = tempfile::tempdir().unwrap();
    let vars = PathVars::from_env(work.path().to_path_buf());
    Sandbox::profile("default", vars)
        .store(store())
        .on_stage(|stage| SEEN.lock().unwrap().push(stage))
        .plan()
        .expect("plan");
    assert_eq!(
        *SEEN.lock().unwrap(),
        [
            Stage::ProfileLoaded,
            Stage::CapabilitiesResolved,
            Stage::RulesPlanned(None)
        ]
    );
}

/// `nono learn`'s safety net through the facade: everything granted, the denied paths
/// hidden by mounts where a mount view can be had (carved around otherwise), and the
/// denied file still unreadable.
#[test]
fn a_safety_net_from_a_capability_set_withholds_denied_paths() {
    if nono_enforcer::support::probe_landlock_abi().is_none() {
        return skip("Landlock is not available");
    }
    let work = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let secret = state.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    let vars = PathVars::from_env(work.path().to_path_buf());
    let profile = store().load("default").unwrap();
    let overrides = Overrides {
        grants: vec![(GrantFlag::Allow, "/".into())],
        allow_network: true,
        nono_state: vec![state.path().to_path_buf()],
        ..Overrides::default()
    };
    let caps = resolve(&profile, &overrides, &vars, store().policy()).unwrap();
    let own_state = tempfile::tempdir().unwrap();
    let options = SandboxOptions {
        state_dir: Some(own_state.path().to_path_buf()),
        guard_metadata: false,
        masks_only: true,
        isolate_processes: false,
        ..SandboxOptions::default()
    };
    let masked = sandbox::mount_view_possible(&options);
    let sandbox = Sandbox::from_capabilities(caps, vars)
        .options(options)
        .plan()
        .expect("plan");
    let state_dir = std::fs::canonicalize(state.path()).unwrap();
    assert_eq!(
        sandbox.plan().masks.iter().any(|m| m.path == state_dir),
        masked,
        "the denied state directory is masked exactly when a mount view is possible: {:?}",
        sandbox.plan().masks
    );
    let mut prepared = sandbox.prepare().expect("prepare");
    let script = format!("cat {} || exit 9", secret.display());
    let outcome = prepared
        .run_captured(
            &command(work.path(), &script),
            Some(Duration::from_secs(30)),
        )
        .expect("run");
    assert_eq!(
        outcome.code, 9,
        "the denied file must stay unreadable: {outcome:?}"
    );
    assert!(!String::from_utf8_lossy(&outcome.stdout).contains("top secret"));
}
