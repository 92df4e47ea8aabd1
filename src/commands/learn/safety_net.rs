//! The safety net of `nono learn`: the traced command gets everything but what the
//! base profile withholds (credentials, keychains, shell files), applied in the child
//! before it runs.

use std::path::PathBuf;

use nono_enforcer::capability::{self, GrantFlag, Overrides};
use nono_enforcer::plan::CachingFs;
use nono_enforcer::sandbox::{self, SandboxOptions};
use nono_enforcer::{PathVars, Profile, ProfileStore};
use nono_learn::model::NoCreateDir;
use nono_tracer::ptrace::PreExec;

use super::base::net_no_create;
use crate::context;
use crate::{Failure, usage};

/// What the safety net is made from.
pub(super) struct SafetyNetInput<'a> {
    pub(super) profile: &'a Profile,
    pub(super) store: &'a ProfileStore,
    pub(super) vars: &'a PathVars,
    pub(super) fs: &'a CachingFs,
    /// nono's own directories (config and state), withheld from the command.
    pub(super) nono_state: Vec<PathBuf>,
    pub(super) state_dir: PathBuf,
}

/// The safety net, prepared.
pub(super) struct SafetyNet {
    /// The line telling what is withheld.
    pub(super) enforcement: String,
    /// Where the command cannot create entries under the net.
    pub(super) no_create: Vec<NoCreateDir>,
    /// Applies it in the child.
    pub(super) hook: PreExec,
}

/// Resolves, plans and prepares the safety net for the base profile.
pub(super) fn safety_net(input: SafetyNetInput<'_>) -> Result<SafetyNet, Failure> {
    let vars = input.vars;
    let net_overrides = Overrides {
        grants: vec![(GrantFlag::Allow, "/".into())],
        allow_network: true,
        nono_state: input.nono_state,
        ..Overrides::default()
    };
    let caps = capability::resolve(input.profile, &net_overrides, vars, input.store.policy())
        .map_err(usage)?;
    // Where a mount namespace can be had, every existing withheld path is hidden
    // by a mount, so the directories on the way to one keep every right; only
    // withheld paths that do not exist are still carved around.
    // A nono given file capabilities (eBPF as yourself) is not dumpable, so its
    // child cannot write its user namespace's uid map: no mount view then (and
    // making it dumpable would let the user's processes take over its
    // capabilities). Existing withheld paths are then carved around too.
    let capabilities = sandbox::sys::effective_capabilities();
    let mount_view = capabilities == 0 || sandbox::sys::allows_mounting(capabilities);
    let options = SandboxOptions {
        mount_view,
        single_threaded: true,
        guard_metadata: false,
        state_dir: Some(input.state_dir),
        masks_only: true,
        // The safety net withholds secrets; it does not isolate the traced command.
        isolate_processes: false,
        exec_in_place: false,
    };
    // The facade plans as the options allow: with a masks-only mount view, every
    // existing withheld path is masked (mask_all_denies).
    let sandbox = nono_enforcer::Sandbox::from_capabilities(caps, vars.clone())
        .options(options)
        .plan()
        .map_err(|e| context::build_failure(e, vars))?;
    let no_create = net_no_create(
        sandbox.plan(),
        input.fs,
        sandbox::mount_view_possible(sandbox.options()),
    );
    let mut prepared = sandbox
        .prepare()
        .map_err(|e| context::sandbox_failure(e, vars))?
        .into_prepared();
    let enforcement = format!(
        "safety net: credentials, keychains and shell files withheld ({})",
        prepared.report
    );
    Ok(SafetyNet {
        enforcement,
        no_create,
        hook: Box::new(move || {
            nono_enforcer::sandbox::sys::cloexec_from_3();
            prepared.apply_in_child().map_err(|e| e.errno)
        }),
    })
}
