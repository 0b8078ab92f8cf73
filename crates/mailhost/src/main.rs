//! `mailhost`: the one binary. `serve` runs every service; the other
//! subcommands are the admin CLI of the SPEC's interface contract, working
//! on the same store whether or not a server is running.

mod cli;
mod serve;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let env = std::env::vars();
    let config = match mailhost_config::Config::load(args.config.as_deref(), env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailhost: {e}");
            return ExitCode::from(2);
        }
    };
    match args.command {
        cli::Command::Serve => serve::run(config),
        cmd => cli::run(config, cmd),
    }
}
