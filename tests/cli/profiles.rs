use crate::util::*;

#[test]
fn list_shows_the_builtins() {
    let w = World::new();
    let out = w.run(&["profiles", "list"]);
    assert_code(&out, 0, "profiles list");
    let text = stdout(&out);
    for name in [
        "default",
        "python-agent",
        "node-agent",
        "claude-code",
        "codex",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let listed = json(&w.run(&["profiles", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 5);
}

#[test]
fn export_output_validates() {
    let w = World::new();
    for name in [
        "default",
        "python-agent",
        "node-agent",
        "claude-code",
        "codex",
    ] {
        let out = w.run(&["profiles", "export", name]);
        assert_code(&out, 0, "export");
        let file = w.write(&format!("exported-{name}.json"), &stdout(&out));
        let check = w.run(&["profiles", "validate", p(&file)]);
        assert_code(&check, 0, &format!("validate exported {name}"));
    }
}

#[test]
fn unknown_key_is_exit_2_with_position_and_suggestion() {
    let w = World::new();
    let file = w.write(
        "typo.json",
        "{\n  \"meta\": {\"name\": \"t\"},\n  \"filesytem\": {\"allow\": [\"/tmp\"]}\n}\n",
    );
    let out = w.run(&["profiles", "validate", p(&file)]);
    assert_code(&out, 2, "unknown key");
    let err = stderr(&out);
    assert!(err.contains("typo.json:3:3"), "no line:column in:\n{err}");
    assert!(
        err.contains("did you mean `filesystem`"),
        "no suggestion in:\n{err}"
    );
}

#[test]
fn upstream_fixtures_validate() {
    let w = World::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream");
    for name in [
        "python-agent.json",
        "untrusted-python.json",
        "deny-extra.json",
    ] {
        let out = w.run(&["profiles", "validate", p(&root.join(name))]);
        assert_code(&out, 0, name);
    }
}

#[test]
fn validate_json_lists_every_problem() {
    let w = World::new();
    let file = w.write(
        "bad.json",
        r#"{"groups": {"include": ["nope", "python_runtim"]}}"#,
    );
    let out = w.run(&["profiles", "validate", "--json", p(&file)]);
    assert_code(&out, 2, "invalid profile");
    let report = json(&out);
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"].as_array().unwrap().len(), 2, "{report}");
}

#[test]
fn bad_inputs_are_clear_errors_with_exit_2() {
    let w = World::new();
    let malformed = w.write("malformed.json", "{\"meta\": {\"name\": \"x\",}}");
    let out = w.run(&["profiles", "validate", p(&malformed)]);
    assert_code(&out, 2, "malformed JSON");
    assert!(stderr(&out).contains("invalid JSON"), "{}", stderr(&out));

    let out = w.run(&["profiles", "validate", "/nonexistent/profile.json"]);
    assert_code(&out, 2, "missing file");
    assert!(
        stderr(&out).contains("/nonexistent/profile.json"),
        "{}",
        stderr(&out)
    );

    w.write("cyc/a.json", r#"{"extends": "./b.json"}"#);
    let b = w.write("cyc/b.json", r#"{"extends": "./a.json"}"#);
    let out = w.run(&["profiles", "validate", p(&b)]);
    assert_code(&out, 2, "extends cycle");
    assert!(stderr(&out).contains("`extends` cycle"), "{}", stderr(&out));

    let out = w.run(&["profiles", "show", "no-such-profile"]);
    assert_code(&out, 2, "unknown profile");
    assert!(
        stderr(&out).contains("no profile named `no-such-profile`"),
        "{}",
        stderr(&out)
    );

    let binary = w.write("binary.json", "");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    let out = w.run(&["profiles", "validate", p(&binary)]);
    assert_code(&out, 2, "binary file");
    assert!(stderr(&out).contains("UTF-8"), "{}", stderr(&out));
}

#[test]
fn non_utf8_paths_are_clear_errors() {
    use std::os::unix::ffi::OsStrExt;
    let w = World::new();
    let name = std::ffi::OsStr::from_bytes(b"/tmp/\xff\xfe.json");
    let out = w
        .nono(&["profiles", "validate"])
        .arg(name)
        .output()
        .unwrap();
    assert_code(&out, 2, "non-UTF-8 profile path");
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    let out = w
        .nono(&["why", "--path", "/tmp", "--allow"])
        .arg(name)
        .output()
        .unwrap();
    assert_code(&out, 2, "non-UTF-8 grant");
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
}

#[test]
fn show_expands_groups_and_names_origins() {
    let w = World::new();
    let out = w.run(&["profiles", "show", "python-agent"]);
    assert_code(&out, 0, "show");
    let text = stdout(&out);
    assert!(text.contains("deny_credentials [required]"), "{text}");
    assert!(text.contains("~/.ssh"), "{text}");
    assert!(text.contains("network profile developer"), "{text}");
    let shown = json(&w.run(&["profiles", "show", "--json", "python-agent"]));
    assert_eq!(
        shown["profile"]["chain"],
        serde_json::json!(["default", "python-agent"])
    );
}

#[test]
fn user_profiles_are_found_and_may_not_shadow_builtins() {
    let w = World::new();
    w.write(
        "home/.config/nono/profiles/mine.json",
        r#"{"meta": {"description": "my profile"}, "filesystem": {"read": ["$HOME/data"]}}"#,
    );
    w.write("home/.config/nono/profiles/codex.json", r#"{}"#);
    let listing = stdout(&w.run(&["profiles", "list"]));
    assert!(
        listing.contains("mine") && listing.contains("my profile"),
        "{listing}"
    );
    assert!(
        listing.contains("unusable"),
        "shadowing file not flagged:\n{listing}"
    );
    assert_code(&w.run(&["profiles", "show", "mine"]), 0, "user profile");
    let out = w.run(&["profiles", "show", "codex"]);
    assert_code(&out, 2, "shadowing");
    assert!(
        stderr(&out).contains("same name as the built-in"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn schema_is_json_schema() {
    let w = World::new();
    let schema = json(&w.run(&["profiles", "schema"]));
    assert!(
        schema["$schema"]
            .as_str()
            .unwrap_or("")
            .contains("json-schema.org"),
        "{schema}"
    );
    assert!(schema["properties"]["filesystem"].is_object(), "{schema}");
}
