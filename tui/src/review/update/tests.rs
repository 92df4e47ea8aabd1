//! `update` for every decision, on the fixed fixture (see `review::fixture`).

use std::path::{Path, PathBuf};

use nono_enforcer::capability::Access;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::review::decision::{Decision, ItemKey, PathRule, Rule, Verdict};
use crate::review::fixture::{self, select};
use crate::review::model::{Class, Filter, Focus, Overlay, ReviewState, Tab};
use crate::review::profile;

fn key(state: &mut ReviewState, code: KeyCode) -> Option<Command> {
    update(state, Msg::Key(KeyEvent::from(code)))
}

fn press(state: &mut ReviewState, c: char) -> Option<Command> {
    key(state, KeyCode::Char(c))
}

fn typing(state: &mut ReviewState, text: &str) {
    for c in text.chars() {
        press(state, c);
    }
}

fn path_decision<'a>(state: &'a ReviewState, anchor: &str) -> &'a Decision {
    state
        .decisions
        .get(&ItemKey::Path(anchor.into()))
        .unwrap_or_else(|| {
            panic!(
                "no decision on {anchor}; decisions: {:#?}",
                state.decisions.keys().collect::<Vec<_>>()
            )
        })
}

fn rule_of<'a>(state: &'a ReviewState, anchor: &str) -> &'a PathRule {
    path_decision(state, anchor)
        .path_rule()
        .unwrap_or_else(|| panic!("the decision on {anchor} is not a path rule"))
}

fn class_of(state: &ReviewState, path: &str) -> Class {
    state.class(state.tree.find(Path::new(path)).expect(path))
}

fn status(state: &ReviewState) -> String {
    state
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

fn profile_text(state: &ReviewState) -> String {
    profile::to_text(&profile::build(state, "t"))
}

/// Every allowed path rule of the profile, as (path, dir, access).
fn allowed_rules(state: &ReviewState) -> Vec<(PathBuf, bool, Access)> {
    state
        .decisions
        .values()
        .filter(|d| d.verdict == Verdict::Allow)
        .filter_map(|d| d.path_rule())
        .map(|r| (r.path.clone(), r.dir, r.access))
        .collect()
}

fn assert_never_whole(state: &ReviewState) {
    for (path, _, _) in allowed_rules(state) {
        assert!(
            path != Path::new("/") && !Path::new(fixture::HOME).starts_with(&path),
            "{} was granted: / and $HOME (and above) are never granted whole",
            path.display()
        );
    }
}

#[test]
fn accepting_a_collapsed_suggestion_allows_its_directory_and_covers_the_siblings() {
    let mut s = fixture::state();
    select(&mut s, "/data/set/a.csv");
    assert_eq!(class_of(&s, "/data/set/b.csv"), Class::Pending);
    press(&mut s, 'y');
    let rule = rule_of(&s, "/data/set/a.csv");
    assert_eq!(
        (rule.path.as_path(), rule.dir, rule.access),
        (Path::new("/data/set"), true, Access::Read),
        "{}",
        status(&s)
    );
    assert_eq!(path_decision(&s, "/data/set/a.csv").verdict, Verdict::Allow);
    for sibling in ["/data/set/b.csv", "/data/set/d.csv"] {
        assert_eq!(class_of(&s, sibling), Class::Allowed, "{sibling}");
    }
    // Accepting a sibling again says so instead of adding a rule.
    select(&mut s, "/data/set/c.csv");
    press(&mut s, 'y');
    assert!(status(&s).contains("already allowed"), "{}", status(&s));
    assert_eq!(s.decisions.len(), 1);
    assert!(profile_text(&s).contains("\"read\": [\n      \"/data/set\""));
}

#[test]
fn r_allows_read_only_and_w_read_write() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, 'w');
    assert_eq!(rule_of(&s, "/data/other.txt").access, Access::ReadWrite);
    assert!(!rule_of(&s, "/data/other.txt").dir);
    press(&mut s, 'r');
    assert_eq!(rule_of(&s, "/data/other.txt").access, Access::Read);
    let text = profile_text(&s);
    assert!(
        text.contains("\"read_file\": [\n      \"/data/other.txt\""),
        "{text}"
    );
    assert!(!text.contains("allow_file"), "{text}");
}

