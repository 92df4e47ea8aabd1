//! The traced command, as people read it: quoted for a shell, named after the program
//! that does the work, and the `nono run` line that replays it under a saved profile.

use std::path::Path;

/// A command line as a shell would read it back (`sh -c 'echo hi'`).
pub fn shell_words<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| shell_word(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word quoted for a POSIX shell, or as it is when it needs no quoting.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Programs that only start another one: the name comes from what they start.
const WRAPPERS: &[&str] = &[
    "env", "nice", "nohup", "time", "timeout", "ionice", "setsid", "stdbuf", "exec", "command",
    "xargs", "chrt", "taskset", "strace", "ltrace", "sudo", "doas",
];

/// Shells whose `-c SCRIPT` names the real program.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"];

/// The program that does the work: `git` for `sh -c 'cd x && git status'`, `make` for
/// `env CC=gcc make`, `python3` for `python3 app.py`. `None` for an empty command.
pub fn real_program<S: AsRef<str>>(argv: &[S]) -> Option<String> {
    let words: Vec<String> = argv.iter().map(|a| a.as_ref().to_string()).collect();
    real_program_in(&words, 0)
}

fn real_program_in(words: &[String], depth: usize) -> Option<String> {
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let base = basename(word);
        // `VAR=value` before a program, and `cd DIR &&` / `;` sequences in a script.
        if is_assignment(word) {
            i += 1;
            continue;
        }
        if base == "cd" || base == "export" || base == "set" || base == "umask" {
            i = skip_to_next_command(words, i);
            continue;
        }
        if ["&&", "||", ";", "|", "(", "{", "!"].contains(&word.as_str()) {
            i += 1;
            continue;
        }
        if WRAPPERS.contains(&base.as_str()) {
            i += 1;
            // Options of the wrapper (and `timeout`'s duration, `nice -n 5`).
            while i < words.len() {
                let w = &words[i];
                if w.starts_with('-') {
                    let takes_value = matches!(w.as_str(), "-n" | "-u" | "-s" | "-k" | "-o");
                    i += if takes_value { 2 } else { 1 };
                } else if is_assignment(w)
                    || (base == "timeout" && w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                {
                    i += 1;
                } else {
                    break;
                }
            }
            continue;
        }
        if SHELLS.contains(&base.as_str()) && depth < 4 {
            // `sh -c SCRIPT`: the script's first program, if it can be read simply.
            if let Some(pos) = words[i + 1..]
                .iter()
                .position(|w| w.starts_with('-') && !w.starts_with("--") && w[1..].contains('c'))
                && let Some(script) = words.get(i + 1 + pos + 1)
            {
                let inner = split_script(script);
                return real_program_in(&inner, depth + 1).or(Some(base));
            }
            // `sh script.sh`: the script's name says more than `sh`.
            if let Some(script) = words[i + 1..].iter().find(|w| !w.starts_with('-')) {
                return Some(stem(script));
            }
            return Some(base);
        }
        return Some(base);
    }
    None
}

fn skip_to_next_command(words: &[String], mut i: usize) -> usize {
    while i < words.len() && !["&&", "||", ";", "|"].contains(&words[i].as_str()) {
        i += 1;
    }
    i
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

fn basename(word: &str) -> String {
    Path::new(word)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| word.to_string())
}

fn stem(word: &str) -> String {
    Path::new(word)
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| word.to_string())
}

