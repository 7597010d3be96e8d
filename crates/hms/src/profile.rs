//! Named profiles: a base URL and credentials, kept in `profiles.toml` in the config dir
//! (`$HMS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hms`, else `~/.config/hms`), readable by its
//! owner only. `hms profile add|list|use|remove` manage them; the client commands use the
//! current one (or the one `--profile`/`HMS_PROFILE` names) for what flags and environment
//! leave open.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::failure::Failure;

pub const FILE_NAME: &str = "profiles.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Profile {
    /// What the profile authenticates with, without revealing a secret or token.
    pub fn credentials_summary(&self) -> String {
        match (&self.token, &self.access_key, &self.secret) {
            (Some(_), _, _) => "management token".to_owned(),
            (None, Some(key), Some(_)) => format!("access key {key} and secret"),
            _ => "none".to_owned(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl Profiles {
    /// The profile `name` names, or the current one when `name` is `None`. An unknown
    /// name is a usage error; no current profile is `None`.
    pub fn select(&self, name: Option<&str>) -> Result<Option<(&str, &Profile)>, Failure> {
        let Some(name) = name.or(self.current.as_deref()) else {
            return Ok(None);
        };
        match self.profiles.get_key_value(name) {
            Some((name, profile)) => Ok(Some((name.as_str(), profile))),
            None => Err(Failure::usage(format!(
                "no profile named `{name}` (see `hms profile list`)"
            ))),
        }
    }
}

/// The directory of `profiles.toml`.
pub fn config_dir() -> Result<PathBuf, Failure> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("HMS_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(dir).join("hms"));
    }
    match var("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("hms")),
        None => Err(Failure::usage("cannot find the config dir: set HMS_CONFIG_DIR or HOME")),
    }
}

/// Reads `profiles.toml` of `dir`; a missing file holds no profiles.
pub fn load(dir: &Path) -> Result<Profiles, Failure> {
    let path = dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| Failure::other(format!("{} is not valid: {e}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
        Err(error) => Err(Failure::other(format!("cannot read {}: {error}", path.display()))),
    }
}

/// Writes `profiles.toml` of `dir` (readable and writable by its owner only), replacing
/// the old file at once.
pub fn save(dir: &Path, profiles: &Profiles) -> Result<(), Failure> {
    let text = toml::to_string(profiles).map_err(Failure::other)?;
    let failed = |what: &str, path: &Path, error: std::io::Error| {
        Failure::other(format!("cannot {what} {}: {error}", path.display()))
    };
    create_private_dir(dir).map_err(|e| failed("create", dir, e))?;
    let path = dir.join(FILE_NAME);
    let temp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = private_file(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        failed("write", &path, e)
    })?;
    restrict(&path).map_err(|e| failed("protect", &path, e))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Add a profile, or replace the one of that name. The first profile becomes the
    /// current one.
    Add {
        name: String,
        /// The API's base URL [default: https://api.100ms.live/v2].
        #[arg(long)]
        base_url: Option<String>,
        /// The workspace's app access key (with --secret).
        #[arg(long, requires = "secret", conflicts_with = "token")]
        access_key: Option<String>,
        /// The workspace's app secret (with --access-key).
        #[arg(long, requires = "access_key", conflicts_with = "token")]
        secret: Option<String>,
        /// A ready management token.
        #[arg(long)]
        token: Option<String>,
        /// Also make it the current profile.
        #[arg(long = "use")]
        make_current: bool,
    },
    /// List the profiles (never their secrets or tokens); `*` marks the current one.
    List,
    /// Make a profile the current one.
    Use { name: String },
    /// Remove a profile.
    Remove { name: String },
}

pub fn run(command: ProfileCommand) -> Result<(), Failure> {
    let dir = config_dir()?;
    let mut profiles = load(&dir)?;
    match command {
        ProfileCommand::Add {
            name,
            base_url,
            access_key,
            secret,
            token,
            make_current,
        } => {
            check_name(&name)?;
            let profile = Profile {
                base_url: base_url.map(|url| url.trim_end_matches('/').to_owned()),
                access_key,
                secret,
                token,
            };
            let replaced = profiles.profiles.insert(name.clone(), profile).is_some();
            if make_current || profiles.current.is_none() {
                profiles.current = Some(name.clone());
            }
            save(&dir, &profiles)?;
            let verb = if replaced { "Replaced" } else { "Added" };
            let current = if profiles.current.as_deref() == Some(&name) {
                " (current)"
            } else {
                ""
            };
            println!("{verb} profile `{name}`{current} in {}", dir.join(FILE_NAME).display());
        }
        ProfileCommand::List => print!("{}", list(&profiles)),
        ProfileCommand::Use { name } => {
            profiles.select(Some(&name))?;
            profiles.current = Some(name.clone());
            save(&dir, &profiles)?;
            println!("Profile `{name}` is now the current one");
        }
        ProfileCommand::Remove { name } => {
            if profiles.profiles.remove(&name).is_none() {
                return Err(Failure::usage(format!("no profile named `{name}`")));
            }
            if profiles.current.as_deref() == Some(&name) {
                profiles.current = None;
            }
            save(&dir, &profiles)?;
            println!("Removed profile `{name}`");
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), Failure> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "`{name}` is not a profile name: use letters, digits, `-`, `_` and `.`"
        )))
    }
}