#[test]
fn deny_keeps_a_path_out_and_carves_it_out_of_an_allowed_directory() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, 'd');
    assert_eq!(path_decision(&s, "/data/other.txt").verdict, Verdict::Deny);
    assert_eq!(class_of(&s, "/data/other.txt"), Class::Denied);
    assert!(
        !profile_text(&s).contains("other.txt"),
        "{}",
        profile_text(&s)
    );

    // Allow the data set directory, then deny one file in it: a carve-out.
    select(&mut s, "/data/set/a.csv");
    press(&mut s, 'y');
    select(&mut s, "/data/set/b.csv");
    press(&mut s, 'd');
    assert_eq!(class_of(&s, "/data/set/b.csv"), Class::Denied);
    assert_eq!(class_of(&s, "/data/set/c.csv"), Class::Allowed);
    let text = profile_text(&s);
    assert!(
        text.contains("\"deny\": [\n      \"/data/set/b.csv\""),
        "the carve-out is missing:\n{text}"
    );
}

#[test]
fn widen_goes_one_directory_up_and_stops_below_root() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, '+');
    let d = path_decision(&s, "/data/other.txt");
    assert_eq!(
        d.verdict,
        Verdict::Pending,
        "widening alone decides nothing"
    );
    assert_eq!(
        (
            rule_of(&s, "/data/other.txt").path.as_path(),
            rule_of(&s, "/data/other.txt").dir
        ),
        (Path::new("/data"), true)
    );
    assert!(
        allowed_rules(&s).is_empty(),
        "nothing is granted without a decision"
    );
    press(&mut s, '+');
    assert!(
        status(&s).contains("/ is never granted whole"),
        "{}",
        status(&s)
    );
    assert_eq!(rule_of(&s, "/data/other.txt").path, Path::new("/data"));
    press(&mut s, 'y');
    assert_eq!(allowed_rules(&s), [("/data".into(), true, Access::Read)]);
    // The other data files are covered by the wider rule now.
    assert_eq!(class_of(&s, "/data/set/a.csv"), Class::Allowed);
}

#[test]
fn narrow_walks_back_to_the_observed_path_and_no_further() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, '+');
    press(&mut s, '-');
    let rule = rule_of(&s, "/data/other.txt");
    assert_eq!(
        (rule.path.as_path(), rule.dir),
        (Path::new("/data/other.txt"), false)
    );
    press(&mut s, '-');
    assert!(
        status(&s).contains("already at the observed path"),
        "{}",
        status(&s)
    );
    // A collapsed suggestion can be split by narrowing on one of its files.
    select(&mut s, "/data/set/a.csv");
    press(&mut s, '-');
    let rule = rule_of(&s, "/data/set/a.csv");
    assert_eq!(
        (rule.path.as_path(), rule.dir),
        (Path::new("/data/set/a.csv"), false)
    );
}

#[test]
fn home_and_root_are_never_granted_whole() {
    let mut s = fixture::state();
    // A file created directly in $HOME: its rule cannot widen to $HOME.
    select(&mut s, "/home/u/.tool_history");
    press(&mut s, '+');
    assert!(status(&s).contains("never granted whole"), "{}", status(&s));
    // $HOME itself cannot be allowed, read-only or read-write.
    select(&mut s, fixture::HOME);
    for c in ['r', 'w', 'y'] {
        press(&mut s, c);
    }
    select(&mut s, "/data");
    press(&mut s, 'w');
    press(&mut s, '+');
    // `/` (the root row) neither.
    s.cursor[0] = 0;
    press(&mut s, 'w');
    assert!(status(&s).contains("never granted whole"), "{}", status(&s));
    // Accept-all cannot do it either.
    press(&mut s, 'A');
    assert_never_whole(&s);
    assert!(allowed_rules(&s).contains(&("/data".into(), true, Access::ReadWrite)));
}

#[test]
fn an_edited_path_must_cover_the_observation() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, 'e');
    let Overlay::Edit { input, .. } = &s.overlay else {
        panic!("e did not open the editor: {:?}", s.overlay);
    };
    assert_eq!(input, "/data/other.txt");
    key(&mut s, KeyCode::Char('u'));
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typing(&mut s, "/srv/");
    key(&mut s, KeyCode::Enter);
    let Overlay::Edit { error, .. } = &s.overlay else {
        panic!("a rule that does not cover the observation was accepted");
    };
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("does not cover")),
        "{error:?}"
    );
    assert!(
        !s.decisions
            .contains_key(&ItemKey::Path("/data/other.txt".into()))
    );
    // $HOME is refused as well.
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typing(&mut s, "~");
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.overlay, Overlay::Edit { .. }), "~ was accepted");
    // A covering directory is accepted.
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typing(&mut s, "/data/");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, Overlay::None, "{}", status(&s));
    let rule = rule_of(&s, "/data/other.txt");
    assert_eq!((rule.path.as_path(), rule.dir), (Path::new("/data"), true));
}

