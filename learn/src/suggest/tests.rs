//! Suggestions on small models built by hand.

use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use nono_tracer::event::{Event, EventKind, FileOp, SockAddr};

use super::index::Granter;
use super::*;
use crate::model::{Coverage, GroupInfo, LearnContext, LearnModel, Msg, SensitivePath};
use crate::observe::classify;
use crate::output::{auto_approved, profile, summary};

fn ctx() -> LearnContext {
    LearnContext {
        home: "/home/u".into(),
        workdir: "/home/u/proj".into(),
        base_profile: "default".into(),
        sensitive: vec![SensitivePath {
            path: "/home/u/.ssh".into(),
            label: "group `deny_credentials`".into(),
        }],
        groups: vec![
            GroupInfo {
                name: "system_read_linux".into(),
                included: true,
                grants: vec![Coverage {
                    path: "/usr".into(),
                    access: Access::Read,
                    dir: true,
                }],
            },
            GroupInfo {
                name: "python_runtime".into(),
                included: false,
                grants: vec![Coverage {
                    path: "/home/u/.cache/pip".into(),
                    access: Access::ReadWrite,
                    dir: true,
                }],
            },
        ],
        base_grants: vec![],
        net_no_create: vec![],
        temp_dirs: vec!["/tmp".into(), "/var/tmp".into()],
    }
}

fn feed(model: &mut LearnModel, op: FileOp, path: &str, dir: bool, result: i32) {
    let event = Event {
        seq: 0,
        time_ns: 0,
        pid: 5,
        ppid: 1,
        exe: None,
        kind: EventKind::File {
            op,
            path: path.into(),
            path2: None,
            result,
        },
    };
    let observations = classify(&event, &mut |p: &Path| (p.to_path_buf(), dir));
    model.update(Msg::Event {
        event: Box::new(event),
        observations,
    });
}

fn grants(s: &[Suggestion]) -> Vec<(String, bool, Access)> {
    s.iter()
        .filter(|s| s.kind == SuggestionKind::Grant)
        .map(|s| (s.rule.clone(), s.dir, s.access.unwrap()))
        .collect()
}

/// The index's answers (a walk up the path's ancestors) equal a test of every
/// rule, for every path over a small alphabet, file and directory grants at
/// several depths, and overlapping groups.
#[test]
fn the_index_agrees_with_testing_every_rule() {
    let cov = |path: &str, access, dir| Coverage {
        path: path.into(),
        access,
        dir,
    };
    let ctx = LearnContext {
        home: "/h".into(),
        workdir: "/w".into(),
        base_profile: "base".into(),
        sensitive: vec![
            SensitivePath {
                path: "/a/b".into(),
                label: "one".into(),
            },
            SensitivePath {
                path: "/a".into(),
                label: "two".into(),
            },
            SensitivePath {
                path: "/b/a/b".into(),
                label: "three".into(),
            },
        ],
        groups: vec![
            GroupInfo {
                name: "g0".into(),
                included: false,
                grants: vec![
                    cov("/a", Access::Read, true),
                    cov("/b/b", Access::Write, false),
                ],
            },
            GroupInfo {
                name: "g1".into(),
                included: true,
                grants: vec![
                    cov("/a/a", Access::ReadWrite, true),
                    cov("/b", Access::Read, true),
                ],
            },
        ],
        base_grants: vec![
            cov("/b/a", Access::Write, true),
            cov("/a/b/a", Access::Read, false),
        ],
        net_no_create: vec![],
        temp_dirs: vec![],
    };
    let mut paths = vec![PathBuf::from("/")];
    let mut level = vec![String::new()];
    for _ in 0..4 {
        level = level
            .iter()
            .flat_map(|p| ["a", "b", "c"].map(|n| format!("{p}/{n}")))
            .collect();
        paths.extend(level.iter().map(PathBuf::from));
    }
    {
        let index = Index::new(&ctx);
        for path in &paths {
            assert_eq!(
                index.sensitive(&ctx, path).map(|s| &s.label),
                ctx.sensitive(path).map(|s| &s.label),
                "{path:?}"
            );
            for access in [Access::Read, Access::Write, Access::ReadWrite] {
                let mut naive = ctx
                    .base_grants
                    .iter()
                    .any(|c| covers(c, path, access))
                    .then_some(Granter::Base);
                for (i, g) in ctx.groups.iter().enumerate() {
                    if g.grants.iter().any(|c| covers(c, path, access)) {
                        let who = if g.included {
                            Granter::Included(i)
                        } else {
                            Granter::Other(i)
                        };
                        naive = Some(naive.map_or(who, |n: Granter| n.min(who)));
                    }
                }
                assert_eq!(index.grant(path, access), naive, "{path:?} {access:?}");
            }
        }
    }
}

