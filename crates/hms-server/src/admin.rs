//! What the `hms` binary's other commands need of the server, besides [`crate::Server`]:
//! workspaces, their secrets and their webhook, changed in the store directly (`hms
//! workspace …`), the data dir's claim (`hms database copy` refuses a data dir in use),
//! and the check of the MCP settings that `hms serve` runs before it starts.

pub use crate::api::mcp::check_config as check_mcp_config;
pub use crate::ids::uuid as random_user_id;
pub use crate::node::{Node, NodeError};
pub use crate::service::webhooks::{WebhookError, set_workspace_webhook};
pub use crate::service::workspaces::{
    CreatedWorkspace, InitialCredentials, WorkspaceError, add_secret, create as create_workspace,
    named as workspace_named, retire_secret, secrets,
};