#[test]
fn a_sensitive_path_needs_the_confirmation_word() {
    let mut s = fixture::state();
    select(&mut s, "/home/u/.ssh/id_rsa");
    assert!(s.is_sensitive(s.current_node().unwrap()));
    press(&mut s, 'y');
    assert!(
        matches!(s.overlay, Overlay::Confirm(_)),
        "y on a sensitive path must ask: {:?}",
        s.overlay
    );
    assert!(allowed_rules(&s).is_empty(), "granted before confirmation");
    // The wrong word is refused and grants nothing.
    typing(&mut s, "yes");
    key(&mut s, KeyCode::Enter);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("the wrong word closed the prompt");
    };
    assert!(
        c.error
            .as_deref()
            .is_some_and(|e| e.contains("nothing was granted"))
    );
    assert!(allowed_rules(&s).is_empty(), "granted with the wrong word");
    // Esc keeps it denied.
    key(&mut s, KeyCode::Esc);
    assert!(allowed_rules(&s).is_empty());
    // The right word grants it, with the denial lifted by bypass_protection.
    press(&mut s, 'r');
    typing(&mut s, "grant");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, Overlay::None);
    let rule = rule_of(&s, "/home/u/.ssh/id_rsa");
    assert_eq!(rule.bypass.as_deref(), Some(Path::new("/home/u/.ssh")));
    assert_eq!((rule.dir, rule.access), (false, Access::Read));
    let text = profile_text(&s);
    assert!(
        text.contains("\"bypass_protection\": [\n      \"$HOME/.ssh\""),
        "{text}"
    );
    assert!(
        text.contains("\"read_file\": [\n      \"$HOME/.ssh/id_rsa\""),
        "{text}"
    );
    assert!(text.contains("BYPASSES PROTECTION"), "not marked: {text}");
    // Widening a confirmed sensitive rule takes the confirmation back.
    press(&mut s, '+');
    assert_eq!(
        path_decision(&s, "/home/u/.ssh/id_rsa").verdict,
        Verdict::Pending
    );
    assert_eq!(rule_of(&s, "/home/u/.ssh/id_rsa").bypass, None);
    assert!(!profile_text(&s).contains(".ssh"), "{}", profile_text(&s));
}

#[test]
fn accept_all_safe_never_takes_sensitive_or_system_writes() {
    let mut s = fixture::state();
    press(&mut s, 'A');
    let rules = allowed_rules(&s);
    for expected in [
        ("/data/set".into(), true, Access::Read),
        ("/data/other.txt".into(), false, Access::Read),
        ("/srv/out".into(), true, Access::Write),
    ] {
        assert!(
            rules.contains(&expected),
            "{expected:?} missing from {rules:?}"
        );
    }
    assert!(
        !rules.iter().any(|(p, _, _)| p.starts_with("/home/u/.ssh")),
        "a sensitive path was accepted: {rules:?}"
    );
    assert!(
        !rules.iter().any(|(p, _, _)| p.starts_with("/etc")),
        "a system write was accepted: {rules:?}"
    );
    assert_never_whole(&s);
    assert!(s.decisions.contains_key(&ItemKey::Workdir));
    assert!(
        s.decisions
            .contains_key(&ItemKey::Group("python_runtime".into()))
    );
    assert!(s.decisions.contains_key(&ItemKey::Host("pypi.org".into())));
    assert_eq!(class_of(&s, "/etc/app.conf"), Class::Pending);
    assert!(status(&s).contains("left for you"), "{}", status(&s));
    // The sensitive path is still there to decide on, and still needs the word.
    select(&mut s, "/home/u/.ssh/id_rsa");
    assert_eq!(class_of(&s, "/home/u/.ssh/id_rsa"), Class::Sensitive);
}