/// Sorting the paths on two threads gives what one thread gives: the same
/// suggestions, in the same order, listing the same paths, and every path told to
/// the same suggestion.
#[test]
fn two_threads_suggest_what_one_does() {
    let mut m = LearnModel::new(ctx());
    for i in 0..600 {
        let (op, result) = match i % 5 {
            0 => (FileOp::Write, 0),
            1 => (FileOp::Read, -2),
            _ => (FileOp::Read, 0),
        };
        let path = match i % 6 {
            0 => format!("/usr/share/d{}/f{i}", i % 7),
            1 => format!("/home/u/proj/src/f{i}"),
            2 => format!("/home/u/.ssh/k{i}"),
            3 => format!("/home/u/.cache/pip/p{i}"),
            4 => format!("/srv/data/d{}/f{i}", i % 3),
            _ => format!("/opt/t{}/f{i}", i % 40),
        };
        feed(&mut m, op, &path, false, result);
    }
    let run = |parallel_from| {
        let mut told = Vec::new();
        let s = suggest_split(&m, |p, i| told.push((p.to_path_buf(), i)), parallel_from);
        told.sort();
        (s, told)
    };
    let one = run(usize::MAX);
    assert!(one.0.len() > 5, "{:#?}", one.0);
    assert_eq!(run(0), one);
    assert_eq!(run(2), one);
}

#[test]
fn sensitive_paths_are_listed_never_suggested_even_when_they_succeeded() {
    let mut m = LearnModel::new(ctx());
    feed(&mut m, FileOp::Read, "/home/u/.ssh/id_rsa", false, 0);
    feed(&mut m, FileOp::Read, "/home/u/.ssh/config", false, -13);
    let s = suggest(&m);
    assert!(grants(&s).is_empty(), "{s:#?}");
    let sensitive: Vec<_> = s
        .iter()
        .filter(|s| matches!(s.kind, SuggestionKind::Sensitive { .. }))
        .collect();
    assert_eq!(sensitive.len(), 1);
    assert_eq!(sensitive[0].observed.len(), 2);
    assert!(!sensitive[0].safe);
    let p = profile(&auto_approved(&s), "default", "x", "d", false);
    assert!(
        p.filesystem.is_none(),
        "a sensitive path reached the profile: {p:?}"
    );
}

#[test]
fn home_and_root_are_never_granted_whole() {
    let mut m = LearnModel::new(ctx());
    feed(&mut m, FileOp::Create, "/home/u/.tool_history", false, 0);
    feed(&mut m, FileOp::Create, "/newfile", false, 0);
    let g = grants(&suggest(&m));
    assert_eq!(
        g,
        [
            ("$HOME/.tool_history".to_string(), false, Access::ReadWrite),
            ("/newfile".to_string(), false, Access::ReadWrite)
        ]
    );
}

#[test]
fn created_entries_suggest_their_directory_and_siblings_collapse() {
    let mut m = LearnModel::new(ctx());
    feed(&mut m, FileOp::Create, "/srv/out/a.txt", false, 0);
    for f in ["a", "b", "c", "d"] {
        feed(
            &mut m,
            FileOp::Read,
            &format!("/data/set/{f}.csv"),
            false,
            0,
        );
    }
    feed(&mut m, FileOp::Read, "/data/other.txt", false, 0);
    feed(&mut m, FileOp::Read, "/nonexistent", false, -2);
    let g = grants(&suggest(&m));
    assert_eq!(
        g,
        [
            ("/data/other.txt".to_string(), false, Access::Read),
            ("/data/set".to_string(), true, Access::Read),
            // Only creation was seen: write-only is enough (least privilege).
            ("/srv/out".to_string(), true, Access::Write),
        ]
    );
}

