//! `nono profiles list | show | export | validate | schema`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use nono_enforcer::profile::{self, ProfileSource};
use nono_enforcer::{Policy, Profile, ProfileError};
use serde::Serialize;

use crate::cli::ProfilesCommand;
use crate::context;
use crate::output::{Style, print_json};
use crate::{CmdResult, EXIT_USAGE, usage};

/// Runs a `profiles` subcommand.
pub fn run(cmd: ProfilesCommand) -> CmdResult {
    let vars = context::vars(context::current_dir()?);
    let store = context::store(&vars);
    match cmd {
        ProfilesCommand::List(flag) => {
            let list = store.list();
            if flag.json {
                print_json(&list)?;
                return Ok(ExitCode::SUCCESS);
            }
            let style = Style::stdout();
            let mut out = std::io::stdout().lock();
            let width = list.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
            writeln!(
                out,
                "{}",
                style.bold(&format!("{:width$}  {:8}  DESCRIPTION", "NAME", "SOURCE"))
            )
            .context("writing")?;
            for entry in &list {
                let source = match &entry.source {
                    ProfileSource::Builtin => "built-in".to_string(),
                    ProfileSource::File(_) => "user".to_string(),
                };
                let description = match &entry.error {
                    Some(e) => style.bad(&format!("unusable: {e}")),
                    None => entry.description.clone().unwrap_or_default(),
                };
                writeln!(out, "{:width$}  {:8}  {}", entry.name, source, description)
                    .context("writing")?;
            }
            writeln!(
                out,
                "{}",
                style.dim(&format!("user profiles: {}", store.user_dir().display()))
            )
            .context("writing")?;
            Ok(ExitCode::SUCCESS)
        }
        ProfilesCommand::Show { name, json } => {
            let profile = store.load(&name).map_err(usage)?;
            if json {
                print_json(&ShowJson::new(&profile, store.policy()))?;
            } else {
                print_show(&profile, store.policy()).context("writing")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ProfilesCommand::Export { name } => {
            let profile = store.load(&name).map_err(usage)?;
            print_json(&profile.to_file())?;
            Ok(ExitCode::SUCCESS)
        }
        ProfilesCommand::Validate { file, json } => validate(&store, &file, json),
        ProfilesCommand::Schema => {
            print_json(&profile::json_schema())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Serialize)]
struct ValidateJson {
    valid: bool,
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    errors: Vec<String>,
    notes: Vec<String>,
}

fn validate(store: &nono_enforcer::ProfileStore, file: &Path, json: bool) -> CmdResult {
    let display = file.display().to_string();
    // A name without a path separator is looked up like --profile; anything else is a path.
    let reference = match file.to_str() {
        Some(s) => s.to_string(),
        None => {
            return Err(usage(anyhow::anyhow!(
                "{display}: the path is not valid UTF-8; rename the file or pass it through a symlink"
            )));
        }
    };
    let result = store.load_all_errors(&reference);
    let report = match &result {
        Ok(profile) => ValidateJson {
            valid: true,
            file: display.clone(),
            name: Some(profile.name.clone()),
            errors: Vec::new(),
            notes: profile.notes.clone(),
        },
        Err(errors) => ValidateJson {
            valid: false,
            file: display.clone(),
            name: None,
            errors: errors.iter().map(ProfileError::to_string).collect(),
            notes: Vec::new(),
        },
    };
    if json {
        print_json(&report)?;
    } else {
        let out_style = Style::stdout();
        let err_style = Style::stderr();
        if report.valid {
            println!("{} {display} is a valid profile", out_style.ok("ok:"));
            for note in &report.notes {
                println!("{} {note}", out_style.warn("note:"));
            }
        } else {
            for error in &report.errors {
                eprintln!("{} {error}", err_style.error("error:"));
            }
            eprintln!("{display}: {} problem(s)", report.errors.len());
        }
    }
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_USAGE)
    })
}

#[derive(Serialize)]
struct GroupJson<'a> {
    name: &'a str,
    description: &'a str,
    platform: &'static str,
    required: bool,
    applies_here: bool,
    excluded: bool,
    group: &'a nono_enforcer::policy::Group,
}

#[derive(Serialize)]
struct ShowJson<'a> {
    profile: &'a Profile,
    groups: Vec<GroupJson<'a>>,
}

impl<'a> ShowJson<'a> {
    fn new(profile: &'a Profile, policy: &'a Policy) -> Self {
        ShowJson {
            profile,
            groups: group_rows(profile, policy),
        }
    }
}

