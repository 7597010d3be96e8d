//! `hms`: `hms serve` runs openhms; every other subcommand is a client or an admin tool.
//!
//! The API commands (`hms rooms …`, `hms room-codes …`, …) are generated from the
//! catalogue of operations in [`api_commands`]; the others are declared here.

mod api_commands;
mod database;
mod docs;
mod duration;
mod failure;
mod mcp;
mod output;
mod profile;
mod serve;
mod target;
mod token;
mod workspace;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use failure::Failure;

#[derive(Parser)]
#[command(
    name = "hms",
    version,
    about = "openhms: the 100ms server-side API, self-hosted, and a client for it and the hosted 100ms",
    after_help = "Client commands take their target from flags, then HMS_BASE_URL, HMS_MANAGEMENT_TOKEN, \
                  HMS_ACCESS_KEY and HMS_SECRET, then the current profile (`hms profile`). Exit codes: 0 ok, \
                  1 API error, 2 usage, 3 transport or other failure."
)]
struct Cli {
    #[command(subcommand)]
    command: LocalCommand,
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Run the server.
    Serve(Box<serve::ServeArgs>),
    /// Offer every API operation as an MCP tool, over stdio or HTTP, for any
    /// 100ms-compatible API.
    Mcp(mcp::McpArgs),
    /// Manage the workspaces and app secrets of a data dir.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Move a deployment's data between databases (from a data dir to PostgreSQL).
    #[command(subcommand)]
    Database(database::DatabaseCommand),
    /// Mint and inspect management and app tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Named targets and credentials for the client commands.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Print the OpenAPI 3.1 document of the API (also served at /openapi.json).
    Openapi(docs::OpenapiArgs),
    /// Export the Postman collection of the API (also served at /postman.json).
    #[command(subcommand)]
    Postman(docs::PostmanCommand),
    /// Print a shell completion script, e.g. `hms completions bash > ~/.local/share/bash-completion/completions/hms`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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

/// The whole command line: the declared commands and the generated API commands.
fn command() -> clap::Command {
    api_commands::augment(Cli::command())
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Some((name, group_matches)) = matches.subcommand()
        && let Some(group) = api_commands::group_named(name)
    {
        return match runtime.block_on(api_commands::run(group, group_matches)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.exit(),
        };
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let result = runtime.block_on(async {
        match cli.command {
            LocalCommand::Serve(args) => serve::run(*args).await.map_err(Failure::other),
            LocalCommand::Mcp(args) => mcp::run(args).await.map_err(Failure::other),
            LocalCommand::Workspace(command) => workspace::run(command).await.map_err(Failure::other),
            LocalCommand::Database(command) => database::run(command).await.map_err(Failure::other),
            LocalCommand::Token(command) => token::run(command).map_err(Failure::other),
            LocalCommand::Profile(command) => profile::run(command),
            LocalCommand::Openapi(args) => docs::openapi(args).map_err(Failure::other),
            LocalCommand::Postman(command) => docs::postman(command).map_err(Failure::other),
            LocalCommand::Completions { shell } => {
                clap_complete::generate(shell, &mut command(), "hms", &mut std::io::stdout());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}