#[test]
fn undo_takes_back_one_action_at_a_time() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, 'y');
    select(&mut s, "/srv/out");
    press(&mut s, 'd');
    press(&mut s, 'A');
    let after_all = s.decisions.len();
    assert!(after_all > 2);
    press(&mut s, 'u');
    assert_eq!(s.decisions.len(), 2, "undo of accept-all undoes all of it");
    press(&mut s, 'u');
    assert_eq!(s.decisions.len(), 1);
    assert_eq!(path_decision(&s, "/data/other.txt").verdict, Verdict::Allow);
    // Undo restores a changed decision to its previous value, not just removes it.
    select(&mut s, "/data/other.txt");
    press(&mut s, 'w');
    press(&mut s, 'u');
    assert_eq!(rule_of(&s, "/data/other.txt").access, Access::Read);
    press(&mut s, 'u');
    press(&mut s, 'u');
    assert!(s.decisions.is_empty());
    assert!(status(&s).contains("nothing to undo"), "{}", status(&s));
}

#[test]
fn include_group_and_workdir_rows_decide_their_group_and_workdir() {
    let mut s = fixture::state();
    select(&mut s, "/home/u/.cache/pip/http/x");
    press(&mut s, 'i');
    assert_eq!(
        s.decisions.get(&ItemKey::Group("python_runtime".into())),
        Some(&Decision {
            verdict: Verdict::Allow,
            rule: Rule::Group("python_runtime".into())
        })
    );
    select(&mut s, "/home/u/proj/src/main.py");
    press(&mut s, 'r');
    assert_eq!(
        s.decisions.get(&ItemKey::Workdir).map(|d| &d.rule),
        Some(&Rule::Workdir(Access::Read))
    );
    assert_eq!(class_of(&s, "/home/u/proj/build/out.o"), Class::Allowed);
    let text = profile_text(&s);
    assert!(
        text.contains("python_runtime") && text.contains("\"access\": \"read\""),
        "{text}"
    );
}

#[test]
fn hosts_are_allowed_widened_and_narrowed_on_the_network_tab() {
    let mut s = fixture::state();
    press(&mut s, '2');
    assert_eq!(s.tab, Tab::Network);
    // Hosts are sorted: api.github.com, files.pythonhosted.org, pypi.org.
    press(&mut s, 'y');
    let rule = |s: &ReviewState| {
        s.decisions
            .get(&ItemKey::Host("api.github.com".into()))
            .cloned()
    };
    assert_eq!(
        rule(&s).map(|d| d.rule),
        Some(Rule::Host("api.github.com".into()))
    );
    press(&mut s, '+');
    assert_eq!(
        rule(&s).map(|d| d.rule),
        Some(Rule::Host("*.github.com".into()))
    );
    press(&mut s, '+');
    assert!(status(&s).contains("top-level"), "{}", status(&s));
    press(&mut s, '-');
    assert_eq!(
        rule(&s).map(|d| d.rule),
        Some(Rule::Host("api.github.com".into()))
    );
    press(&mut s, 'd');
    assert_eq!(rule(&s).map(|d| d.verdict), Some(Verdict::Deny));
}

#[test]
fn quitting_with_unsaved_decisions_asks_first() {
    let mut s = fixture::state();
    update(&mut s, Msg::Learn(LearnMsg::Finished { exit_code: 0 }));
    assert_eq!(
        press(&mut s, 'q'),
        Some(Command::Quit),
        "nothing to lose: quits"
    );
    let mut s = fixture::state();
    update(&mut s, Msg::Learn(LearnMsg::Finished { exit_code: 0 }));
    select(&mut s, "/data/other.txt");
    press(&mut s, 'y');
    assert_eq!(press(&mut s, 'q'), None);
    assert_eq!(
        s.overlay,
        Overlay::Quit {
            unsaved: true,
            running: false
        }
    );
    press(&mut s, 'n');
    assert_eq!(s.overlay, Overlay::None);
    assert!(!s.quit);
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(press(&mut s, 'y'), Some(Command::Quit));
    assert!(s.quit);
}

