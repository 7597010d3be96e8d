//! Which error statuses each operation can answer.

use hms_api::{Auth, Body, Operation};

/// Statuses that an operation's shape does not imply, as its service answers them:
/// 403 (a disabled room or code, a role that is full or may not be joined), 404 without a
/// path parameter (a code in the body) and 409 (template writes that keep colliding, a
/// role renamed onto another). An operation missing here is documented with all of them.
const AUDITED: &[(&str, &[u16])] = &[
    ("create-room", &[]),
    ("get-room", &[]),
    ("list-rooms", &[]),
    ("update-room", &[]),
    ("enable-room", &[]),
    ("disable-room", &[]),
    ("create-room-codes", &[403]),
    ("create-room-code-for-role", &[403]),
    ("get-room-codes", &[403]),
    ("update-room-code", &[403]),
    ("update-room-code-by-body", &[403, 404]),
    ("exchange-room-code", &[403, 404]),
    ("create-template", &[409]),
    ("list-templates", &[]),
    ("get-template", &[]),
    ("update-template", &[409]),
    ("get-role", &[]),
    ("upsert-role", &[409]),
    ("delete-role", &[409]),
    ("get-template-settings", &[]),
    ("update-template-settings", &[409]),
    ("get-template-destinations", &[]),
    ("update-template-destinations", &[409]),
    ("get-template-recordings", &[]),
    ("update-template-recordings", &[409]),
    ("list-sessions", &[]),
    ("get-session", &[]),
    ("get-active-room", &[]),
    ("list-active-room-peers", &[]),
    ("get-active-room-peer", &[]),
    ("update-active-room-peer", &[403]),
    ("send-message", &[]),
    ("remove-peers", &[]),
    ("end-active-room", &[]),
    ("simulate-peer-join", &[403]),
    ("simulate-peer-leave", &[]),
    ("list-simulated-peer-messages", &[]),
    ("list-events", &[]),
    ("list-webhook-deliveries", &[]),
    ("replay-webhooks", &[]),
    ("get-webhook-replay", &[]),
];

/// The error statuses `op` can answer, ascending. Every one carries the error envelope.
///
/// - 400: the operation takes input (a path parameter, a query or a body) that can be
///   malformed or invalid;
/// - 401: it needs a management token;
/// - 403, 409 and 404 without path parameters: as audited above;
/// - 404: it names a resource in its path;
/// - 413: it reads a body, which has a size limit.
///
/// 405 is left out: every documented method is served on its path.
pub fn error_statuses(op: &Operation) -> Vec<u16> {
    let has_body = !matches!(op.body, Body::None);
    let has_path_params = !op.path_params().is_empty();
    let extra: &[u16] = AUDITED
        .iter()
        .find(|(name, _)| *name == op.name)
        .map(|(_, extra)| *extra)
        .unwrap_or(&[403, 404, 409]);
    let mut statuses = Vec::new();
    if has_path_params || op.query.is_some() || has_body {
        statuses.push(400);
    }
    if op.auth == Auth::Management {
        statuses.push(401);
    }
    statuses.extend(extra);
    if has_path_params {
        statuses.push(404);
    }
    if has_body {
        statuses.push(413);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audited_names_are_operations() {
        for (name, _) in AUDITED {
            assert!(hms_api::find(name).is_some(), "{name} is not in the catalogue");
        }
    }

    #[test]
    fn statuses_follow_the_shape() {
        let exchange = hms_api::find("exchange-room-code").unwrap();
        assert_eq!(error_statuses(exchange), [400, 403, 404, 413]);
        let list = hms_api::find("list-rooms").unwrap();
        assert_eq!(error_statuses(list), [400, 401]);
        let delete = hms_api::find("delete-role").unwrap();
        assert_eq!(error_statuses(delete), [400, 401, 404, 409]);
    }
}
