use crate::util::*;

#[test]
fn ssh_key_under_allowed_home_is_a_sensitive_path() {
    let w = World::new();
    w.write("home/.ssh/id_rsa", "secret");
    let key = w.home().join(".ssh/id_rsa");
    let out = w.run(&[
        "why",
        "--json",
        "--path",
        p(&key),
        "--op",
        "read",
        "--allow",
        p(&w.home()),
    ]);
    assert_code(&out, 1, "denied");
    let answer = json(&out);
    assert_eq!(answer["status"], "denied");
    assert_eq!(answer["reason"], "sensitive_path");
    assert_eq!(answer["group"], "deny_credentials");
}

#[test]
fn tilde_is_expanded_like_in_profiles() {
    let w = World::new();
    w.write("home/.ssh/id_rsa", "secret");
    let out = w.run(&["why", "--path", "~/.ssh/id_rsa", "--allow", "~"]);
    assert_code(&out, 1, "denied");
    assert!(stdout(&out).contains("sensitive_path"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("deny_credentials"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn other_files_under_allowed_home_are_granted() {
    let w = World::new();
    w.write("home/.ssh/id_rsa", "secret");
    let notes = w.write("home/notes.txt", "hi");
    let out = w.run(&[
        "why",
        "--json",
        "--path",
        p(&notes),
        "--op",
        "write",
        "--allow",
        p(&w.home()),
    ]);
    assert_code(&out, 0, "allowed");
    let answer = json(&out);
    assert_eq!(answer["reason"], "granted_by");
    assert_eq!(answer["provenance"]["flag"], "--allow");
}

#[test]
fn write_to_system_file_is_insufficient_access_naming_the_group() {
    let w = World::new();
    let out = w.run(&["why", "--json", "--path", "/etc/passwd", "--op", "write"]);
    assert_code(&out, 1, "denied");
    let answer = json(&out);
    assert_eq!(answer["reason"], "insufficient_access");
    assert_eq!(answer["group"], "system_read_linux");
    assert_eq!(answer["granted_access"], "read");
}

#[test]
fn ungranted_path_gets_a_suggested_flag() {
    let w = World::new();
    let data = w.write("elsewhere/data.csv", "1,2");
    let out = w.run(&["why", "--json", "--path", p(&data)]);
    assert_code(&out, 1, "denied");
    let answer = json(&out);
    assert_eq!(answer["reason"], "path_not_granted");
    assert_eq!(
        answer["suggested_flag"],
        format!("--read-file {}", p(&data))
    );
    let dir = data.parent().unwrap();
    let out = w.run(&["why", "--json", "--path", p(dir), "--op", "readwrite"]);
    assert_eq!(json(&out)["suggested_flag"], format!("--allow {}", p(dir)));
}

#[test]
fn profile_grants_name_their_line() {
    let w = World::new();
    let data = w.write("data/x.txt", "x");
    let profile = w.write(
        "p.json",
        &format!(
            "{{\n  \"filesystem\": {{\n    \"read\": [\"{}\"]\n  }}\n}}",
            p(data.parent().unwrap())
        ),
    );
    let out = w.run(&[
        "why",
        "--json",
        "--path",
        p(&data),
        "--profile",
        p(&profile),
    ]);
    assert_code(&out, 0, "allowed by profile");
    let origin = &json(&out)["provenance"]["origin"];
    assert_eq!(origin["key"], "filesystem.read[0]");
    assert_eq!(origin["line"], 3);
}

#[test]
fn nono_state_is_never_granted() {
    let w = World::new();
    let state = w.write("home/.local/state/nono/sessions/x/session.json", "{}");
    let out = w.run(&[
        "why",
        "--json",
        "--path",
        p(&state),
        "--allow",
        p(&w.home()),
    ]);
    assert_code(&out, 1, "nono state");
    assert_eq!(json(&out)["reason"], "sensitive_path");
    assert_eq!(json(&out)["provenance"]["kind"], "nono_state");
}

#[test]
fn hosts_follow_the_network_policy() {
    let w = World::new();
    let out = w.run(&["why", "--json", "--host", "example.com"]);
    assert_code(&out, 0, "unrestricted by default");
    assert_eq!(json(&out)["reason"], "network_allowed");

    let out = w.run(&["why", "--json", "--host", "example.com", "--block-net"]);
    assert_code(&out, 1, "blocked");
    assert_eq!(json(&out)["reason"], "network_blocked");

    let out = w.run(&[
        "why",
        "--json",
        "--host",
        "api.openai.com",
        "--network-profile",
        "minimal",
    ]);
    assert_code(&out, 0, "minimal allows openai");
    assert_eq!(json(&out)["reason"], "granted_by");

    let out = w.run(&[
        "why",
        "--json",
        "--host",
        "evil.example",
        "--network-profile",
        "minimal",
        "--port",
        "8443",
    ]);
    assert_code(&out, 1, "minimal refuses others");
    let answer = json(&out);
    assert_eq!(answer["reason"], "host_not_allowed");
    assert_eq!(answer["suggested_flag"], "--allow-domain evil.example");

    let out = w.run(&[
        "why",
        "--json",
        "--host",
        "a.b.example.org",
        "--allow-domain",
        "*.example.org",
    ]);
    assert_code(&out, 0, "wildcard");
}

#[test]
fn bad_why_inputs_are_usage_errors() {
    let w = World::new();
    let out = w.run(&["why", "--path", "/tmp", "--read", "/nonexistent/dir"]);
    assert_code(&out, 2, "missing grant");
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let file = w.write("file.txt", "x");
    let out = w.run(&["why", "--path", "/tmp", "--read", p(&file)]);
    assert_code(&out, 2, "--read on a file");
    assert!(stderr(&out).contains("--read-file"), "{}", stderr(&out));
    let out = w.run(&["why", "--host", "x.com", "--network-profile", "nope"]);
    assert_code(&out, 2, "unknown network profile");
    let out = w.run(&["why"]);
    assert_code(&out, 2, "no target");
}