/// The table `hms profile list` prints.
fn list(profiles: &Profiles) -> String {
    if profiles.profiles.is_empty() {
        return "No profiles yet: add one with `hms profile add NAME --base-url URL …`\n".to_owned();
    }
    let rows: Vec<Vec<String>> = profiles
        .profiles
        .iter()
        .map(|(name, profile)| {
            let current = if profiles.current.as_deref() == Some(name) {
                "*"
            } else {
                ""
            };
            vec![
                current.to_owned(),
                name.clone(),
                profile
                    .base_url
                    .clone()
                    .unwrap_or_else(|| format!("{} (default)", hms_client::HOSTED_BASE_URL)),
                profile.credentials_summary(),
            ]
        })
        .collect();
    crate::output::table(&["", "NAME", "BASE URL", "CREDENTIALS"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_privately_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("hms");
        assert_eq!(load(&nested).unwrap(), Profiles::default());
        let mut profiles = Profiles::default();
        profiles.profiles.insert(
            "local".into(),
            Profile {
                base_url: Some("http://127.0.0.1:8080/v2".into()),
                access_key: Some("key".into()),
                secret: Some("s3cret".into()),
                token: None,
            },
        );
        profiles.current = Some("local".into());
        save(&nested, &profiles).unwrap();
        assert_eq!(load(&nested).unwrap(), profiles);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(nested.join(FILE_NAME)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let listed = list(&profiles);
        assert!(!listed.contains("s3cret"), "{listed}");
        assert_eq!(
            listed,
            "   NAME   BASE URL                  CREDENTIALS\n\
             *  local  http://127.0.0.1:8080/v2  access key key and secret\n"
        );
    }

    #[test]
    fn selects_by_name_or_the_current_one() {
        let mut profiles = Profiles::default();
        assert_eq!(profiles.select(None).unwrap(), None);
        profiles.profiles.insert("a".into(), Profile::default());
        profiles.profiles.insert("b".into(), Profile::default());
        assert_eq!(profiles.select(None).unwrap(), None);
        profiles.current = Some("a".into());
        assert_eq!(profiles.select(None).unwrap().unwrap().0, "a");
        assert_eq!(profiles.select(Some("b")).unwrap().unwrap().0, "b");
        let error = profiles.select(Some("c")).unwrap_err();
        assert_eq!(error.report(), "error: no profile named `c` (see `hms profile list`)");
        assert!(check_name("hosted-eu_2.x").is_ok());
        assert!(check_name("a b").is_err());
        assert!(check_name("").is_err());
    }
}