#[test]
fn saving_never_overwrites_without_confirmation_nor_a_builtin() {
    let mut s = fixture::state();
    select(&mut s, "/data/other.txt");
    press(&mut s, 'y');
    press(&mut s, 's');
    let Overlay::Save(d) = &s.overlay else {
        panic!("s did not open the save dialog");
    };
    assert_eq!(
        d.target.as_deref(),
        Ok(Path::new(
            "/home/u/.config/nono/profiles/learned-python3.json"
        ))
    );
    assert!(
        d.diff.iter().all(|l| l.sign == '+'),
        "a new file is all additions"
    );
    // A built-in name is refused.
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typing(&mut s, "default");
    assert_eq!(key(&mut s, KeyCode::Enter), None, "saved over a built-in");
    let Overlay::Save(d) = &s.overlay else {
        panic!()
    };
    assert!(
        d.error.as_deref().is_some_and(|e| e.contains("built-in")),
        "{:?}",
        d.error
    );
    // A path: first try never overwrites.
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typing(&mut s, "out/p.json");
    let cmd = key(&mut s, KeyCode::Enter);
    let Some(Command::Save {
        path,
        contents,
        overwrite,
    }) = cmd
    else {
        panic!("Enter did not save: {cmd:?}");
    };
    assert_eq!(path, Path::new("/home/u/proj/out/p.json"));
    assert!(!overwrite);
    assert!(contents.contains("\"name\": \"p\""), "{contents}");
    // It exists: the dialog shows the diff against it and Enter now overwrites.
    update(
        &mut s,
        Msg::SaveFailed {
            path: path.clone(),
            error: "exists".into(),
            existing: Some("{\n  \"extends\": \"default\"\n}\n".into()),
        },
    );
    let Overlay::Save(d) = &s.overlay else {
        panic!()
    };
    assert!(
        d.diff.iter().any(|l| l.sign == ' '),
        "no common line in {:?}",
        d.diff
    );
    assert!(d.diff.iter().any(|l| l.sign == '-'));
    let cmd = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(
            cmd,
            Some(Command::Save {
                overwrite: true,
                ..
            })
        ),
        "{cmd:?}"
    );
    update(&mut s, Msg::Saved { path: path.clone() });
    assert_eq!(s.overlay, Overlay::None);
    assert!(!s.unsaved());
    assert_eq!(s.saved_to.as_deref(), Some(path.as_path()));
}

#[test]
fn keys_go_to_the_command_when_its_terminal_has_the_focus() {
    let mut s = fixture::state();
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Output);
    assert_eq!(press(&mut s, 'q'), Some(Command::SendToPty(b"q".to_vec())));
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        Some(Command::SendToPty(b"\r".to_vec()))
    );
    assert_eq!(
        update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
        ),
        Some(Command::SendToPty(vec![3]))
    );
    assert_eq!(
        update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL))
        ),
        Some(Command::SendToPty(b"\t".to_vec()))
    );
    assert!(!s.quit);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Main);
}

#[test]
fn filters_show_only_matching_rows_and_the_way_to_them() {
    let mut s = fixture::state();
    press(&mut s, 'f');
    assert_eq!(s.filter, Filter::Pending);
    // Leaves are matches; directories are shown as the way to them.
    let observed: Vec<Class> = s
        .rows
        .iter()
        .filter(|r| !s.tree.node(r.node).is_branch())
        .map(|r| s.class(r.node))
        .collect();
    assert!(!observed.is_empty());
    assert!(
        observed.iter().all(|c| *c == Class::Pending),
        "{observed:?}"
    );
    for _ in 0..3 {
        press(&mut s, 'f');
    }
    assert_eq!(s.filter, Filter::Sensitive);
    let paths: Vec<String> = s
        .rows
        .iter()
        .filter(|r| !s.tree.node(r.node).is_branch())
        .map(|r| s.tree.node(r.node).path.display().to_string())
        .collect();
    assert_eq!(paths, ["/home/u/.ssh/id_rsa"]);
    press(&mut s, 'F');
    assert_eq!(s.filter, Filter::All);
}

#[test]
fn search_finds_folded_paths_and_n_goes_on() {
    let mut s = fixture::state();
    press(&mut s, '/');
    typing(&mut s, "os.py");
    key(&mut s, KeyCode::Enter);
    let node = s.current_node().expect("a selection");
    assert_eq!(
        s.tree.node(node).path.as_ref(),
        Path::new("/usr/lib/python3.11/os.py")
    );
    press(&mut s, '/');
    typing(&mut s, ".csv");
    key(&mut s, KeyCode::Enter);
    let first = s.current_node().unwrap();
    press(&mut s, 'n');
    assert_ne!(s.current_node().unwrap(), first);
    press(&mut s, 'N');
    assert_eq!(s.current_node().unwrap(), first);
}