fn group_rows<'a>(profile: &'a Profile, policy: &'a Policy) -> Vec<GroupJson<'a>> {
    let mut names: Vec<&str> = policy.required_groups().collect();
    let mut inactive_by_when: Vec<&str> = Vec::new();
    for entry in &profile.groups_include {
        if !names.contains(&entry.name.as_str()) {
            names.push(&entry.name);
            if !nono_enforcer::store::when_applies(&entry.when) {
                inactive_by_when.push(&entry.name);
            }
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let (name, group) = policy.groups.get_key_value(name)?;
            Some(GroupJson {
                name,
                description: &group.description,
                platform: group.platform.name(),
                required: group.required,
                applies_here: group.platform.applies_here()
                    && !inactive_by_when.contains(&name.as_str()),
                excluded: !group.required && profile.groups_exclude.iter().any(|x| &x.name == name),
                group,
            })
        })
        .collect()
}

fn print_show(profile: &Profile, policy: &Policy) -> std::io::Result<()> {
    let style = Style::stdout();
    let mut out = std::io::stdout().lock();
    let source = match &profile.source {
        ProfileSource::Builtin => "built-in".to_string(),
        ProfileSource::File(p) => p.display().to_string(),
    };
    writeln!(
        out,
        "{} {}",
        style.bold(&format!("profile {}", profile.name)),
        style.dim(&format!("({source})"))
    )?;
    if let Some(description) = &profile.meta.description {
        writeln!(out, "  {description}")?;
    }
    if profile.chain.len() > 1 {
        writeln!(out, "  builds on: {}", profile.chain.join(" → "))?;
    }
    writeln!(out)?;
    let workdir = profile
        .workdir
        .as_ref()
        .map(|w| format!("{:?}", w.value).to_lowercase());
    writeln!(
        out,
        "{} {}",
        style.bold("workdir:"),
        workdir.as_deref().unwrap_or("none")
    )?;
    writeln!(out, "{}", style.bold("groups:"))?;
    for row in group_rows(profile, policy) {
        let mut tags = Vec::new();
        if row.required {
            tags.push("required".to_string());
        }
        if !row.applies_here {
            tags.push(match row.platform {
                "all" => "`when` does not match, inactive here".to_string(),
                platform => format!("{platform} only, inactive here"),
            });
        }
        if row.excluded {
            tags.push("excluded".to_string());
        }
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", tags.join(", "))
        };
        writeln!(
            out,
            "  {}{}  {}",
            row.name,
            style.dim(&tags),
            style.dim(row.description)
        )?;
        if !row.applies_here || row.excluded {
            continue;
        }
        let g = row.group;
        for (label, list) in [
            ("deny", &g.deny),
            ("read", &g.read),
            ("write", &g.write),
            ("allow", &g.allow),
            ("read_file", &g.read_file),
            ("write_file", &g.write_file),
            ("allow_file", &g.allow_file),
        ] {
            if !list.is_empty() {
                writeln!(out, "      {:10} {}", style.dim(label), list.join(" "))?;
            }
        }
    }
    if !profile.filesystem.is_empty() {
        writeln!(out, "{}", style.bold("filesystem:"))?;
        for entry in &profile.filesystem {
            writeln!(
                out,
                "  {:17} {}  {}",
                entry.key.name(),
                entry.path,
                style.dim(&format!("from {}", entry.origin))
            )?;
        }
    }
    let net = &profile.network;
    writeln!(out, "{}", style.bold("network:"))?;
    if net.block.as_ref().is_some_and(|b| b.value) {
        writeln!(out, "  blocked")?;
    } else if net.network_profile.is_none()
        && net.allow_domain.is_empty()
        && net.credentials.is_empty()
    {
        writeln!(out, "  unrestricted")?;
    }
    if let Some(np) = &net.network_profile {
        let hosts = policy.network_profile_hosts(&np.value).unwrap_or_default();
        writeln!(
            out,
            "  network profile {} ({} hosts): {}",
            np.value,
            hosts.len(),
            hosts.join(" ")
        )?;
    }
    for host in &net.allow_domain {
        writeln!(
            out,
            "  allow_domain {}  {}",
            host.value,
            style.dim(&format!("from {}", host.origin))
        )?;
    }
    for cred in &net.credentials {
        writeln!(
            out,
            "  credential {}  {}",
            cred.value,
            style.dim(&format!("from {}", cred.origin))
        )?;
    }
    let env = &profile.environment;
    if !env.allow_vars.is_empty() || !env.deny_vars.is_empty() || !env.set_vars.is_empty() {
        writeln!(out, "{}", style.bold("environment:"))?;
        let join = |v: &[nono_enforcer::profile::Located<String>]| {
            v.iter()
                .map(|x| x.value.clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !env.allow_vars.is_empty() {
            writeln!(out, "  allow_vars {}", join(&env.allow_vars))?;
        }
        if !env.deny_vars.is_empty() {
            writeln!(out, "  deny_vars {}", join(&env.deny_vars))?;
        }
        for (k, v) in &env.set_vars {
            writeln!(out, "  set {k}={}", v.value)?;
        }
    }
    for note in &profile.notes {
        writeln!(out, "{} {note}", style.warn("note:"))?;
    }
    Ok(())
}