/// A shell script split into words, good enough to find its first program: quotes
/// are honoured, operators (`&&`, `;`, `|`) stand alone, nothing is expanded.
fn split_script(script: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let push = |words: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        _ => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => push(&mut words, &mut word, &mut in_word),
            '&' | '|' | ';' | '(' | ')' | '{' | '}' | '\n' => {
                push(&mut words, &mut word, &mut in_word);
                let mut op = c.to_string();
                if (c == '&' || c == '|') && chars.peek() == Some(&c) {
                    op.push(chars.next().unwrap_or(c));
                }
                words.push(op);
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    push(&mut words, &mut word, &mut in_word);
    words
}

/// The default name of a profile learned from `argv`: `learned-PROGRAM`, with the
/// program's name reduced to letters, digits, `-` and `_`.
pub fn default_profile_name<S: AsRef<str>>(argv: &[S]) -> String {
    let program = real_program(argv).unwrap_or_default();
    let clean: String = program
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-');
    if clean.is_empty() {
        "learned".to_string()
    } else {
        format!("learned-{clean}")
    }
}

/// The description of a profile learned from `argv`, keeping its quoting.
pub fn description<S: AsRef<str>>(argv: &[S]) -> String {
    format!("Learned from `{}`", shell_words(argv))
}

/// How `nono run --profile` names a saved profile: its name when it was saved in the
/// user profiles directory (`profiles_dir/NAME.json`), its path otherwise.
pub fn profile_reference(saved: &Path, profiles_dir: &Path) -> String {
    if saved.parent() == Some(profiles_dir)
        && saved.extension().is_some_and(|e| e == "json")
        && let Some(stem) = saved.file_stem().and_then(|s| s.to_str())
    {
        return shell_word(stem);
    }
    shell_word(&saved.display().to_string())
}

/// The whole command that replays `argv` under the profile `reference`.
pub fn replay_command<S: AsRef<str>>(reference: &str, argv: &[S]) -> String {
    format!("nono run --profile {reference} -- {}", shell_words(argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_words(&["sh", "-c", "git status", "it's"]),
            r"sh -c 'git status' 'it'\''s'"
        );
        assert_eq!(shell_words(&["python3", "app.py"]), "python3 app.py");
        assert_eq!(shell_words(&[""]), "''");
    }

    #[test]
    fn the_real_program_is_found_behind_shells_and_wrappers() {
        let cases: &[(&[&str], &str)] = &[
            (&["sh", "-c", "git status"], "git"),
            (
                &["/bin/bash", "-ec", "cd /x && FOO=1 git log | head"],
                "git",
            ),
            (&["env", "CC=gcc", "make", "-j2"], "make"),
            (
                &["timeout", "5", "nice", "-n", "3", "cargo", "build"],
                "cargo",
            ),
            (&["python3", "app.py"], "python3"),
            (&["/usr/bin/make"], "make"),
            (&["sh", "build.sh"], "build"),
            (&["sh", "-c", "'/usr/bin/tar' -cf x.tar ."], "tar"),
            (&["bash", "-c", "sh -c \"sqlite3 db .tables\""], "sqlite3"),
        ];
        for (argv, want) in cases {
            assert_eq!(real_program(argv).as_deref(), Some(*want), "{argv:?}");
        }
        assert_eq!(real_program::<&str>(&[]), None);
    }

    #[test]
    fn default_names_are_plain() {
        assert_eq!(default_profile_name(&["sh", "-c", "git …"]), "learned-git");
        assert_eq!(
            default_profile_name(&["./my tool.py"]),
            "learned-my-tool-py"
        );
        assert_eq!(default_profile_name::<&str>(&[]), "learned");
        assert_eq!(default_profile_name(&["sh", "-c", "&&"]), "learned-sh");
    }

    #[test]
    fn replay_names_the_profile_as_run_finds_it() {
        let dir = Path::new("/home/a/.config/nono/profiles");
        assert_eq!(
            profile_reference(&dir.join("learned-git.json"), dir),
            "learned-git"
        );
        assert_eq!(
            profile_reference(Path::new("/w/my profile.json"), dir),
            "'/w/my profile.json'"
        );
        assert_eq!(
            replay_command("learned-git", &["sh", "-c", "git status"]),
            "nono run --profile learned-git -- sh -c 'git status'"
        );
        assert_eq!(
            description(&["sh", "-c", "echo 'hi'"]),
            r"Learned from `sh -c 'echo '\''hi'\'''`"
        );
    }
}