#[test]
fn a_burst_of_events_before_suggestions_are_refreshed_shows_as_not_analysed() {
    let mut s = ReviewState::new(
        nono_learn::LearnModel::new(fixture::ctx()),
        fixture::config(),
        (100, 30),
    );
    s.refresh();
    let event = nono_tracer::event::Event {
        seq: 0,
        time_ns: 0,
        pid: 1,
        ppid: 0,
        exe: None,
        kind: nono_tracer::event::EventKind::File {
            op: nono_tracer::event::FileOp::Read,
            path: "/data/x".into(),
            path2: None,
            result: 0,
        },
    };
    let observations =
        nono_learn::observe::classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
    update(
        &mut s,
        Msg::Learn(LearnMsg::Event {
            event: Box::new(event),
            observations,
        }),
    );
    assert_eq!(class_of(&s, "/data/x"), Class::Unknown);
    s.refresh_suggestions();
    assert_eq!(class_of(&s, "/data/x"), Class::Pending);
}

// ---------------------------------------------------------------------------------
// `d` on one row, finding what is pending, the Exec filter, PATH, the terminal.

#[test]
fn d_on_one_row_of_a_directory_suggestion_denies_that_row_only() {
    let mut s = fixture::state();
    let pending_before = s.pending_count();
    select(&mut s, "/data/set/b.csv");
    press(&mut s, 'd');
    let rule = rule_of(&s, "/data/set/b.csv");
    assert_eq!(
        (rule.path.as_path(), rule.dir),
        (Path::new("/data/set/b.csv"), false),
        "d denied more than the row: {}",
        status(&s)
    );
    assert_eq!(class_of(&s, "/data/set/b.csv"), Class::Denied);
    for sibling in ["/data/set/a.csv", "/data/set/c.csv"] {
        assert_eq!(class_of(&s, sibling), Class::Pending, "{sibling}");
    }
    assert!(status(&s).contains("only"), "{}", status(&s));
    assert_eq!(
        s.pending_count(),
        pending_before,
        "the directory suggestion still waits for the other rows"
    );
    // Allowing the directory on a sibling carves the denied row out, and says so.
    select(&mut s, "/data/set/a.csv");
    press(&mut s, 'y');
    assert!(
        status(&s).contains("carved out") && status(&s).contains("entry by entry"),
        "{}",
        status(&s)
    );
    assert_eq!(class_of(&s, "/data/set/b.csv"), Class::Denied);
    assert_eq!(class_of(&s, "/data/set/c.csv"), Class::Allowed);
    let text = profile_text(&s);
    assert!(
        text.contains("\"read\": [\n      \"/data/set\"")
            && text.contains("\"deny\": [\n      \"/data/set/b.csv\""),
        "{text}"
    );
}

#[test]
fn d_on_the_row_a_directory_was_accepted_on_keeps_the_directory_and_carves_the_row() {
    let mut s = fixture::state();
    select(&mut s, "/data/set/a.csv");
    press(&mut s, 'y');
    press(&mut s, 'd');
    assert_eq!(class_of(&s, "/data/set/a.csv"), Class::Denied);
    assert_eq!(class_of(&s, "/data/set/b.csv"), Class::Allowed);
    let grant = rule_of(&s, "/data/set");
    assert_eq!(
        (grant.path.as_path(), grant.dir, grant.access),
        (Path::new("/data/set"), true, Access::Read)
    );
    assert!(status(&s).contains("entry by entry"), "{}", status(&s));
    let text = profile_text(&s);
    assert!(
        text.contains("\"read\": [\n      \"/data/set\"")
            && text.contains("\"deny\": [\n      \"/data/set/a.csv\""),
        "{text}"
    );
    // One undo step takes both back.
    press(&mut s, 'u');
    assert_eq!(rule_of(&s, "/data/set/a.csv").path, Path::new("/data/set"));
    assert!(!s.decisions.contains_key(&ItemKey::Path("/data/set".into())));
}

#[test]
fn d_inside_the_working_directory_denies_the_row_and_keeps_the_workdir_grant() {
    let mut s = fixture::state();
    select(&mut s, "/home/u/proj/src/main.py");
    press(&mut s, 'd');
    assert!(
        !s.decisions.contains_key(&ItemKey::Workdir),
        "d on one file decided the whole working directory: {}",
        status(&s)
    );
    assert_eq!(class_of(&s, "/home/u/proj/src/main.py"), Class::Denied);
    assert_eq!(class_of(&s, "/home/u/proj/build/out.o"), Class::Pending);
    select(&mut s, "/home/u/proj/build/out.o");
    press(&mut s, 'y');
    assert!(s.decisions.contains_key(&ItemKey::Workdir));
    assert_eq!(class_of(&s, "/home/u/proj/src/main.py"), Class::Denied);
    let text = profile_text(&s);
    assert!(
        text.contains("\"deny\": [\n      \"$HOME/proj/src/main.py\""),
        "the denial inside the working directory is not written:\n{text}"
    );
    // Once the working directory is allowed, d says what the carve costs.
    select(&mut s, "/home/u/proj/build/out.o");
    press(&mut s, 'd');
    assert!(
        status(&s).contains("carved out of the working directory")
            && status(&s).contains("entry by entry"),
        "{}",
        status(&s)
    );
    assert_eq!(
        s.decisions.get(&ItemKey::Workdir).map(|d| d.verdict),
        Some(Verdict::Allow)
    );
}

