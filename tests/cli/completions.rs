use crate::util::*;

#[test]
fn completions_for_each_shell() {
    let w = World::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = w.run(&["completions", shell]);
        assert_code(&out, 0, shell);
        assert!(
            stdout(&out).contains("profiles"),
            "{shell} completions lack subcommands"
        );
    }
}

#[test]
fn man_page_is_roff() {
    let w = World::new();
    let out = w.run(&["man"]);
    assert_code(&out, 0, "man");
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH nono"),
        "{page}"
    );
    assert!(page.contains("profiles"), "man page lacks subcommands");
}
