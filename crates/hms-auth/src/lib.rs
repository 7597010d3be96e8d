//! Management and app tokens of 100ms: HS256 JWTs signed with a workspace's app secret.
//!
//! Minting writes the payload so that the web client SDK, which decodes it with the
//! browser's standard-base64 `atob`, can always read it (see [`jwt`]). Verification checks
//! the signature in constant time against every live secret of the workspace the access
//! key names, then the claims, and says precisely what is wrong when it refuses.

mod claims;
mod jwt;
mod secret;
mod verify;

pub use claims::{Claims, TOKEN_VERSION, TokenType};
pub use jwt::{JwtError, mint};
pub use secret::AppSecret;
pub use verify::{SecretSource, TokenError, Verified, VerifyPolicy, verify};
