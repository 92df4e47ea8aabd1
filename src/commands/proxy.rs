//! `nono proxy`: the network proxy alone, for other tools and for benchmarks.
//!
//! Prints one JSON line, `{"port": N, "env": {…}}`, on stdout once it listens, then
//! serves until SIGINT or SIGTERM (exit code 0).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nono_enforcer::capability::{self, NetworkMode, Overrides};
use nono_proxy::{Audit, Config, HostPattern, Proxy};

use crate::cli::ProxyArgs;
use crate::{CmdResult, Failure, context, usage};

/// The proxy's configuration from the flags and the profile.
pub fn config(args: &ProxyArgs) -> Result<Config, Failure> {
    let vars = context::vars(context::current_dir()?);
    let store = context::store(&vars);
    let reference = args.profile.as_deref().unwrap_or("default");
    let profile = store.load(reference).map_err(usage)?;
    let overrides = Overrides {
        network_profile: args.network_profile.clone(),
        allow_domains: args.allow_domain.clone(),
        ..Overrides::default()
    };
    let caps = capability::resolve(&profile, &overrides, &vars, store.policy()).map_err(usage)?;
    let hosts = match caps.network.mode {
        NetworkMode::Proxy { hosts } => hosts,
        NetworkMode::Allowed => Vec::new(),
        NetworkMode::Blocked { .. } => {
            return Err(usage(anyhow!(
                "profile `{reference}` blocks the network: a proxy for it would refuse everything"
            )));
        }
    };
    let parse = |text: &str, what: &str| -> Result<HostPattern, Failure> {
        text.parse().map_err(|e| usage(anyhow!("{what}: {e}")))
    };
    let mut config = Config::default();
    if !(args.header_timeout.is_finite() && args.header_timeout > 0.0) {
        return Err(usage(anyhow!(
            "--header-timeout {}: not a positive number of seconds",
            args.header_timeout
        )));
    }
    config.header_timeout = std::time::Duration::from_secs_f64(args.header_timeout);
    for host in &hosts {
        config
            .hosts
            .allow
            .push(parse(&host.pattern, &host.source.to_string())?);
    }
    for deny in &profile.network.deny_domain {
        config.hosts.deny.push(parse(
            &deny.value,
            &format!("profile `{reference}`: network.deny_domain"),
        )?);
    }
    for deny in &args.deny_domain {
        config.hosts.deny.push(parse(deny, "--deny-domain")?);
    }
    config.allow_private = args.allow_private
        || profile
            .network
            .allow_private
            .as_ref()
            .is_some_and(|b| b.value);
    Ok(config)
}

/// The variables a client needs to use the proxy on `port`.
pub fn client_env(port: u16) -> serde_json::Map<String, serde_json::Value> {
    let url = format!("http://127.0.0.1:{port}");
    let mut env = serde_json::Map::new();
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        env.insert(name.into(), url.clone().into());
    }
    // Nothing goes around the proxy, not even localhost (inside a sandbox, loopback is
    // the sandbox's own).
    for name in ["NO_PROXY", "no_proxy"] {
        env.insert(name.into(), "".into());
    }
    env
}

/// Runs `nono proxy`.
pub fn run(args: ProxyArgs) -> CmdResult {
    let config = config(&args)?;
    let audit = match &args.audit {
        Some(path) => Audit::to_file(path)
            .with_context(|| format!("--audit {}: cannot open for appending", path.display()))
            .map_err(usage)?,
        None => Audit::none(),
    };
    // Blocked before the proxy's threads start, so that they inherit the mask and the
    // signals wait for `sigwait` below.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None).context("cannot block signals")?;
    let addr = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = nono_proxy::listen(addr, 4096)
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let handle = Proxy::start(listener, config, audit).context("cannot start the proxy")?;
    let port = handle.local_addr().port();
    let line = serde_json::json!({ "port": port, "env": client_env(port) });
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
    }
    signals.wait().context("cannot wait for a signal")?;
    handle.stop();
    Ok(ExitCode::SUCCESS)
}