#[test]
fn p_and_shift_p_walk_the_pending_rows_through_folded_directories() {
    let mut s = fixture::state();
    update(&mut s, Msg::Learn(LearnMsg::Finished { exit_code: 0 }));
    let first = s.current_node().expect("a row is selected");
    assert_eq!(
        s.class(first),
        Class::Pending,
        "after the command exits the cursor is on a pending row: {}",
        s.tree.node(first).path.display()
    );
    assert!(status(&s).contains("pending"), "{}", status(&s));
    // Everything folded: p still finds the next one, unfolding its way.
    press(&mut s, 'C');
    s.cursor[0] = 0;
    s.selected_node = s.rows.first().map(|r| r.node);
    press(&mut s, 'p');
    let a = s.current_node().unwrap();
    assert_eq!(s.class(a), Class::Pending);
    assert_eq!(a, first, "the first pending row from the top");
    press(&mut s, 'p');
    let b = s.current_node().unwrap();
    assert_ne!(a, b);
    assert_eq!(s.class(b), Class::Pending);
    press(&mut s, 'P');
    assert_eq!(s.current_node().unwrap(), a);
    // Visiting every pending row and wrapping around.
    let total = s.pending_below[0] as usize;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..total {
        press(&mut s, 'p');
        seen.insert(s.current_node().unwrap());
    }
    assert_eq!(
        seen.len(),
        total,
        "p visits each pending row once per round"
    );
    // Nothing pending: says so.
    press(&mut s, 'A');
    select(&mut s, "/etc/app.conf");
    press(&mut s, 'd');
    press(&mut s, 'p');
    assert!(status(&s).contains("nothing pending"), "{}", status(&s));
    assert_eq!(s.pending_count(), 0);
}

#[test]
fn a_folded_directory_counts_the_pending_rows_inside_it() {
    let mut s = fixture::state();
    let data = s.tree.find(Path::new("/data")).unwrap();
    assert_eq!(s.pending_inside(data), 5, "a–d.csv and other.txt");
    select(&mut s, "/data/other.txt");
    press(&mut s, 'y');
    assert_eq!(s.pending_inside(data), 4);
    select(&mut s, "/data/set/a.csv");
    press(&mut s, 'd');
    assert_eq!(s.pending_inside(data), 3);
}

#[test]
fn accept_all_reports_the_same_pending_count_as_the_header() {
    let mut s = fixture::state();
    press(&mut s, 'A');
    let pending = s.pending_count();
    assert!(pending > 0, "the system write is left");
    assert!(
        status(&s).contains(&format!("{pending} pending left")),
        "A says `{}`, the header {pending} pending",
        status(&s)
    );
    select(&mut s, "/etc/app.conf");
    press(&mut s, 'd');
    press(&mut s, 'A');
    assert_eq!(s.pending_count(), 0);
    assert!(status(&s).contains("0 pending left"), "{}", status(&s));
}

#[test]
fn the_exec_tab_hides_failed_path_lookups_until_f() {
    let mut s = fixture::state();
    fixture::exec(&mut s, "/usr/local/bin/uname", -2);
    fixture::exec(&mut s, "/home/u/.local/bin/uname", -2);
    fixture::exec(&mut s, "/usr/bin/broken", -13);
    s.refresh();
    press(&mut s, '3');
    let shown = |s: &ReviewState| {
        s.exec_rows()
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shown(&s),
        ["/usr/bin/broken", "/usr/bin/python3", "/usr/bin/uname"],
        "failed PATH lookups (ENOENT) are hidden; other failures are not"
    );
    assert_eq!(s.row_count(), 3);
    assert_eq!(s.hidden_execs(), 2);
    press(&mut s, 'f');
    assert_eq!(s.row_count(), 5);
    assert!(status(&s).contains("f hides"), "{}", status(&s));
    press(&mut s, 'f');
    assert_eq!(s.row_count(), 3);
    assert!(
        status(&s).contains("2 failed PATH lookup"),
        "{}",
        status(&s)
    );
    assert_eq!(
        s.filter,
        Filter::All,
        "f on the Exec tab leaves the Files filter"
    );
}

