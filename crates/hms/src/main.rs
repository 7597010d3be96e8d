//! `hms`: `hms serve` runs openhms; every other subcommand is a client or an admin tool.

mod duration;
mod serve;
mod token;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "hms", version, about = "openhms: the 100ms server-side API, self-hosted")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Manage the workspaces and app secrets of a data dir.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Mint and inspect management and app tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

/// A failure to report on stderr; the process exits non-zero.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Workspace(command) => workspace::run(command).await,
            Command::Token(command) => token::run(command),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
