//! `mailhost`: the one binary. `serve` runs every service; the other
//! subcommands are the admin CLI of the SPEC's interface contract, working
//! on the same store whether or not a server is running.

mod cli;
mod serve;

use clap::Parser;
use std::process::ExitCode;

/// glibc raises its mmap threshold to the size of the largest block freed
/// (up to 32 MiB), after which Argon2's 19 MiB working memory is taken
/// from, and kept in, the per-thread heaps: RSS grew by hundreds of MB
/// under a stream of logins while the live heap stayed flat. A fixed
/// threshold sends every large block back to the kernel when freed.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn main() -> ExitCode {
    fixed_mmap_threshold();
    let args = cli::Args::parse();
    let env = std::env::vars();
    let mut config = match mailhost_config::Config::load(args.config.as_deref(), env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailhost: {e}");
            return ExitCode::from(2);
        }
    };
    match args.command {
        cli::Command::Serve { log_format } => {
            match log_format.as_deref() {
                Some("json") => config.server.log_format = mailhost_config::LogFormat::Json,
                Some(_) => config.server.log_format = mailhost_config::LogFormat::Text,
                None => {}
            }
            serve::run(config)
        }
        cmd => cli::run(config, cmd),
    }
}
