//! Planning with denied paths hidden by mounts instead of carved.

use super::*;
use crate::capability::{EnvPolicy, NetworkMode, NetworkPolicy, PathDeny, PathGrant};

fn caps(grants: Vec<(PathBuf, Access)>, denies: Vec<PathBuf>) -> CapabilitySet {
    let source = Source::Flag {
        what: crate::capability::OverrideKind::AllowCwd,
        flag: "test".into(),
        value: String::new(),
    };
    CapabilitySet {
        profile: None,
        profile_chain: vec![],
        profile_files: vec![],
        workdir: "/".into(),
        groups: vec![],
        grants: grants
            .into_iter()
            .map(|(path, access)| PathGrant {
                path,
                kind: PathKind::Dir,
                access,
                strict: false,
                source: source.clone(),
            })
            .collect(),
        denies: denies
            .into_iter()
            .map(|path| PathDeny {
                path,
                source: source.clone(),
            })
            .collect(),
        bypassed: vec![],
        network: NetworkPolicy {
            mode: NetworkMode::Allowed,
            credentials: vec![],
            listen_ports: vec![],
            open_ports: vec![],
        },
        environment: EnvPolicy::default(),
        security: Default::default(),
        notes: vec![],
    }
}

#[test]
fn read_only_system_grants_mask_existing_denials_and_carve_them_too() {
    let root = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root.path()).unwrap();
    let etc = root.join("etc");
    let home = root.join("home");
    std::fs::create_dir_all(etc.join("sudoers.d")).unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    for f in ["shadow", "passwd", "hosts"] {
        std::fs::write(etc.join(f), "x").unwrap();
    }
    let denies = vec![
        etc.join("shadow"),
        etc.join("sudoers.d"),
        etc.join("absent"),
        home.join(".ssh"),
    ];
    let options = PlanOptions {
        mask_system_denies: true,
        home: Some(home.clone()),
        mask_all_denies: false,
    };

    // Read-only /etc: existing denials masked (for the host view), and carved: a
    // mount is dropped when something outside renames over what it covers, so the
    // denial must hold in Landlock alone. /etc itself is not listable: READ_DIR
    // would reach sudoers.d.
    let plan = plan_with(
        &caps(vec![(etc.clone(), Access::Read)], denies.clone()),
        &RealFs,
        &options,
    )
    .unwrap();
    let paths: Vec<_> = plan
        .rules
        .iter()
        .map(|r| (r.path.clone(), r.list_only))
        .collect();
    assert_eq!(
        paths,
        [(etc.join("hosts"), false), (etc.join("passwd"), false)]
    );
    let masked: Vec<_> = plan.masks.iter().map(|m| (m.path.clone(), m.dir)).collect();
    assert_eq!(
        masked,
        [(etc.join("shadow"), false), (etc.join("sudoers.d"), true)]
    );

    // With only denied files inside, the carved directory may be listed.
    std::fs::remove_dir(etc.join("sudoers.d")).unwrap();
    let plan = plan_with(
        &caps(vec![(etc.clone(), Access::Read)], denies.clone()),
        &RealFs,
        &options,
    )
    .unwrap();
    assert!(
        plan.rules.iter().any(|r| r.path == etc && r.list_only),
        "{:?}",
        plan.rules
    );
    std::fs::create_dir(etc.join("sudoers.d")).unwrap();

    // Writable /etc: carved as always (the sandbox could create the absent one).
    let plan = plan_with(
        &caps(vec![(etc.clone(), Access::ReadWrite)], denies.clone()),
        &RealFs,
        &options,
    )
    .unwrap();
    assert!(plan.masks.is_empty());
    assert!(
        plan.rules
            .iter()
            .all(|r| (r.path != etc || r.list_only) && r.path != etc.join("shadow")),
        "{:?}",
        plan.rules
    );

    // A read-only tree holding $HOME is carved (credentials appear there mid-run).
    let plan = plan_with(
        &caps(vec![(root.clone(), Access::Read)], denies.clone()),
        &RealFs,
        &options,
    )
    .unwrap();
    assert!(
        plan.rules.iter().all(|r| r.path != root || r.list_only),
        "{:?}",
        plan.rules
    );
    assert!(plan.masks.iter().all(|m| !m.path.starts_with(&home)));

    // Without the option nothing is masked.
    let carved = super::plan(&caps(vec![(etc.clone(), Access::Read)], denies), &RealFs).unwrap();
    assert!(carved.masks.is_empty());
    assert!(carved.rules.len() > 1);
}

/// `nono learn`'s safety net: every existing denial is masked, wherever it is, so
/// the directories above it keep one rule; only an absent denial is carved around
/// (its nearest existing directory and everything above get no rule), and a masked
/// path met while carving gets no rule of its own.
#[test]
fn mask_all_denies_masks_what_exists_and_carves_only_around_what_does_not() {
    let root = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root.path()).unwrap();
    let home = root.join("home");
    let other = root.join("other");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::create_dir_all(home.join("src")).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(home.join(".bashrc"), "x").unwrap();
    let options = PlanOptions {
        mask_all_denies: true,
        home: Some(home.clone()),
        ..PlanOptions::default()
    };
    let present = vec![home.join(".ssh"), home.join(".bashrc")];
    let plan = plan_with(
        &caps(vec![(root.clone(), Access::ReadWrite)], present.clone()),
        &RealFs,
        &options,
    )
    .unwrap();
    assert_eq!(plan.rules.len(), 1, "{:?}", plan.rules);
    assert_eq!(plan.rules[0].path, root);
    let masked: Vec<_> = plan.masks.iter().map(|m| (m.path.clone(), m.dir)).collect();
    assert_eq!(
        masked,
        [(home.join(".bashrc"), false), (home.join(".ssh"), true)]
    );

    let mut denies = present;
    denies.push(home.join(".aws"));
    let plan = plan_with(
        &caps(vec![(root.clone(), Access::ReadWrite)], denies),
        &RealFs,
        &options,
    )
    .unwrap();
    // Listing the carved directories (READ_DIR only) is no right to create in them.
    let paths: Vec<_> = plan
        .rules
        .iter()
        .filter(|r| !r.list_only)
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, [home.join("src"), other], "{:?}", plan.rules);
    assert_eq!(plan.masks.len(), 2);
}