#[test]
fn groups_workdir_and_hosts() {
    let mut m = LearnModel::new(ctx());
    feed(&mut m, FileOp::Read, "/usr/lib/libc.so", false, 0);
    feed(&mut m, FileOp::Write, "/home/u/.cache/pip/http/x", false, 0);
    feed(&mut m, FileOp::Write, "/home/u/proj/out.txt", false, 0);
    feed(&mut m, FileOp::Read, "/home/u/proj/in.txt", false, 0);
    let dns = Event {
        seq: 1,
        time_ns: 0,
        pid: 5,
        ppid: 1,
        exe: None,
        kind: EventKind::Dns {
            name: "PyPI.org.".into(),
            qtype: "A".into(),
            server: SockAddr::Other { family: 2 },
        },
    };
    m.update(Msg::Event {
        event: Box::new(dns),
        observations: vec![],
    });
    let s = suggest(&m);
    assert!(grants(&s).is_empty(), "{s:#?}");
    let kinds: Vec<_> = s.iter().map(|s| (&s.kind, s.rule.as_str())).collect();
    assert!(kinds.contains(&(
        &SuggestionKind::IncludeGroup {
            group: "python_runtime".into()
        },
        "python_runtime"
    )));
    assert!(kinds.contains(&(&SuggestionKind::Workdir, "workdir.access = readwrite")));
    assert!(kinds.contains(&(&SuggestionKind::Host, "pypi.org")));
    assert!(kinds.contains(&(
        &SuggestionKind::Covered {
            by: "group `system_read_linux`".into()
        },
        "group `system_read_linux`"
    )));
    let p = profile(&auto_approved(&s), "default", "learned", "test", true);
    let text = serde_json::to_string(&p).unwrap();
    assert!(
        !text.contains("block"),
        "hosts are allowed, not blocked: {text}"
    );
    for needle in [
        "\"extends\":\"default\"",
        "python_runtime",
        "\"access\":\"readwrite\"",
        "pypi.org",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let parsed = nono_enforcer::profile::parse(
        &text,
        "learned",
        nono_enforcer::profile::ProfileSource::Builtin,
    );
    assert!(
        parsed.is_ok(),
        "the generated profile does not parse: {parsed:?}"
    );
}

fn rename(model: &mut LearnModel, from: &str, to: &str) {
    let event = Event {
        seq: 0,
        time_ns: 0,
        pid: 5,
        ppid: 1,
        exe: None,
        kind: EventKind::File {
            op: FileOp::Rename,
            path: from.into(),
            path2: Some(to.into()),
            result: 0,
        },
    };
    let observations = classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
    model.update(Msg::Event {
        event: Box::new(event),
        observations,
    });
}

#[test]
fn temporary_names_are_recognised() {
    for name in [
        "ccAcOUPF.o",
        "cc2qRIVN.s",
        "tmp.5Ag3kLq9Zx",
        "tmpk3j_4x9a",
        "tmpqwertyui",
        "sortH7d2Qa",
        "systemd-private-3f9a1c0d2e",
        "pymp-x8w2k1q0",
    ] {
        assert!(random_name(name.as_ref()), "{name} should look random");
    }
    for name in [
        "out.txt",
        "build",
        "python3",
        "report-2024.csv",
        "a.o",
        "Makefile",
        "x86_64",
        ".X11-unix",
    ] {
        assert!(!random_name(name.as_ref()), "{name} should not look random");
    }
}

/// The gcc case: mkstemp's O_RDWR creation in /tmp, the files written and read
/// again by the next program, then removed. The directory gets read-write (what the
/// opens of the files made there needed), and no random name is a rule.
#[test]
fn a_directory_gets_the_union_of_what_its_created_files_needed() {
    let mut m = LearnModel::new(ctx());
    for f in ["ccAcOUPF.s", "ccvah7Fv.o"] {
        let path = format!("/tmp/{f}");
        feed(&mut m, FileOp::CreateReadWrite, &path, false, 0);
        feed(&mut m, FileOp::Write, &path, false, 0);
        feed(&mut m, FileOp::Read, &path, false, 0);
        feed(&mut m, FileOp::Unlink, &path, false, 0);
    }
    // Written only: write is enough.
    feed(&mut m, FileOp::Create, "/srv/out/report.txt", false, 0);
    // Created, then read back: read-write, on the directory (the file does not
    // exist when the command starts again).
    feed(&mut m, FileOp::Create, "/srv/db/new.db", false, 0);
    feed(&mut m, FileOp::Read, "/srv/db/new.db", false, 0);
    let s = suggest(&m);
    assert_eq!(
        grants(&s),
        [
            ("/srv/db".to_string(), true, Access::ReadWrite),
            ("/srv/out".to_string(), true, Access::Write),
            ("/tmp".to_string(), true, Access::ReadWrite),
        ],
        "{s:#?}"
    );
    let tmp = s.iter().find(|s| s.rule == "/tmp").unwrap();
    assert!(tmp.reason.contains("temporary"), "{}", tmp.reason);
    assert!(tmp.safe);
    assert!(
        tmp.observed.iter().any(|p| p.ends_with("ccvah7Fv.o")),
        "the temporaries are listed under their directory: {tmp:#?}"
    );
    let p = profile(&auto_approved(&s), "default", "x", "d", false);
    let text = serde_json::to_string(&p).unwrap();
    assert!(
        !text.contains("cc"),
        "a temporary name reached the profile: {text}"
    );
}

#[test]
fn temporaries_fold_into_their_lasting_directory() {
    let mut m = LearnModel::new(ctx());
    // mktemp -d, a file in it, all removed: /tmp, never the random directory.
    feed(&mut m, FileOp::Mkdir, "/tmp/tmp.5Ag3kLq9Zx", false, 0);
    feed(&mut m, FileOp::Create, "/tmp/tmp.5Ag3kLq9Zx/data", false, 0);
    feed(&mut m, FileOp::Read, "/tmp/tmp.5Ag3kLq9Zx/data", false, 0);
    feed(&mut m, FileOp::Unlink, "/tmp/tmp.5Ag3kLq9Zx/data", false, 0);
    // An atomic save: a temporary beside the file, renamed over it.
    feed(&mut m, FileOp::Read, "/srv/conf/app.conf", false, 0);
    feed(&mut m, FileOp::Create, "/srv/conf/.app.conf.swp", false, 0);
    rename(&mut m, "/srv/conf/.app.conf.swp", "/srv/conf/app.conf");
    // A random name in /var/tmp that was there before: its directory.
    feed(&mut m, FileOp::Read, "/var/tmp/sess-Qx81Kd9a", false, 0);

    let g = grants(&suggest(&m));
    assert_eq!(
        g,
        [
            // The swap file needs write in the directory; the file was there
            // before (read first), so its own rule reads it.
            ("/srv/conf".to_string(), true, Access::Write),
            ("/srv/conf/app.conf".to_string(), false, Access::Read),
            ("/tmp".to_string(), true, Access::ReadWrite),
            ("/var/tmp".to_string(), true, Access::Read),
        ]
    );
}

/// A directory with a random name that was there before (a project made with
/// `mktemp -d`) lasts: its files are rules as anywhere else.
#[test]
fn a_lasting_directory_with_a_random_name_keeps_its_rules() {
    let mut m = LearnModel::new(ctx());
    feed(&mut m, FileOp::Read, "/tmp/.tmpdxTnQX/data", true, 0);
    feed(&mut m, FileOp::Read, "/tmp/.tmpdxTnQX/in.csv", false, 0);
    assert_eq!(
        grants(&suggest(&m)),
        [
            ("/tmp/.tmpdxTnQX/data".to_string(), true, Access::Read),
            ("/tmp/.tmpdxTnQX/in.csv".to_string(), false, Access::Read),
        ]
    );
}

/// A temporary created directly in $HOME can get no rule ($HOME is never granted
/// whole, and its name never comes again): it is said, not suggested.
#[test]
fn temporaries_directly_in_home_are_said_not_granted() {
    let mut m = LearnModel::new(ctx());
    feed(
        &mut m,
        FileOp::CreateReadWrite,
        "/home/u/.lock.Xy12",
        false,
        0,
    );
    feed(&mut m, FileOp::Unlink, "/home/u/.lock.Xy12", false, 0);
    feed(&mut m, FileOp::Create, "/home/u/.tool_history", false, 0);
    let s = suggest(&m);
    assert_eq!(
        grants(&s),
        [("$HOME/.tool_history".to_string(), false, Access::ReadWrite)]
    );
    let notes = unnamed_temporaries(&m);
    assert_eq!(
        notes,
        [NotGranted {
            dir: PathBuf::from("/home/u"),
            files: vec![PathBuf::from("/home/u/.lock.Xy12")]
        }]
    );
    assert!(
        summary(&m, &s).contains("/home/u/.lock.Xy12"),
        "{}",
        summary(&m, &s)
    );
}

#[test]
fn a_trace_without_network_use_blocks_the_network() {
    let socket = |m: &mut LearnModel, addr: SockAddr| {
        let event = Event {
            seq: 0,
            time_ns: 0,
            pid: 5,
            ppid: 1,
            exe: None,
            kind: EventKind::Bind { addr, result: 0 },
        };
        m.update(Msg::Event {
            event: Box::new(event),
            observations: vec![],
        });
    };
    let mut m = LearnModel::new(ctx());
    socket(
        &mut m,
        SockAddr::Unix {
            path: "/run/x.sock".into(),
        },
    );
    socket(&mut m, SockAddr::AbstractUnix { name: "x".into() });
    socket(&mut m, SockAddr::Other { family: 16 });
    assert!(
        !m.network_used(),
        "unix and netlink sockets are no network use"
    );
    let s = suggest(&m);
    let p = profile(&auto_approved(&s), "default", "x", "d", !m.network_used());
    assert_eq!(p.network.and_then(|n| n.block), Some(true));
    socket(
        &mut m,
        SockAddr::Inet {
            ip: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 8080,
        },
    );
    assert!(m.network_used(), "a loopback bind is network use");
    let p = profile(&auto_approved(&s), "default", "x", "d", !m.network_used());
    assert!(p.network.is_none(), "{:?}", p.network);
}

#[test]
fn system_writes_are_not_auto_approved() {
    let mut m = LearnModel::new(ctx());
    feed(&mut m, FileOp::Write, "/etc/hosts", false, 0);
    let s = suggest(&m);
    assert_eq!(grants(&s).len(), 1);
    assert!(auto_approved(&s).is_empty(), "{s:#?}");
    let _ = PathBuf::new();
}
