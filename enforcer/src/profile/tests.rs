use std::path::PathBuf;

use super::*;
use crate::capability::{Overrides, resolve};
use crate::store::ProfileStore;
use crate::vars::PathVars;

fn parse_str(text: &str) -> Result<Profile, ProfileError> {
    parse(
        text,
        "test",
        ProfileSource::File(PathBuf::from("test.json")),
    )
}

fn vars() -> PathVars {
    PathVars::fixture()
}

fn empty_store() -> ProfileStore {
    ProfileStore::new(PathBuf::from("/nonexistent/nono/profiles"))
}

#[test]
fn upstream_fixtures_parse() {
    for (name, text) in [
        (
            "python-agent",
            include_str!("../../../tests/fixtures/upstream/python-agent.json"),
        ),
        (
            "untrusted-python",
            include_str!("../../../tests/fixtures/upstream/untrusted-python.json"),
        ),
        (
            "deny-extra",
            include_str!("../../../tests/fixtures/upstream/deny-extra.json"),
        ),
    ] {
        let profile = parse(text, name, ProfileSource::Builtin)
            .unwrap_or_else(|e| panic!("fixture {name} failed to parse: {e}"));
        assert_eq!(profile.name, name);
    }
}

#[test]
fn legacy_keys_map_onto_current_ones() {
    let text = include_str!("../../../tests/fixtures/upstream/untrusted-python.json");
    let profile = parse(text, "untrusted-python", ProfileSource::Builtin).unwrap();
    assert_eq!(profile.groups_include[0].name, "python_runtime");
    assert_eq!(profile.groups_include[0].origin.key, "security.groups[0]");
    let denies: Vec<_> = profile
        .filesystem
        .iter()
        .filter(|e| e.key == FsKey::Deny)
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(denies, ["$HOME/.ssh", "$HOME/.aws", "$HOME/.gnupg"]);
    assert_eq!(profile.network.allow_domain[0].value, "api.openai.com");
    assert_eq!(
        profile.network.allow_domain[0].origin.key,
        "network.allow_hosts[0]"
    );
    assert_eq!(
        profile.workdir.as_ref().unwrap().value,
        WorkdirAccess::Readwrite
    );
}

#[test]
fn every_builtin_profile_loads_and_exports_round_trip() {
    let store = empty_store();
    for (name, _) in crate::policy::BUILTIN_PROFILES {
        let profile = store
            .load(name)
            .unwrap_or_else(|e| panic!("built-in {name}: {e}"));
        let exported = serde_json::to_string_pretty(&profile.to_file()).unwrap();
        let again = parse(&exported, name, ProfileSource::Builtin)
            .unwrap_or_else(|e| panic!("export of {name} does not parse: {e}\n{exported}"));
        let caps_a = resolve(&profile, &Overrides::default(), &vars(), store.policy()).unwrap();
        let caps_b = resolve(&again, &Overrides::default(), &vars(), store.policy()).unwrap();
        let strip = |c: &crate::CapabilitySet| {
            let mut grants: Vec<_> = c
                .grants
                .iter()
                .map(|g| (g.path.clone(), g.access, g.kind))
                .collect();
            grants.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut denies: Vec<_> = c.denies.iter().map(|d| d.path.clone()).collect();
            denies.sort();
            (
                grants,
                denies,
                serde_json::to_value(&c.network.mode)
                    .unwrap()
                    .get("mode")
                    .cloned(),
            )
        };
        assert_eq!(
            strip(&caps_a),
            strip(&caps_b),
            "export of {name} changes its rules"
        );
    }
}

#[test]
fn unknown_key_reports_position_and_suggestion() {
    let text = "{\n  \"meta\": {\"name\": \"x\"},\n  \"filesytem\": {\"allow\": []}\n}\n";
    match parse_str(text) {
        Err(ProfileError::UnknownKey {
            line,
            column,
            key,
            suggestion,
            ..
        }) => {
            assert_eq!((line, column), (3, 3));
            assert_eq!(key, "filesytem");
            assert_eq!(suggestion.as_deref(), Some("filesystem"));
        }
        other => panic!("expected UnknownKey, got {other:?}"),
    }
}

#[test]
fn unknown_nested_key_suggests_within_its_object() {
    let text = r#"{"filesystem": {"read_files": ["/x"]}}"#;
    let err = parse_str(text).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("unknown key `read_files`"), "{message}");
    assert!(message.contains("did you mean `read_file`"), "{message}");
}

