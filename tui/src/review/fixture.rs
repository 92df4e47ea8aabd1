//! A fixed learn session for the review's tests and snapshots: a Python tool that
//! reads a data set, writes a report, touches a system file, reads an SSH key, looks
//! up hosts and probes for files that do not exist.

use std::path::Path;
use std::time::Duration;

use nono_enforcer::capability::Access;
use nono_tracer::event::{Event, EventKind, FileOp, SockAddr};

use nono_learn::model::{Coverage, GroupInfo, LearnContext, SensitivePath};
use nono_learn::observe::classify;
use nono_learn::{LearnModel, Msg as LearnMsg};

use super::model::{ReviewConfig, ReviewState};
use super::tree::NodeId;
use super::update::{Msg, update};

pub const HOME: &str = "/home/u";

pub fn ctx() -> LearnContext {
    LearnContext {
        home: HOME.into(),
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
        temp_dirs: vec!["/tmp".into()],
    }
}

fn event(pid: i32, kind: EventKind) -> Event {
    Event {
        seq: 0,
        time_ns: 0,
        pid,
        ppid: 1,
        exe: Some("/usr/bin/python3".into()),
        kind,
    }
}

fn feed(state: &mut ReviewState, event: Event) {
    let observations = classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
    update(
        state,
        Msg::Learn(LearnMsg::Event {
            event: Box::new(event),
            observations,
        }),
    );
}

pub fn file(state: &mut ReviewState, op: FileOp, path: &str, result: i32) {
    feed(
        state,
        event(
            41,
            EventKind::File {
                op,
                path: path.into(),
                path2: None,
                result,
            },
        ),
    );
}

/// Feeds one exec of `path` with `result` (0, or a negative errno).
pub fn exec(state: &mut ReviewState, path: &str, result: i32) {
    feed(
        state,
        event(
            41,
            EventKind::Exec {
                path: path.into(),
                argv: vec![path.rsplit('/').next().unwrap_or(path).to_string()],
                result,
            },
        ),
    );
}

pub fn config() -> ReviewConfig {
    ReviewConfig {
        command: "python3 train.py --fast".into(),
        backend: "ptrace".into(),
        base_profile: "default".into(),
        description: "Learned from `python3 train.py --fast`".into(),
        profiles_dir: "/home/u/.config/nono/profiles".into(),
        cwd: "/home/u/proj".into(),
        default_target: "learned-python3".into(),
        color: false,
        path_dirs: vec!["/home/u/.local/bin".into(), "/usr/bin".into()],
    }
}

/// The fixture at `size`, fed through `update` like the live screen.
pub fn state_at(size: (u16, u16)) -> ReviewState {
    let mut s = ReviewState::new(LearnModel::new(ctx()), config(), size);
    for (path, argv) in [
        ("/usr/bin/python3", vec!["python3", "train.py", "--fast"]),
        ("/usr/bin/uname", vec!["uname", "-m"]),
    ] {
        feed(
            &mut s,
            event(
                41,
                EventKind::Exec {
                    path: path.into(),
                    argv: argv.into_iter().map(String::from).collect(),
                    result: 0,
                },
            ),
        );
    }
    file(&mut s, FileOp::Read, "/usr/lib/libc.so.6", 0);
    file(&mut s, FileOp::Read, "/usr/lib/python3.11/os.py", 0);
    for f in ["a", "b", "c", "d"] {
        file(&mut s, FileOp::Read, &format!("/data/set/{f}.csv"), 0);
    }
    file(&mut s, FileOp::Read, "/data/other.txt", 0);
    file(&mut s, FileOp::Create, "/srv/out/report.txt", 0);
    file(&mut s, FileOp::Write, "/etc/app.conf", 0);
    file(&mut s, FileOp::Read, "/home/u/.ssh/id_rsa", -13);
    file(&mut s, FileOp::Write, "/home/u/proj/build/out.o", 0);
    file(&mut s, FileOp::Read, "/home/u/proj/src/main.py", 0);
    file(&mut s, FileOp::Write, "/home/u/.cache/pip/http/x", 0);
    file(&mut s, FileOp::Stat, "/opt/missing/lib.so", -2);
    file(&mut s, FileOp::Create, "/home/u/.tool_history", 0);
    for host in ["pypi.org.", "files.pythonhosted.org."] {
        feed(
            &mut s,
            event(
                41,
                EventKind::Dns {
                    name: host.into(),
                    qtype: "A".into(),
                    server: SockAddr::Inet {
                        ip: "127.0.0.53".parse().unwrap(),
                        port: 53,
                    },
                },
            ),
        );
    }
    feed(
        &mut s,
        event(
            41,
            EventKind::Connect {
                addr: SockAddr::Inet {
                    ip: "151.101.0.223".parse().unwrap(),
                    port: 443,
                },
                result: 0,
            },
        ),
    );
    update(
        &mut s,
        Msg::Learn(LearnMsg::ProxyHost {
            host: "api.github.com".into(),
            port: 443,
        }),
    );
    update(
        &mut s,
        Msg::Learn(LearnMsg::Counters {
            events: 1234,
            dropped: 0,
        }),
    );
    update(
        &mut s,
        Msg::Output(b"Collecting numpy\r\nTraining on 4 files... done\r\n".to_vec()),
    );
    update(
        &mut s,
        Msg::Tick {
            elapsed: Duration::from_secs(12),
        },
    );
    s.refresh();
    s
}

/// The fixture on a 100×30 screen.
pub fn state() -> ReviewState {
    state_at((100, 30))
}

/// Puts the cursor on the Files row of `path` (unfolding its way there).
pub fn select(s: &mut ReviewState, path: &str) -> NodeId {
    let id = s
        .tree
        .find(Path::new(path))
        .unwrap_or_else(|| panic!("{path} is not in the tree"));
    let ancestors: Vec<NodeId> = s.tree.ancestors(id).collect();
    for a in ancestors {
        s.folds.insert(a, false);
    }
    s.tab = super::model::Tab::Files;
    s.rebuild_rows();
    let i = s
        .rows
        .iter()
        .position(|r| r.node == id)
        .unwrap_or_else(|| panic!("{path} has no row"));
    s.cursor[0] = i;
    s.selected_node = Some(id);
    s.scroll_into_view();
    id
}
