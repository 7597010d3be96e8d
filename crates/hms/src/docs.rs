//! `hms openapi` and `hms postman export`: the API's OpenAPI document and Postman
//! collection, the same ones `hms serve` answers at `/openapi.json` and `/postman.json`
//! (with `--simulate-peers`, those of a server started with it).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hms_api::Served;
use serde_json::Value;

use crate::CliError;

#[derive(Args)]
pub struct OpenapiArgs {
    /// Write the document to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The document of a server started with --simulate-peers (with the peer simulator's
    /// operations).
    #[arg(long)]
    simulate_peers: bool,
}

#[derive(Subcommand)]
pub enum PostmanCommand {
    /// Write the Postman collection (v2.1) of every operation. Import it into Postman and
    /// set its variables APP_ACCESS_KEY, APP_SECRET and BASE_URL.
    Export {
        /// Write the collection to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The collection's default BASE_URL [default: http://127.0.0.1:8080].
        #[arg(long)]
        base_url: Option<String>,
        /// The collection of a server started with --simulate-peers (with the peer
        /// simulator's requests).
        #[arg(long)]
        simulate_peers: bool,
    },
}

pub fn openapi(args: OpenapiArgs) -> Result<(), CliError> {
    let served = Served {
        simulator: args.simulate_peers,
    };
    write(&hms_docs::openapi(served), args.output)
}

pub fn postman(command: PostmanCommand) -> Result<(), CliError> {
    match command {
        PostmanCommand::Export {
            output,
            base_url,
            simulate_peers,
        } => {
            let served = Served {
                simulator: simulate_peers,
            };
            let collection = match base_url {
                Some(base_url) => hms_docs::postman_collection_for(base_url.trim_end_matches('/'), served),
                None => hms_docs::postman_collection(served),
            };
            write(&collection, output)
        }
    }
}

fn write(document: &Value, output: Option<PathBuf>) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(document).map_err(CliError::new)?;
    text.push('\n');
    match output {
        Some(path) => std::fs::write(&path, text)
            .map_err(|error| CliError::new(format!("cannot write {}: {error}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
