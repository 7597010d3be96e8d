use hms_types::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused the request; `body` is its error envelope.
    #[error("{body}")]
    Api { status: u16, body: ErrorBody },
    #[error("cannot reach the server: {0}")]
    Transport(reqwest::Error),
    #[error("the server's answer is not what the API promises: {0}")]
    Decode(String),
    #[error("invalid input: {0}")]
    Input(String),
}

impl Error {
    /// An error answer; a body that is not the envelope is kept as its message.
    pub(crate) fn from_response(status: u16, bytes: &[u8]) -> Self {
        let body = serde_json::from_slice::<ErrorBody>(bytes).unwrap_or_else(|_| ErrorBody {
            code: status,
            message: String::from_utf8_lossy(bytes).chars().take(500).collect(),
            details: Vec::new(),
        });
        Error::Api { status, body }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}
