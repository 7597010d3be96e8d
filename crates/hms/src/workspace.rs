//! `hms workspace …`: admin commands that act on a data dir directly. A running server
//! notices their changes within its credentials refresh interval (1 s by default).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use hms_auth::AppSecret;
use hms_server::admin::{self, InitialCredentials};
use hms_store::{DatabaseUrl, Durability, Store, StoreLocation};

use crate::CliError;

#[derive(Args)]
pub struct DataDir {
    /// Directory of the embedded database.
    #[arg(long, env = "HMS_DATA_DIR", default_value = "./hms-data")]
    data_dir: PathBuf,
    /// The deployment's PostgreSQL database instead (postgres://…).
    #[arg(long, env = "HMS_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace; prints its credentials and a 7-day management token.
    Create {
        name: String,
        /// Use this access key instead of a generated one (needs --secret too).
        #[arg(long, requires = "secret")]
        access_key: Option<String>,
        /// Use this app secret instead of a generated one.
        #[arg(long, requires = "access_key")]
        secret: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List workspaces with their access keys.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Manage the app secrets of a workspace.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Manage the workspace-level webhook (rooms with their own `webhook` use theirs).
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Send the workspace's events to URL.
    Set {
        workspace: String,
        #[arg(long)]
        url: String,
        /// A custom header sent with every delivery, as `Name: value` (repeatable).
        #[arg(long = "header", value_parser = parse_header)]
        headers: Vec<(String, String)>,
        /// Sign deliveries: `x-100ms-signature` is the hex HMAC-SHA256 of the body with it.
        #[arg(long, env = "HMS_WEBHOOK_SIGNING_SECRET", hide_env_values = true)]
        signing_secret: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Show the workspace's webhook (the signing secret is not shown).
    Show {
        workspace: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Stop sending the workspace's events (rooms with their own webhook still get theirs).
    Clear {
        workspace: String,
        #[command(flatten)]
        data: DataDir,
    },
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or("write a header as `Name: value`")?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Add a secret; tokens signed with any live secret are accepted.
    Add {
        workspace: String,
        /// Use this secret instead of a generated one.
        #[arg(long)]
        secret: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List a workspace's secrets (ids and dates; the secrets themselves are not shown).
    List {
        workspace: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Retire a secret: tokens signed with it are refused from then on.
    Retire {
        workspace: String,
        secret_id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

pub async fn run(command: WorkspaceCommand) -> Result<(), CliError> {
    match command {
        WorkspaceCommand::Create {
            name,
            access_key,
            secret,
            data,
        } => {
            let store = open(&data).await?;
            let initial = access_key.zip(secret).map(|(access_key, secret)| InitialCredentials {
                access_key,
                secret: AppSecret::new(secret),
            });
            let created = admin::create_workspace(store.as_ref(), &name, initial)
                .await
                .map_err(CliError::new)?;
            println!("HMS_ACCESS_KEY={}", created.workspace.access_key);
            println!("HMS_SECRET={}", created.secret.expose());
            println!("HMS_MANAGEMENT_TOKEN={}", created.management_token);
        }
        WorkspaceCommand::List { data } => {
            let store = open(&data).await?;
            println!("{:<24}  {:<24}  CREATED", "NAME", "ACCESS KEY");
            for workspace in store.workspaces().await.map_err(CliError::new)? {
                println!(
                    "{:<24}  {:<24}  {}",
                    workspace.name, workspace.access_key, workspace.created_at
                );
            }
        }
        WorkspaceCommand::Secret(command) => run_secret(command).await?,
        WorkspaceCommand::Webhook(command) => run_webhook(command).await?,
    }
    Ok(())
}

async fn run_secret(command: SecretCommand) -> Result<(), CliError> {
    match command {
        SecretCommand::Add {
            workspace,
            secret,
            data,
        } => {
            let store = open(&data).await?;
            let record = admin::add_secret(store.as_ref(), &workspace, secret.map(AppSecret::new))
                .await
                .map_err(CliError::new)?;
            println!("secret id: {}", record.id);
            println!("HMS_SECRET={}", record.secret.expose());
        }
        SecretCommand::List { workspace, data } => {
            let store = open(&data).await?;
            println!("{:<12}  {:<24}  RETIRED", "ID", "CREATED");
            for secret in admin::secrets(store.as_ref(), &workspace)
                .await
                .map_err(CliError::new)?
            {
                let retired = secret
                    .retired_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "live".into());
                println!("{:<12}  {:<24}  {}", secret.id, secret.created_at, retired);
            }
        }
        SecretCommand::Retire {
            workspace,
            secret_id,
            data,
        } => {
            let store = open(&data).await?;
            admin::retire_secret(store.as_ref(), &workspace, &secret_id)
                .await
                .map_err(CliError::new)?;
            println!("retired secret {secret_id}");
        }
    }
    Ok(())
}

async fn run_webhook(command: WebhookCommand) -> Result<(), CliError> {
    match command {
        WebhookCommand::Set {
            workspace,
            url,
            headers,
            signing_secret,
            data,
        } => {
            let store = open(&data).await?;
            let workspace = admin::workspace_named(store.as_ref(), &workspace)
                .await
                .map_err(CliError::new)?;
            let secret = signing_secret.map(AppSecret::new);
            admin::set_workspace_webhook(store.as_ref(), &workspace, &url, headers, secret)
                .await
                .map_err(CliError::new)?;
            println!("events of workspace {} now go to {url}", workspace.name);
        }
        WebhookCommand::Show { workspace, data } => {
            let store = open(&data).await?;
            let workspace = admin::workspace_named(store.as_ref(), &workspace)
                .await
                .map_err(CliError::new)?;
            let hooks = store.workspace_webhooks().await.map_err(CliError::new)?;
            match hooks.into_iter().find(|hook| hook.workspace_id == workspace.id) {
                None => println!("workspace {} has no webhook", workspace.name),
                Some(hook) => {
                    println!("url: {}", hook.url);
                    for (name, value) in &hook.headers {
                        println!("header: {name}: {value}");
                    }
                    println!("signed: {}", if hook.signing_secret.is_some() { "yes" } else { "no" });
                }
            }
        }
        WebhookCommand::Clear { workspace, data } => {
            let store = open(&data).await?;
            let workspace = admin::workspace_named(store.as_ref(), &workspace)
                .await
                .map_err(CliError::new)?;
            let removed = store
                .clear_workspace_webhook(&workspace.id)
                .await
                .map_err(CliError::new)?;
            println!(
                "{}",
                if removed {
                    "webhook removed"
                } else {
                    "the workspace had no webhook"
                }
            );
        }
    }
    Ok(())
}

async fn open(data: &DataDir) -> Result<Arc<dyn Store>, CliError> {
    let url = data.database_url.clone().map(DatabaseUrl::new);
    StoreLocation::choose(url.as_ref(), data.data_dir.clone(), Durability::Process)
        .open()
        .await
        .map_err(CliError::new)
}
