//! `hms openapi` and `hms postman export`: the API's OpenAPI document and Postman
//! collection, the same ones `hms serve` answers at `/openapi.json` and `/postman.json`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::CliError;

#[derive(Args)]
pub struct OpenapiArgs {
    /// Write the document to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
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
    },
}

pub fn openapi(args: OpenapiArgs) -> Result<(), CliError> {
    write(&hms_docs::openapi(), args.output)
}

pub fn postman(command: PostmanCommand) -> Result<(), CliError> {
    match command {
        PostmanCommand::Export { output, base_url } => {
            let collection = match base_url {
                Some(base_url) => hms_docs::postman_collection_for(base_url.trim_end_matches('/')),
                None => hms_docs::postman_collection(),
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
