//! `nono proxy` and `nono credential`: clap types.

use std::path::PathBuf;

use clap::Args;

/// `nono proxy`: the network proxy alone.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Take the network settings of this profile (allow_domain, deny_domain,
    /// network_profile, allow_private)
    #[arg(long, short = 'p', value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Allow a host; `*.example.com` for subdomains, `host:port` for one port (repeatable)
    #[arg(long, alias = "proxy-allow", value_name = "HOST")]
    pub allow_domain: Vec<String>,
    /// Refuse a host whatever the allow list says (repeatable)
    #[arg(long, value_name = "HOST")]
    pub deny_domain: Vec<String>,
    /// Allow the hosts of a built-in network profile (minimal, developer, none)
    #[arg(long, value_name = "NAME")]
    pub network_profile: Option<String>,
    /// Let allowed hosts reach loopback and private addresses (never cloud metadata or
    /// link-local ones)
    #[arg(long)]
    pub allow_private: bool,
    /// Append every decision to this file, one JSON line each, as it is made
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Close a connection whose request head has not fully arrived after this long
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// The port to listen on, on 127.0.0.1 (default: any free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}