#[test]
fn comments_are_allowed_and_positions_hold() {
    let text = "{\n  // a comment\n  /* block */ \"workdir\": {\"access\": \"bogus\"}\n}";
    let err = parse_str(text).unwrap_err();
    match err {
        ProfileError::Invalid { line, message, .. } => {
            assert_eq!(line, 3);
            assert!(message.contains("bogus"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn malformed_json_is_a_syntax_error_with_position() {
    let err = parse_str("{\n  \"meta\": {\n}").unwrap_err();
    assert!(
        matches!(err, ProfileError::Syntax { line: 3, .. }),
        "{err:?}"
    );
    let err = parse_str("{\"meta\": {}} trailing").unwrap_err();
    assert!(matches!(err, ProfileError::Syntax { .. }), "{err:?}");
}

#[test]
fn wrong_types_are_reported_not_panicked() {
    for text in [
        r#"{"filesystem": {"allow": "/x"}}"#,
        r#"{"network": {"block": "yes"}}"#,
        r#"{"network": {"listen_port": [70000]}}"#,
        r#"{"extends": 3}"#,
        r#"{"filesystem": {"allow": [{"when": "linux"}]}}"#,
        r#"[]"#,
        r#""#,
        r#"{"meta": []}"#,
        r#"{"filesystem": [["/a"]]}"#,
        r#"{"network": {"custom_credentials": {"x": ["https://a", "k"]}}}"#,
    ] {
        assert!(parse_str(text).is_err(), "accepted {text}");
    }
}

#[test]
fn conditional_entries_parse() {
    let text = r#"{"filesystem": {"read": ["/a", {"path": "/b", "when": ["linux", "!macos"]}]},
                   "groups": {"include": [{"name": "python_runtime", "when": "linux"}]}}"#;
    let profile = parse_str(text).unwrap();
    assert_eq!(
        profile.filesystem[1].when.as_deref(),
        Some(&["linux".to_string(), "!macos".to_string()][..])
    );
    assert_eq!(profile.groups_include[0].name, "python_runtime");
}

#[test]
fn origins_carry_lines() {
    let text =
        "{\n  \"filesystem\": {\n    \"read\": [\n      \"/a\",\n      \"/b\"\n    ]\n  }\n}";
    let profile = parse_str(text).unwrap();
    assert_eq!(profile.filesystem[1].origin.key, "filesystem.read[1]");
    assert_eq!(profile.filesystem[1].origin.line, Some(5));
}

#[test]
fn merge_unites_lists_and_child_scalars_win() {
    let base = parse_str(r#"{"filesystem": {"read": ["/a"]}, "workdir": {"access": "read"}, "network": {"block": true}}"#).unwrap();
    let child = parse_str(r#"{"filesystem": {"read": ["/a", "/b"]}, "network": {"block": false}}"#)
        .unwrap();
    let merged = base.merge(&child);
    let paths: Vec<_> = merged.filesystem.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b"]);
    assert_eq!(merged.workdir.unwrap().value, WorkdirAccess::Read);
    assert!(!merged.network.block.unwrap().value);
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn extends_cycles_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.json", r#"{"extends": "b"}"#);
    write(dir.path(), "b.json", r#"{"extends": ["c"]}"#);
    write(dir.path(), "c.json", r#"{"extends": "a"}"#);
    let store = ProfileStore::new(dir.path().to_path_buf());
    let err = store.load("a").unwrap_err();
    match &err {
        ProfileError::Cycle { chain } => {
            assert_eq!(chain.len(), 4, "{chain:?}");
            assert!(
                chain[0].ends_with("a.json") && chain[3].ends_with("a.json"),
                "{chain:?}"
            );
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
    let self_cycle = write(dir.path(), "self.json", r#"{"extends": "./self.json"}"#);
    assert!(matches!(
        store.load(self_cycle.to_str().unwrap()),
        Err(ProfileError::Cycle { .. })
    ));
}

#[test]
fn extends_merges_bases_left_to_right_and_defaults_to_default() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "one.json",
        r#"{"extends": [], "filesystem": {"read": ["/one"]}, "workdir": {"access": "read"}}"#,
    );
    write(
        dir.path(),
        "two.json",
        r#"{"extends": [], "filesystem": {"read": ["/two"]}, "workdir": {"access": "write"}}"#,
    );
    write(
        dir.path(),
        "child.json",
        r#"{"extends": ["one", "two"], "filesystem": {"read": ["/child"]}}"#,
    );
    write(
        dir.path(),
        "plain.json",
        r#"{"filesystem": {"read": ["/plain"]}}"#,
    );
    let store = ProfileStore::new(dir.path().to_path_buf());
    let child = store.load("child").unwrap();
    let paths: Vec<_> = child.filesystem.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/one", "/two", "/child"]);
    assert_eq!(
        child.workdir.unwrap().value,
        WorkdirAccess::Write,
        "later base wins"
    );
    assert_eq!(child.chain, ["one", "two", "child"]);
    let plain = store.load("plain").unwrap();
    assert_eq!(
        plain.chain,
        ["default", "plain"],
        "no `extends` means the built-in default"
    );
    assert!(
        plain
            .groups_include
            .iter()
            .any(|g| g.name == "system_read_linux")
    );
}

#[test]
fn user_profile_may_not_shadow_a_builtin() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "python-agent.json", r#"{}"#);
    let store = ProfileStore::new(dir.path().to_path_buf());
    assert!(matches!(
        store.load("python-agent"),
        Err(ProfileError::ShadowsBuiltin { .. })
    ));
    let listed = store.list();
    let user = listed
        .iter()
        .find(|l| matches!(l.source, ProfileSource::File(_)))
        .unwrap();
    assert!(
        user.error
            .as_deref()
            .unwrap_or("")
            .contains("same name as the built-in")
    );
}

#[test]
fn semantic_errors_name_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.json",
        "{\n  \"groups\": {\n    \"include\": [\"python_runtim\"],\n    \"exclude\": [\"deny_credentials\"]\n  },\n  \"network\": {\"network_profile\": \"minmal\", \"credentials\": [\"opnai\"], \"allow_domain\": [\"https://x.com/\"]},\n  \"environment\": {\"set_vars\": {\"PATH\": \"/x\"}, \"allow_vars\": [\"A*B\"]},\n  \"filesystem\": {\"read\": [\"$HOEM/x\", \"relative\"]}\n}",
    );
    let store = ProfileStore::new(dir.path().to_path_buf());
    let errors = store.load_all_errors(path.to_str().unwrap()).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    for needle in [
        "unknown group `python_runtim`, did you mean `python_runtime`?",
        "`groups.include[0]` in profile `bad`",
        ":3)",
        "group `deny_credentials` is required and cannot be excluded",
        "unknown network profile `minmal`, did you mean `minimal`?",
        "unknown credential service `opnai`, did you mean `openai`?",
        "without scheme or path",
        "`PATH` is reserved",
        "invalid variable pattern `A*B`",
        "unknown variable `$HOEM`",
        "path `relative` is relative",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn legacy_and_current_profiles_resolve_to_the_same_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = write(
        dir.path(),
        "legacy.json",
        r#"{
          "security": {"groups": ["python_runtime"]},
          "policy": {"add_deny_access": ["$HOME/.kube2"], "add_allow_read": ["/opt/data"],
                     "add_allow_readwrite": ["$TMPDIR/work"], "exclude_groups": ["git_config"]},
          "network": {"allow_hosts": ["api.openai.com"]},
          "workdir": {"access": "readwrite"},
          "interactive": false
        }"#,
    );
    let current = write(
        dir.path(),
        "current.json",
        r#"{
          "groups": {"include": ["python_runtime"], "exclude": ["git_config"]},
          "filesystem": {"deny": ["$HOME/.kube2"], "read": ["/opt/data"], "allow": ["$TMPDIR/work"]},
          "network": {"allow_domain": ["api.openai.com"]},
          "workdir": {"access": "readwrite"}
        }"#,
    );
    let store = ProfileStore::new(dir.path().to_path_buf());
    let a = store.load(legacy.to_str().unwrap()).unwrap();
    let b = store.load(current.to_str().unwrap()).unwrap();
    let caps_a = resolve(&a, &Overrides::default(), &vars(), store.policy()).unwrap();
    let caps_b = resolve(&b, &Overrides::default(), &vars(), store.policy()).unwrap();
    // Order does not matter to the sandbox; compare as sets.
    let view = |c: &crate::CapabilitySet| {
        let mut grants = c
            .grants
            .iter()
            .map(|g| (g.path.clone(), g.access, g.kind))
            .collect::<Vec<_>>();
        grants.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut denies = c.denies.iter().map(|d| d.path.clone()).collect::<Vec<_>>();
        denies.sort();
        (
            grants,
            denies,
            c.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
            serde_json::to_value(&c.network.mode).unwrap()["hosts"]
                .as_array()
                .map(|h| h.iter().map(|x| x["pattern"].clone()).collect::<Vec<_>>()),
        )
    };
    assert_eq!(view(&caps_a), view(&caps_b));
    assert!(a.notes.iter().any(|n| n.contains("interactive")));
}

#[test]
fn schema_is_generated_and_names_every_section() {
    let schema = json_schema();
    let text = schema.to_string();
    for key in [
        "filesystem",
        "allow_file",
        "network_profile",
        "custom_credentials",
        "set_vars",
        "exclude_globs",
        "add_deny_access",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
}

/// The built-in profiles skip the check that sections are objects (it needs a second
/// parse); it holds for them, as it would for a user's file of the same text.
#[test]
fn builtin_profiles_pass_the_checks_of_a_users_file() {
    for (name, text) in crate::policy::BUILTIN_PROFILES {
        let as_file = ProfileSource::File(PathBuf::from(format!("/p/{name}.json")));
        parse(text, name, as_file).unwrap_or_else(|e| panic!("built-in {name}: {e}"));
    }
}

/// Texts without `//`, `/*` or `#` are taken as they are; the others are stripped as
/// before (a `#` or `//` inside a string is not a comment).
#[test]
fn comment_stripping_is_skipped_only_without_comment_markers() {
    for text in [
        r#"{"a": "/usr/bin"}"#,
        r#"{"a": "http://x"} // c"#,
        "{\"a\": 1} # c\n",
        r##"{"a": "#"} /* c */"##,
        r#"{"a": 1}"#,
    ] {
        let mut expected = String::new();
        std::io::Read::read_to_string(
            &mut json_comments::StripComments::new(text.as_bytes()),
            &mut expected,
        )
        .unwrap();
        assert_eq!(strip_comments(text, "t").unwrap(), expected, "{text}");
    }
}

/// The inputs that made the old hand-written position scanner loop forever while
/// allocating (a `}` or `:` where an array element belongs) are plain syntax errors.
#[test]
fn malformed_arrays_are_errors_not_hangs() {
    for text in [
        r#"{"filesystem": {"allow": ["/a", }]}}"#,
        r#"{"filesystem": {"allow": [:]}}"#,
        r#"{"a": [}"#,
        r#"[}]"#,
        r#"{"a": [1, 2, }, "b": 3}"#,
    ] {
        let started = std::time::Instant::now();
        let result = parse_str(text);
        assert!(
            matches!(result, Err(ProfileError::Syntax { .. })),
            "{text}: {result:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{text}"
        );
        // The index alone, on text nobody validated, ends too.
        let _ = PositionIndex::build(text);
    }
}

/// Seeds for the mutation test: every profile text this project ships or reads.
fn seed_profiles() -> Vec<String> {
    let mut seeds: Vec<String> = vec![
        include_str!("../../../tests/fixtures/upstream/python-agent.json").into(),
        include_str!("../../../tests/fixtures/upstream/untrusted-python.json").into(),
        include_str!("../../../tests/fixtures/upstream/deny-extra.json").into(),
    ];
    for (_, text) in crate::policy::BUILTIN_PROFILES {
        seeds.push(text.to_string());
    }
    seeds
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Mutated profiles (bytes deleted, structural characters inserted, spans
    /// repeated, the text cut): parsing never panics and never takes more than 100 ms.
    #[test]
    fn mutated_profiles_never_hang_or_panic(
        seed in 0usize..64,
        edits in proptest::collection::vec((0u8..4, 0usize..100_000, 0usize..8, 0usize..12), 1..12),
    ) {
        let seeds = seed_profiles();
        let mut bytes = seeds[seed % seeds.len()].clone().into_bytes();
        const STRUCTURAL: &[u8] = b"{}[]\",:\\/*#\n0-";
        for (kind, at, len, pick) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = at % bytes.len();
            match kind {
                0 => {
                    let end = (at + len + 1).min(bytes.len());
                    bytes.drain(at..end);
                }
                1 => bytes.insert(at, STRUCTURAL[pick % STRUCTURAL.len()]),
                2 => {
                    let end = (at + len * 7 + 1).min(bytes.len());
                    let span: Vec<u8> = bytes[at..end].to_vec();
                    for _ in 0..(len + 1) {
                        bytes.splice(at..at, span.iter().copied());
                    }
                }
                _ => bytes.truncate(at),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let started = std::time::Instant::now();
        let _ = parse_str(&text);
        let _ = PositionIndex::build(&text);
        let took = started.elapsed();
        proptest::prop_assert!(
            took < std::time::Duration::from_millis(100),
            "took {took:?} on {text:?}"
        );
    }
}
