//! Turning sandbox flags into a profile, a capability set and a plan: the "low args
//! to high args" step shared by every command that describes a sandbox.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use nono_enforcer::capability::{GrantFlag, Overrides, Suggestion};
use nono_enforcer::facade::{BuildError, Stage};
use nono_enforcer::plan::PlanError;
use nono_enforcer::sandbox::SandboxError;
use nono_enforcer::{PathVars, ProfileStore, Sandbox, SandboxBuilder};

use crate::cli::SandboxArgs;
use crate::flags;
use crate::{Failure, usage};

/// nono's own directories.
pub struct Dirs {
    /// `$XDG_CONFIG_HOME/nono`.
    pub config: PathBuf,
    /// `$XDG_STATE_HOME/nono`.
    pub state: PathBuf,
}

impl Dirs {
    /// From the path variables.
    pub fn new(vars: &PathVars) -> Self {
        Dirs {
            config: vars.xdg_config_home.join("nono"),
            state: vars.xdg_state_home.join("nono"),
        }
    }

    /// Where user profiles live.
    pub fn profiles(&self) -> PathBuf {
        self.config.join("profiles")
    }
}

/// The current directory, or a clear error.
pub fn current_dir() -> Result<PathBuf, Failure> {
    std::env::current_dir()
        .context("cannot determine the current directory")
        .map_err(Failure::from)
}

/// Path variables for a command whose working directory is `workdir`.
pub fn vars(workdir: PathBuf) -> PathVars {
    PathVars::from_env(workdir)
}

/// The profile store for these variables.
pub fn store(vars: &PathVars) -> ProfileStore {
    ProfileStore::new(Dirs::new(vars).profiles())
}

/// Why the sandbox could not be prepared, as the command's failure: a profile asking for
/// what this build cannot enforce is the input's fault (a usage error); the rest are
/// failures, with [`home_hint`].
pub fn sandbox_failure(error: SandboxError, vars: &PathVars) -> Failure {
    if let SandboxError::ProxyRequired { .. } = error {
        return usage(anyhow!(
            "{error}. Use --block-network to block the network, or --allow-net to knowingly \
             run with the network unrestricted"
        ));
    }
    let hint = match &error {
        SandboxError::OpenRule { path, error } => home_hint(path, error, vars),
        _ => None,
    };
    Failure::from(with_hint(error, hint))
}

/// Why the rules could not be planned: a usage error (exit 2) when a rule is wrong,
/// a failure (exit 1) when a path could not be read (not the input's fault; as for
/// `run`, whose sandbox opens the same paths), with [`home_hint`].
pub fn plan_failure(error: PlanError, vars: &PathVars) -> Failure {
    match &error {
        PlanError::Io { path, error: cause } => {
            let hint = home_hint(path, cause, vars);
            Failure::from(with_hint(error, hint))
        }
        // What to use instead is said as a flag.
        PlanError::Missing {
            path,
            source_desc,
            create_in: Some(dir),
        } => usage(anyhow!(
            "{source_desc}: {} does not exist; to let the command create it, grant its \
             directory ({})",
            path.display(),
            flags::suggestion(&Suggestion::grant(GrantFlag::Allow, dir))
        )),
        PlanError::WrongKind {
            path,
            source_desc,
            what,
            suggestion,
        } => usage(anyhow!(
            "{source_desc}: {} is {what}; use {}",
            path.display(),
            flags::suggestion(suggestion)
        )),
        _ => usage(error),
    }
}

/// An error with a hint for people on the next line. It keeps the error's type:
/// `downcast_ref::<Hinted<SandboxError>>()` finds it.
#[derive(Debug)]
pub struct Hinted<E> {
    /// The error.
    pub error: E,
    /// What to do about it.
    pub hint: String,
}

impl<E: std::fmt::Display> std::fmt::Display for Hinted<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.error, self.hint)
    }
}

impl<E: std::error::Error> std::error::Error for Hinted<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

fn with_hint<E>(error: E, hint: Option<String>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    match hint {
        Some(hint) => anyhow::Error::new(Hinted { error, hint }),
        None => anyhow::Error::new(error),
    }
}

/// A hint for a path under `HOME` that could not be read because `HOME` belongs to
/// another user (`su` or `setpriv` without resetting it): the message alone points at a
/// file, not at the variable.
fn home_hint(path: &Path, cause: &std::io::Error, vars: &PathVars) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // The path is resolved; HOME may be spelled through a symbolic link.
    let under_home = || {
        path.starts_with(&vars.home)
            || std::fs::canonicalize(&vars.home).is_ok_and(|home| path.starts_with(home))
    };
    if cause.kind() != std::io::ErrorKind::PermissionDenied || !under_home() {
        return None;
    }
    let owner = std::fs::metadata(&vars.home).ok()?.uid();
    let me = nix::unistd::geteuid().as_raw();
    (owner != me).then(|| {
        format!(
            "hint: HOME is {}, which belongs to uid {owner}, but nono runs as uid {me}; \
             set HOME to your own home directory",
            vars.home.display()
        )
    })
}

