//! Which API a client command talks to, and with which credentials.
//!
//! Each is taken from the first of these that gives it: flags (`--base-url`, `--token`,
//! `--access-key`/`--secret`), the environment (`HMS_BASE_URL`, `HMS_MANAGEMENT_TOKEN`,
//! `HMS_ACCESS_KEY`/`HMS_SECRET`), the profile (`--profile`, `HMS_PROFILE` or the current
//! one). The base URL defaults to the hosted 100ms. Where one level gives both a token and
//! a key, the token is used; a key given without its secret (or the reverse) takes the other
//! half from the levels below.

use clap::{Arg, ArgAction, ArgMatches};
use hms_client::{Client, Credentials, HOSTED_BASE_URL};

use crate::failure::Failure;
use crate::profile::Profiles;

/// What the command line says about the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFlags {
    pub base_url: Option<String>,
    pub access_key: Option<String>,
    pub secret: Option<String>,
    pub token: Option<String>,
    pub profile: Option<String>,
}

/// The API a command talks to, and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub base_url: String,
    pub credentials: Option<Credentials>,
}

/// The global flags of every API command group.
pub fn args() -> [Arg; 5] {
    let value = |id: &'static str, name: &'static str, help: &'static str| {
        Arg::new(id)
            .long(id)
            .value_name(name)
            .help(help)
            .global(true)
            .action(ArgAction::Set)
            .help_heading("Target")
    };
    [
        value(
            "base-url",
            "URL",
            "The API's base URL [env: HMS_BASE_URL] [default: https://api.100ms.live/v2]",
        ),
        value(
            "access-key",
            "KEY",
            "The workspace's app access key [env: HMS_ACCESS_KEY]",
        ),
        value("secret", "SECRET", "The workspace's app secret [env: HMS_SECRET]"),
        value("token", "TOKEN", "A ready management token [env: HMS_MANAGEMENT_TOKEN]")
            .conflicts_with_all(["access-key", "secret"]),
        value(
            "profile",
            "NAME",
            "The profile to use instead of the current one [env: HMS_PROFILE]",
        ),
    ]
}

impl TargetFlags {
    pub fn from_matches(matches: &ArgMatches) -> Self {
        let get = |id: &str| matches.get_one::<String>(id).cloned();
        Self {
            base_url: get("base-url"),
            access_key: get("access-key"),
            secret: get("secret"),
            token: get("token"),
            profile: get("profile"),
        }
    }
}

/// One level of the precedence.
#[derive(Default)]
struct Level {
    base_url: Option<String>,
    access_key: Option<String>,
    secret: Option<String>,
    token: Option<String>,
}

/// Resolves the target from `flags`, the environment variables `env` answers and the
/// profiles. `needs_credentials` is false for operations that send none (the room-code
/// exchange).
pub fn resolve(
    flags: &TargetFlags,
    env: impl Fn(&str) -> Option<String>,
    profiles: &Profiles,
    needs_credentials: bool,
) -> Result<Target, Failure> {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let profile_name = flags.profile.clone().or_else(|| env("HMS_PROFILE"));
    let profile = profiles.select(profile_name.as_deref())?.map(|(_, profile)| profile);
    let levels = [
        Level {
            base_url: flags.base_url.clone(),
            access_key: flags.access_key.clone(),
            secret: flags.secret.clone(),
            token: flags.token.clone(),
        },
        Level {
            base_url: env("HMS_BASE_URL"),
            access_key: env("HMS_ACCESS_KEY"),
            secret: env("HMS_SECRET"),
            token: env("HMS_MANAGEMENT_TOKEN"),
        },
        profile
            .map(|profile| Level {
                base_url: profile.base_url.clone(),
                access_key: profile.access_key.clone(),
                secret: profile.secret.clone(),
                token: profile.token.clone(),
            })
            .unwrap_or_default(),
    ];
    let base_url = levels
        .iter()
        .find_map(|level| level.base_url.clone())
        .unwrap_or_else(|| HOSTED_BASE_URL.to_owned());
    let mut credentials = None;
    for (index, level) in levels.iter().enumerate() {
        if let Some(token) = &level.token {
            credentials = Some(Credentials::token(token));
            break;
        }
        if level.access_key.is_some() || level.secret.is_some() {
            let below = &levels[index..];
            let access_key = below.iter().find_map(|level| level.access_key.clone());
            let secret = below.iter().find_map(|level| level.secret.clone());
            match (access_key, secret) {
                (Some(access_key), Some(secret)) => credentials = Some(Credentials::key_and_secret(access_key, secret)),
                (None, _) => {
                    return Err(Failure::usage(
                        "a secret was given without its access key (--access-key or HMS_ACCESS_KEY)",
                    ));
                }
                (_, None) => {
                    return Err(Failure::usage(
                        "an access key was given without its secret (--secret or HMS_SECRET)",
                    ));
                }
            }
            break;
        }
    }
    if needs_credentials && credentials.is_none() {
        return Err(Failure::usage(
            "no credentials: give --token or --access-key and --secret, set HMS_MANAGEMENT_TOKEN or \
             HMS_ACCESS_KEY and HMS_SECRET, or add a profile with `hms profile add`",
        ));
    }
    Ok(Target {
        base_url: base_url.trim_end_matches('/').to_owned(),
        credentials,
    })
}

