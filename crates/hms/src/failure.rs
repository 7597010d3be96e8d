//! How a client command fails: what it prints on stderr and the exit code it ends with.
//!
//! | exit code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the API refused the call (its message and status are printed) |
//! | 2 | the command line is wrong (also: no credentials, an unknown profile, bad `--body`) |
//! | 3 | anything else: the server cannot be reached, a file cannot be written, … |

use std::process::ExitCode;

use hms_types::ErrorBody;

#[derive(Debug)]
pub enum Failure {
    /// The server answered an error envelope.
    Api { status: u16, body: ErrorBody },
    /// The command line cannot be carried out as given.
    Usage(String),
    /// The network, the file system, an answer that is no JSON…
    Other(String),
}

impl Failure {
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Failure::Usage(message.to_string())
    }

    pub fn other(message: impl std::fmt::Display) -> Self {
        Failure::Other(message.to_string())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Api { .. } => 1,
            Failure::Usage(_) => 2,
            Failure::Other(_) => 3,
        }
    }

    /// What is printed on stderr.
    pub fn report(&self) -> String {
        match self {
            Failure::Api { status, body } => {
                let mut text = format!("error: {} (HTTP {status})", body.message);
                for detail in &body.details {
                    text.push_str("\n  ");
                    text.push_str(detail);
                }
                text
            }
            Failure::Usage(message) | Failure::Other(message) => format!("error: {message}"),
        }
    }

    /// Prints the report and answers the exit code.
    pub fn exit(self) -> ExitCode {
        eprintln!("{}", self.report());
        ExitCode::from(self.exit_code())
    }
}

impl From<hms_client::Error> for Failure {
    fn from(error: hms_client::Error) -> Self {
        match error {
            hms_client::Error::Api { status, body } => Failure::Api { status, body },
            hms_client::Error::Input(message) => Failure::Usage(message),
            hms_client::Error::Transport(error) => Failure::Other(with_causes(&error)),
            other => Failure::Other(other.to_string()),
        }
    }
}

/// An error and its chain of causes, `a: b: c`, each said once.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("cannot reach the server: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_show_message_status_and_details() {
        let failure = Failure::from(hms_client::Error::Api {
            status: 404,
            body: ErrorBody {
                code: 404,
                message: "Room not found".into(),
                details: vec!["no room abc".into(), "try another".into()],
            },
        });
        assert_eq!(failure.exit_code(), 1);
        assert_eq!(
            failure.report(),
            "error: Room not found (HTTP 404)\n  no room abc\n  try another"
        );
        assert_eq!(Failure::usage("bad").exit_code(), 2);
        assert_eq!(Failure::other("down").exit_code(), 3);
        assert_eq!(Failure::from(hms_client::Error::Input("x".into())).exit_code(), 2);
        assert_eq!(Failure::from(hms_client::Error::Decode("x".into())).exit_code(), 3);
    }
}