fn utf8(flag: &str, value: &OsString) -> Result<String, Failure> {
    value.to_str().map(str::to_string).ok_or_else(|| {
        usage(anyhow!(
            "{flag} {}: the path is not valid UTF-8; nono needs UTF-8 paths in grant flags",
            Path::new(value).display()
        ))
    })
}

/// The working directory the flags ask for (`--workdir`, or the current directory).
fn workdir(args: &SandboxArgs) -> Result<PathBuf, Failure> {
    let cwd = current_dir()?;
    let Some(dir) = &args.workdir else {
        return Ok(cwd);
    };
    // `~` and variables expand as in grant flags (a quoted `~` reaches us as is).
    let dir = match dir.to_str() {
        Some(s) => vars(cwd.clone())
            .expand(s, Some(&cwd))
            .map_err(|e| usage(anyhow!("--workdir: {e}")))?,
        None => cwd.join(dir),
    };
    if !dir.is_dir() {
        return Err(usage(anyhow!(
            "--workdir {}: not a directory",
            dir.display()
        )));
    }
    Ok(dir)
}

/// What the flags add to the profile.
fn overrides(args: &SandboxArgs, vars: &PathVars) -> Result<Overrides, Failure> {
    let mut overrides = Overrides {
        allow_cwd: args.allow_cwd,
        block_network: args.block_network,
        allow_network: args.allow_net,
        network_profile: args.network_profile.clone(),
        allow_domains: args.allow_domain.clone(),
        credentials: args.credential.clone(),
        nono_state: {
            let dirs = Dirs::new(vars);
            vec![dirs.config, dirs.state]
        },
        spelling: flags::spelling,
        ..Overrides::default()
    };
    let lists = [
        (GrantFlag::Allow, &args.allow),
        (GrantFlag::Read, &args.read),
        (GrantFlag::Write, &args.write),
        (GrantFlag::AllowFile, &args.allow_file),
        (GrantFlag::ReadFile, &args.read_file),
        (GrantFlag::WriteFile, &args.write_file),
    ];
    for (kind, values) in lists {
        for value in values {
            overrides
                .grants
                .push((kind, utf8(flags::grant(kind), value)?));
        }
    }
    Ok(overrides)
}

/// The facade's stages, as `NONO_TIMING` marks.
fn timing_mark(stage: Stage) {
    match stage {
        Stage::ProfileLoaded => crate::timing::mark("profile loaded"),
        Stage::CapabilitiesResolved => crate::timing::mark("capabilities resolved"),
        Stage::RulesPlanned(None) => crate::timing::mark("rules planned"),
        Stage::RulesPlanned(Some(outcome)) if crate::timing::enabled() => {
            crate::timing::mark(&format!("rules planned ({outcome})"));
        }
        _ => {}
    }
}

/// Why the sandbox could not be planned, as the command's failure.
pub fn build_failure(error: BuildError, vars: &PathVars) -> Failure {
    match error {
        BuildError::Plan(e) => plan_failure(*e, vars),
        other => usage(other),
    }
}

/// The sandbox the flags describe, ready to plan: the profile (`--profile`, default
/// `default`), the grants and network flags, the working directory.
pub fn builder(args: &SandboxArgs) -> Result<SandboxBuilder, Failure> {
    let vars = vars(workdir(args)?);
    let overrides = overrides(args, &vars)?;
    let reference = args.profile.as_deref().unwrap_or("default");
    Ok(Sandbox::profile(reference, vars)
        .overrides(overrides)
        .on_stage(timing_mark))
}

/// Resolves and plans the sandbox the flags describe (for a sandbox only queried:
/// every denial carved, nothing masked).
pub fn sandbox(args: &SandboxArgs) -> Result<Sandbox, Failure> {
    plan(builder(args)?)
}

/// Plans a builder, the failure rendered for the command line.
pub fn plan(builder: SandboxBuilder) -> Result<Sandbox, Failure> {
    // The variables are needed for the failure's hint; the builder owns its own.
    let vars = builder.vars().clone();
    builder.plan().map_err(|e| build_failure(e, &vars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hinted_error_keeps_its_type_and_prints_the_hint_below() {
        let error = with_hint(
            SandboxError::ProfileWritable {
                path: "/p.json".into(),
            },
            Some("hint: move it".into()),
        );
        let hinted = error
            .downcast_ref::<Hinted<SandboxError>>()
            .expect("the error keeps its type");
        assert!(matches!(hinted.error, SandboxError::ProfileWritable { .. }));
        let text = error.to_string();
        assert!(text.ends_with("\nhint: move it"), "{text}");
        assert!(text.starts_with("the profile file /p.json"), "{text}");
    }
}
