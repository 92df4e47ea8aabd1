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

/// The generated schema must accept every profile nono accepts (aliases, the
/// `{name, when}` form, the upstream fixtures, every exported built-in) and reject an
/// unknown key, checked with Python's `jsonschema` (Draft 2020-12).
#[test]
fn schema_accepts_what_nono_accepts() {
    let w = World::new();
    let probe = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip("python3 with the jsonschema package is needed (pip install jsonschema)");
        return;
    }
    let schema = w.write("schema.json", &stdout(&w.run(&["profiles", "schema"])));
    let aliases = w.write(
        "aliases.json",
        r#"{"undo": {"exclude_patterns": ["x"]},
            "network": {"proxy_allow": ["a.com"], "port_allow": [8080], "proxy_credentials": ["openai"]},
            "groups": {"include": [{"name": "python_runtime", "when": "linux"}, {"name": "node_runtime"}]},
            "filesystem": {"read": [{"path": "/opt"}]}}"#,
    );
    assert_code(
        &w.run(&["profiles", "validate", p(&aliases)]),
        0,
        "nono accepts the alias profile",
    );
    let mut files = vec![aliases];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream");
    for name in [
        "python-agent.json",
        "untrusted-python.json",
        "deny-extra.json",
    ] {
        files.push(root.join(name));
    }
    for name in [
        "default",
        "python-agent",
        "node-agent",
        "claude-code",
        "codex",
    ] {
        files.push(w.write(
            &format!("{name}.json"),
            &stdout(&w.run(&["profiles", "export", name])),
        ));
    }
    let script = "import json,sys,jsonschema\nschema=json.load(open(sys.argv[1]))\nfor f in sys.argv[2:]:\n    jsonschema.validate(json.load(open(f)), schema, cls=jsonschema.Draft202012Validator)\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "schema rejects a valid profile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let typo = w.write("typo.json", r#"{"filesytem": {}}"#);
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .arg(&typo)
        .output()
        .unwrap();
    assert!(!out.status.success(), "schema accepts an unknown key");
}

#[test]
fn broken_pipe_is_not_an_error() {
    let w = World::new();
    let out = w.nono(&["profiles", "schema"]).output().unwrap();
    assert_code(&out, 0, "schema");
    // Close the reading end early: `nono … | head -c 10`.
    let shell = format!(
        "{} profiles schema | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_nono")
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &shell])
        .env("HOME", w.home())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "0",
        "nono's exit status when its reader goes away: {}",
        stderr(&out)
    );
}

#[test]
fn plain_http_credentials_only_to_real_loopback_hosts() {
    let w = World::new();
    for (upstream, ok) in [
        ("http://127.0.0.1:8080", true),
        ("http://localhost/v1", true),
        ("http://[::1]:9000", true),
        ("https://api.example.com", true),
        ("http://127.attacker.example", false),
        ("http://localhost.attacker.example/x", false),
        ("http://user@127.0.0.1/", false),
        ("http://api.example.com", false),
    ] {
        let file = w.write(
            "cred.json",
            &format!(r#"{{"network": {{"custom_credentials": {{"svc": {{"upstream": "{upstream}", "credential_key": "env://TOKEN"}}}}}}}}"#),
        );
        let out = w.run(&["profiles", "validate", p(&file)]);
        assert_code(&out, if ok { 0 } else { 2 }, upstream);
    }
}

#[test]
fn set_vars_values_are_expanded_not_normalized() {
    let w = World::new();
    let file = w.write("env.json", r#"{"environment": {"set_vars": {"URL": "http://localhost:$UID//x/../y", "BAD": "cost $5"}}}"#);
    let out = w.run(&["profiles", "validate", p(&file)]);
    assert_code(&out, 2, "unknown variable in a value");
    assert!(
        stderr(&out).contains("unknown variable `$5`"),
        "{}",
        stderr(&out)
    );
    let file = w.write(
        "env2.json",
        r#"{"environment": {"set_vars": {"URL": "http://localhost:$UID//x/../y"}}}"#,
    );
    let plan = json(&w.run(&[
        "run",
        "--dry-run",
        "--json",
        "--profile",
        p(&file),
        "--",
        "true",
    ]));
    let value = plan["caps"]["environment"]["set_vars"]["URL"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        value.starts_with("http://localhost:") && value.ends_with("//x/../y"),
        "{value}"
    );
}

#[test]
fn a_bypass_that_lifts_nothing_is_an_error() {
    let w = World::new();
    std::fs::create_dir_all(w.home().join(".ssh")).unwrap();
    let file = w.write(
        "bypass.json",
        r#"{"filesystem": {"bypass_protection": ["~/.ssh/known_hosts"]}}"#,
    );
    let out = w.run(&["why", "--path", "/tmp", "--profile", p(&file)]);
    assert_code(&out, 2, "useless bypass");
    assert!(stderr(&out).contains("lifts no denial"), "{}", stderr(&out));
    assert!(stderr(&out).contains(".ssh itself"), "{}", stderr(&out));
}

#[test]
fn a_user_default_profile_does_not_break_the_builtins() {
    let w = World::new();
    w.write(
        "home/.config/nono/profiles/default.json",
        r#"{"extends": []}"#,
    );
    assert_code(
        &w.run(&["profiles", "show", "python-agent"]),
        0,
        "built-in extends the built-in default",
    );
    let out = w.run(&["profiles", "show", "default"]);
    assert_code(&out, 2, "the shadowing name itself is refused");
}

#[test]
fn show_marks_groups_whose_when_does_not_match() {
    let w = World::new();
    let file = w.write(
        "when.json",
        r#"{"groups": {"include": [{"name": "python_runtime", "when": "macos"}]}}"#,
    );
    let shown = json(&w.run(&["profiles", "show", "--json", p(&file)]));
    let group = shown["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "python_runtime")
        .unwrap()
        .clone();
    assert_eq!(group["applies_here"], false, "{group}");
}
