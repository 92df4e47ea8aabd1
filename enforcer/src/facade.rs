//! The library's front door: a sandbox from a profile (or a capability set), planned,
//! prepared, then used to run a command.
//!
//! Every command that describes a sandbox (`nono run`, `nono wrap`, `nono why`, the
//! safety net of `nono learn`) and every library caller (a language binding, the
//! network proxy) goes the same way:
//!
//! ```text
//! profile ──load──▶ Profile ──resolve──▶ CapabilitySet ──plan──▶ Plan ──prepare──▶ Prepared
//!                                                                          │
//!                                  spawn / run_captured / exec / apply_to_self
//! ```
//!
//! [`Sandbox::profile`] (or [`Sandbox::from_profile`], [`Sandbox::from_capabilities`])
//! starts a [`SandboxBuilder`]; [`SandboxBuilder::plan`] loads, resolves and plans
//! (from the plan cache when one is given and still holds); [`Sandbox::prepare`] does
//! everything that may allocate (Landlock ruleset, seccomp programs, mount plan) and
//! returns a [`PreparedSandbox`] whose [`EnforcementReport`] says how fully this kernel
//! enforces it, before anything is applied.
//!
//! ```no_run
//! use std::time::Duration;
//! use nono_enforcer::{PathVars, Sandbox, exec::CommandSpec};
//! let vars = PathVars::from_env(std::env::current_dir().unwrap());
//! let sandbox = Sandbox::profile("python-agent", vars).plan().unwrap();
//! let mut prepared = sandbox.prepare().unwrap();
//! eprintln!("{}", prepared.report());
//! let cmd = CommandSpec {
//!     program: "ls".into(),
//!     args: vec![],
//!     env: vec![("PATH".into(), "/usr/bin:/bin".into())],
//!     cwd: sandbox.caps().workdir.clone(),
//! };
//! let outcome = prepared.run_captured(&cmd, Some(Duration::from_secs(5))).unwrap();
//! assert_eq!(outcome.code, 0);
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::capability::{self, CapabilitySet, Overrides, ResolveError};
use crate::exec::{self, Child, CommandSpec, ExecError, Outcome};
use crate::plan::cache::{self, PlanCache};
use crate::plan::{self, CachingFs, Plan, PlanError, PlanOptions};
use crate::profile::{Profile, ProfileError};
use crate::sandbox::{self, EnforcementReport, Prepared, SandboxError, SandboxOptions};
use crate::terminal::Relay;
use crate::{PathVars, ProfileStore};

/// A step of [`SandboxBuilder::plan`] or of running, reported to
/// [`SandboxBuilder::on_stage`] as it completes (for timing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The profile was found and parsed.
    ProfileLoaded,
    /// The capability set was resolved.
    CapabilitiesResolved,
    /// The rules were planned; with a plan cache, where the plan came from.
    RulesPlanned(Option<cache::Outcome>),
}

/// Where a sandbox description starts.
#[derive(Debug, Clone)]
enum Start {
    /// A profile name or path, resolved as `nono run --profile` does.
    Reference(String),
    /// A profile already loaded.
    Profile(Box<Profile>),
    /// A capability set already resolved (the profile and overrides are done).
    Capabilities(Box<CapabilitySet>),
}

/// Building a [`Sandbox`]: where it starts, what the caller adds, how it will be
/// applied. Made by [`Sandbox::profile`], [`Sandbox::from_profile`] or
/// [`Sandbox::from_capabilities`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    start: Start,
    vars: PathVars,
    overrides: Overrides,
    options: Option<SandboxOptions>,
    store: Option<ProfileStore>,
    cache: Option<PlanCache>,
    on_stage: Option<fn(Stage)>,
}

/// Planning the sandbox failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The profile could not be found or parsed.
    #[error(transparent)]
    Profile(Box<ProfileError>),
    /// The profile and overrides do not resolve (an unknown group, a bad path).
    #[error(transparent)]
    Resolve(Box<ResolveError>),
    /// The rules could not be planned.
    #[error(transparent)]
    Plan(Box<PlanError>),
}

impl From<ProfileError> for BuildError {
    fn from(e: ProfileError) -> Self {
        BuildError::Profile(Box::new(e))
    }
}

impl From<ResolveError> for BuildError {
    fn from(e: ResolveError) -> Self {
        BuildError::Resolve(Box::new(e))
    }
}

impl From<PlanError> for BuildError {
    fn from(e: PlanError) -> Self {
        BuildError::Plan(Box::new(e))
    }
}