#[test]
fn a_write_grant_on_a_directory_on_path_asks_first() {
    let mut s = fixture::state();
    fixture::file(
        &mut s,
        nono_tracer::event::FileOp::Create,
        "/home/u/.local/bin/tool",
        0,
    );
    s.refresh_suggestions();
    s.refresh();
    select(&mut s, "/home/u/.local/bin");
    press(&mut s, 'w');
    let Overlay::ConfirmPath(c) = &s.overlay else {
        panic!(
            "w on a PATH directory did not ask: {:?} {}",
            s.overlay,
            status(&s)
        );
    };
    assert_eq!(c.on_path, Path::new("/home/u/.local/bin"));
    press(&mut s, 'n');
    assert_eq!(s.overlay, Overlay::None);
    assert!(status(&s).contains("not granted"));
    assert!(allowed_rules(&s).is_empty(), "granted without a yes");
    // A leaves it for a person.
    press(&mut s, 'A');
    assert!(
        !allowed_rules(&s)
            .iter()
            .any(|(p, _, _)| p.starts_with("/home/u/.local")),
        "{:?}",
        allowed_rules(&s)
    );
    // Widening a read rule above it and then w asks as well; y allows.
    select(&mut s, "/home/u/.local/bin");
    press(&mut s, 'w');
    press(&mut s, 'y');
    assert!(
        allowed_rules(&s).contains(&("/home/u/.local/bin".into(), true, Access::ReadWrite)),
        "{:?}",
        allowed_rules(&s)
    );
    assert!(status(&s).contains("on PATH"), "{}", status(&s));
    // A read-only grant needs no confirmation.
    select(&mut s, "/data/other.txt");
    press(&mut s, 'r');
    assert_eq!(s.overlay, Overlay::None);
}

#[test]
fn keys_go_to_the_command_while_it_waits_and_come_back_when_it_exits() {
    let mut s = fixture::state();
    assert_eq!(s.focus, Focus::Main);
    update(&mut s, Msg::Waiting(true));
    assert_eq!(s.focus, Focus::Output, "the waiting command gets the keys");
    assert!(s.waiting);
    for c in "dan".chars() {
        assert_eq!(
            press(&mut s, c),
            Some(Command::SendToPty(c.to_string().into_bytes()))
        );
    }
    assert!(s.decisions.is_empty(), "typed answers became decisions");
    // Tab goes back by hand, and the state is not changed behind the person's back.
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Main);
    update(&mut s, Msg::Waiting(true));
    assert_eq!(s.focus, Focus::Main, "only a new wait takes the keys");
    update(&mut s, Msg::Waiting(false));
    update(&mut s, Msg::Waiting(true));
    assert_eq!(s.focus, Focus::Output);
    // The command exits: q is the review's again.
    update(&mut s, Msg::Learn(LearnMsg::Finished { exit_code: 0 }));
    assert_eq!(s.focus, Focus::Main);
    assert!(!s.waiting);
    update(&mut s, Msg::Waiting(true));
    assert_eq!(
        (s.focus, s.waiting),
        (Focus::Main, false),
        "nothing waits once it exited"
    );
    assert_eq!(press(&mut s, 'q'), Some(Command::Quit));

    // A closed terminal with the focus on it: keys are the review's.
    let mut s = fixture::state();
    key(&mut s, KeyCode::Tab);
    update(&mut s, Msg::OutputClosed);
    assert_eq!(s.focus, Focus::Main);
    s.focus = Focus::Output;
    press(&mut s, 'j');
    assert_eq!(s.focus, Focus::Main);
    assert!(!status(&s).contains("closed"), "{}", status(&s));
}

#[test]
fn d_on_a_directory_row_denies_everything_below_it() {
    let mut s = fixture::state();
    select(&mut s, "/data/set");
    press(&mut s, 'd');
    for f in ["a", "b", "c", "d"] {
        assert_eq!(
            class_of(&s, &format!("/data/set/{f}.csv")),
            Class::Denied,
            "{f}.csv"
        );
    }
    assert_eq!(class_of(&s, "/data/other.txt"), Class::Pending);
    let rule = rule_of(&s, "/data/set");
    assert_eq!(
        (rule.path.as_path(), rule.dir),
        (Path::new("/data/set"), true)
    );
}