impl Target {
    pub fn client(self) -> Result<Client, Failure> {
        // The room-code exchange sends no credential; any placeholder will do.
        let credentials = self.credentials.unwrap_or_else(|| Credentials::token(""));
        Ok(Client::builder(credentials).base_url(self.base_url).build()?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::profile::Profile;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    fn profiles() -> Profiles {
        let mut profiles = Profiles::default();
        profiles.profiles.insert(
            "keyed".into(),
            Profile {
                base_url: Some("http://profile/v2".into()),
                access_key: Some("profile-key".into()),
                secret: Some("profile-secret".into()),
                token: None,
            },
        );
        profiles.profiles.insert(
            "tokened".into(),
            Profile {
                base_url: None,
                token: Some("profile-token".into()),
                ..Default::default()
            },
        );
        profiles.current = Some("keyed".into());
        profiles
    }

    fn target(base_url: &str, credentials: Option<Credentials>) -> Target {
        Target {
            base_url: base_url.into(),
            credentials,
        }
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_profile() {
        let flags = TargetFlags {
            base_url: Some("http://flag/v2/".into()),
            token: Some("flag-token".into()),
            ..Default::default()
        };
        let all_env = env(&[("HMS_BASE_URL", "http://env/v2"), ("HMS_MANAGEMENT_TOKEN", "env-token")]);
        assert_eq!(
            resolve(&flags, &all_env, &profiles(), true).unwrap(),
            target("http://flag/v2", Some(Credentials::token("flag-token")))
        );
        assert_eq!(
            resolve(&TargetFlags::default(), &all_env, &profiles(), true).unwrap(),
            target("http://env/v2", Some(Credentials::token("env-token")))
        );
        assert_eq!(
            resolve(&TargetFlags::default(), env(&[]), &profiles(), true).unwrap(),
            target(
                "http://profile/v2",
                Some(Credentials::key_and_secret("profile-key", "profile-secret"))
            )
        );
        // Empty variables count as unset.
        assert_eq!(
            resolve(
                &TargetFlags::default(),
                env(&[("HMS_BASE_URL", ""), ("HMS_MANAGEMENT_TOKEN", "")]),
                &profiles(),
                true
            )
            .unwrap(),
            target(
                "http://profile/v2",
                Some(Credentials::key_and_secret("profile-key", "profile-secret"))
            )
        );
    }

    #[test]
    fn profiles_are_chosen_by_flag_then_environment_then_current() {
        let by_flag = TargetFlags {
            profile: Some("tokened".into()),
            ..Default::default()
        };
        let by_env = env(&[("HMS_PROFILE", "keyed")]);
        assert_eq!(
            resolve(&by_flag, &by_env, &profiles(), true).unwrap(),
            target(HOSTED_BASE_URL, Some(Credentials::token("profile-token")))
        );
        let mut tokened_current = profiles();
        tokened_current.current = Some("tokened".into());
        assert_eq!(
            resolve(&TargetFlags::default(), &by_env, &tokened_current, true).unwrap(),
            target(
                "http://profile/v2",
                Some(Credentials::key_and_secret("profile-key", "profile-secret"))
            )
        );
        let unknown = TargetFlags {
            profile: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&unknown, env(&[]), &profiles(), true).unwrap_err().exit_code(),
            2
        );
    }

    #[test]
    fn a_token_beats_a_key_on_the_same_level_and_halves_of_a_key_combine_downwards() {
        let vars = env(&[
            ("HMS_ACCESS_KEY", "env-key"),
            ("HMS_SECRET", "env-secret"),
            ("HMS_MANAGEMENT_TOKEN", "env-token"),
        ]);
        assert_eq!(
            resolve(&TargetFlags::default(), &vars, &Profiles::default(), true)
                .unwrap()
                .credentials,
            Some(Credentials::token("env-token"))
        );
        let secret_flag = TargetFlags {
            secret: Some("flag-secret".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&secret_flag, &vars, &profiles(), true).unwrap().credentials,
            Some(Credentials::key_and_secret("env-key", "flag-secret"))
        );
        let key_env = env(&[("HMS_ACCESS_KEY", "env-key")]);
        assert_eq!(
            resolve(&TargetFlags::default(), &key_env, &profiles(), true)
                .unwrap()
                .credentials,
            Some(Credentials::key_and_secret("env-key", "profile-secret"))
        );
        let error = resolve(&TargetFlags::default(), &key_env, &Profiles::default(), true).unwrap_err();
        assert_eq!(
            error.report(),
            "error: an access key was given without its secret (--secret or HMS_SECRET)"
        );
    }

    #[test]
    fn credentials_are_needed_only_where_they_are_sent() {
        let none = resolve(&TargetFlags::default(), env(&[]), &Profiles::default(), false).unwrap();
        assert_eq!(none, target(HOSTED_BASE_URL, None));
        let error = resolve(&TargetFlags::default(), env(&[]), &Profiles::default(), true).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.report().starts_with("error: no credentials"),
            "{}",
            error.report()
        );
    }
}