/// Executing a command in place failed (see [`PreparedSandbox::exec`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecInPlaceError {
    /// The sandbox could not be applied to this process.
    #[error(transparent)]
    Apply(#[from] SandboxError),
    /// The program could not be found or executed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// nono's own directories for these variables (`$XDG_CONFIG_HOME/nono`,
/// `$XDG_STATE_HOME/nono`): carved out of every grant, and where user profiles
/// (`<config>/profiles`) and the plan cache (`<state>/plans`) live.
pub fn nono_dirs(vars: &PathVars) -> (PathBuf, PathBuf) {
    (
        vars.xdg_config_home.join("nono"),
        vars.xdg_state_home.join("nono"),
    )
}

/// The profile store `nono` uses for these variables: user profiles in
/// `$XDG_CONFIG_HOME/nono/profiles`, then the built-ins.
pub fn default_store(vars: &PathVars) -> ProfileStore {
    ProfileStore::new(nono_dirs(vars).0.join("profiles"))
}

impl SandboxBuilder {
    fn new(start: Start, vars: PathVars) -> Self {
        SandboxBuilder {
            start,
            vars,
            overrides: Overrides::default(),
            options: None,
            store: None,
            cache: None,
            on_stage: None,
        }
    }

    /// What the caller adds to the profile (grants, network, credentials). When
    /// `nono_state` is empty, nono's own directories ([`nono_dirs`]) are carved out.
    /// Ignored when starting from a capability set.
    pub fn overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// How the sandbox will be applied. They also shape the plan: when a mount view
    /// is possible with these options ([`sandbox::mount_view_possible`]), denied paths
    /// inside read-only system grants are hidden by mounts
    /// ([`PlanOptions::mask_system_denies`]), or, with
    /// [`SandboxOptions::masks_only`], every existing denied path is
    /// ([`PlanOptions::mask_all_denies`]). Without options (a sandbox only queried,
    /// as by `nono why`), the plan carves every denial and [`Sandbox::prepare`] uses
    /// [`SandboxOptions::default`].
    pub fn options(mut self, options: SandboxOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// The path variables the sandbox is described with.
    pub fn vars(&self) -> &PathVars {
        &self.vars
    }

    /// Where profile names are looked up (default: [`default_store`]).
    pub fn store(mut self, store: ProfileStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Plan through this cache (a plan is reused only while everything it observed
    /// still holds).
    pub fn plan_cache(mut self, cache: PlanCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Called as each [`Stage`] completes.
    pub fn on_stage(mut self, on_stage: fn(Stage)) -> Self {
        self.on_stage = Some(on_stage);
        self
    }

    fn stage(&self, stage: Stage) {
        if let Some(f) = self.on_stage {
            f(stage);
        }
    }

    /// The options the plan is made for.
    fn plan_options(&self) -> PlanOptions {
        let view = self
            .options
            .as_ref()
            .is_some_and(sandbox::mount_view_possible);
        let masks_only = self.options.as_ref().is_some_and(|o| o.masks_only);
        PlanOptions {
            mask_system_denies: view && !masks_only,
            mask_all_denies: view && masks_only,
            home: Some(self.vars.home.clone()),
        }
    }

    /// Loads the profile, resolves it with the overrides, and plans the rules.
    pub fn plan(self) -> Result<Sandbox, BuildError> {
        let caps = match &self.start {
            Start::Capabilities(caps) => (**caps).clone(),
            Start::Reference(_) | Start::Profile(_) => self.resolve()?,
        };
        let options = self.plan_options();
        let plan = match &self.cache {
            Some(cache) => {
                let (plan, outcome) = cache.plan(&caps, &options)?;
                self.stage(Stage::RulesPlanned(Some(outcome)));
                plan
            }
            None => {
                let plan = plan::plan_with(&caps, &CachingFs::new(), &options)?;
                self.stage(Stage::RulesPlanned(None));
                plan
            }
        };
        Ok(Sandbox {
            caps,
            plan,
            vars: self.vars,
            options: self.options.unwrap_or_default(),
        })
    }

    fn resolve(&self) -> Result<CapabilitySet, BuildError> {
        let default_store;
        let store = match &self.store {
            Some(store) => store,
            None => {
                default_store = crate::facade::default_store(&self.vars);
                &default_store
            }
        };
        let loaded;
        let profile = match &self.start {
            Start::Reference(reference) => {
                loaded = store.load(reference)?;
                self.stage(Stage::ProfileLoaded);
                &loaded
            }
            Start::Profile(profile) => &**profile,
            Start::Capabilities(_) => unreachable!("a capability set needs no resolving"),
        };
        let mut overrides = self.overrides.clone();
        if overrides.nono_state.is_empty() {
            let (config, state) = nono_dirs(&self.vars);
            overrides.nono_state = vec![config, state];
        }
        let caps = capability::resolve(profile, &overrides, &self.vars, store.policy())?;
        self.stage(Stage::CapabilitiesResolved);
        Ok(caps)
    }
}

/// A sandbox described and planned: what it grants and denies, as concrete rules.
/// Nothing is applied yet; [`Sandbox::prepare`] gets it ready to apply.
#[derive(Debug)]
pub struct Sandbox {
    caps: CapabilitySet,
    plan: Plan,
    vars: PathVars,
    options: SandboxOptions,
}

impl Sandbox {
    /// A sandbox from a profile name (user profiles, then built-ins) or a path to a
    /// profile file, resolved as `nono run --profile` does. `vars` fixes the working
    /// directory and the home the profile's variables expand to.
    pub fn profile(reference: impl Into<String>, vars: PathVars) -> SandboxBuilder {
        SandboxBuilder::new(Start::Reference(reference.into()), vars)
    }

    /// A sandbox from a profile already loaded.
    pub fn from_profile(profile: Profile, vars: PathVars) -> SandboxBuilder {
        SandboxBuilder::new(Start::Profile(Box::new(profile)), vars)
    }

    /// A sandbox from a capability set already resolved.
    pub fn from_capabilities(caps: CapabilitySet, vars: PathVars) -> SandboxBuilder {
        SandboxBuilder::new(Start::Capabilities(Box::new(caps)), vars)
    }

    /// What the profile and overrides grant and deny, each rule with its source.
    pub fn caps(&self) -> &CapabilitySet {
        &self.caps
    }

    /// The concrete rules.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The path variables.
    pub fn vars(&self) -> &PathVars {
        &self.vars
    }

    /// The options [`Sandbox::prepare`] uses.
    pub fn options(&self) -> &SandboxOptions {
        &self.options
    }

    /// Builds everything that applying needs (Landlock ruleset, seccomp programs,
    /// mount plan) and says how fully this kernel will enforce it. Refuses what this
    /// build cannot enforce (a host allowlist needs the proxy).
    pub fn prepare(&self) -> Result<PreparedSandbox, SandboxError> {
        let prepared = sandbox::prepare(&self.caps, &self.plan, &self.caps.workdir, &self.options)?;
        Ok(PreparedSandbox { prepared })
    }
}

/// A sandbox ready to apply: to a child ([`PreparedSandbox::spawn`],
/// [`PreparedSandbox::run_captured`]), to this process before executing a command
/// ([`PreparedSandbox::exec`]) or to this process for good
/// ([`PreparedSandbox::apply_to_self`]).
#[derive(Debug)]
pub struct PreparedSandbox {
    prepared: Prepared,
}

impl PreparedSandbox {
    /// What will be enforced (the status line).
    pub fn report(&self) -> &EnforcementReport {
        &self.prepared.report
    }

    /// The program `cmd` runs, found on the command's own `PATH`.
    pub fn resolve_program(cmd: &CommandSpec) -> Result<PathBuf, ExecError> {
        exec::resolve_program(&cmd.program, crate::env::get(&cmd.env, "PATH"), &cmd.cwd)
    }

    /// Starts `cmd` in a sandboxed child sharing this process's standard streams.
    /// [`Child::wait`] supervises it.
    pub fn spawn(&mut self, cmd: &CommandSpec) -> Result<Child, ExecError> {
        let path = Self::resolve_program(cmd)?;
        exec::spawn(&mut self.prepared, &path, cmd, false)
    }

    /// Like [`PreparedSandbox::spawn`], the command on `relay`'s pseudo-terminal.
    pub fn spawn_relayed(&mut self, cmd: &CommandSpec, relay: Relay) -> Result<Child, ExecError> {
        let path = Self::resolve_program(cmd)?;
        exec::spawn_relayed(&mut self.prepared, &path, cmd, relay)
    }

    /// Runs `cmd` in a sandboxed child with its output captured, killed after
    /// `timeout`.
    pub fn run_captured(
        &mut self,
        cmd: &CommandSpec,
        timeout: Option<Duration>,
    ) -> Result<Outcome, ExecError> {
        exec::run_captured(&mut self.prepared, cmd, timeout)
    }

    /// Applies the sandbox to this process and executes `cmd` in its place, keeping
    /// the process id (`nono wrap`). Returns only on failure. Prepare with
    /// [`SandboxOptions::exec_in_place`] so the report does not promise a PID
    /// namespace.
    pub fn exec(self, cmd: &CommandSpec) -> ExecInPlaceError {
        match Self::resolve_program(cmd) {
            Ok(path) => self.exec_resolved(&path, cmd),
            Err(e) => e.into(),
        }
    }

    /// Like [`PreparedSandbox::exec`] with the program already found.
    pub fn exec_resolved(mut self, path: &Path, cmd: &CommandSpec) -> ExecInPlaceError {
        use std::os::unix::process::CommandExt;
        if let Err(e) = self.prepared.apply_in_child() {
            return SandboxError::Apply {
                step: e.step,
                errno: e.errno,
            }
            .into();
        }
        sandbox::sys::cloexec_from_3();
        let error = std::process::Command::new(path)
            .arg0(&cmd.program)
            .args(&cmd.args)
            .env_clear()
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .exec();
        ExecError::Exec {
            path: path.to_path_buf(),
            errno: error.raw_os_error().unwrap_or(libc::EIO),
        }
        .into()
    }

    /// Applies the sandbox to the calling process for good and reports what was
    /// enforced.
    pub fn apply_to_self(self) -> Result<EnforcementReport, SandboxError> {
        self.prepared.apply_to_self()
    }

    /// The prepared sandbox itself, for a caller that forks on its own and applies it
    /// in the child with [`Prepared::apply_in_child`] (a tracer's pre-exec hook).
    pub fn into_prepared(self) -> Prepared {
        self.prepared
    }
}
