//! GetRandomPassword with every option.

use overcast_core::RequestContext;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::SmError;
use crate::SecretsManager;

/// Punctuation AWS draws from.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// GetRandomPassword input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PasswordInput {
    password_length: Option<i64>,
    exclude_characters: Option<String>,
    exclude_numbers: Option<bool>,
    exclude_punctuation: Option<bool>,
    exclude_uppercase: Option<bool>,
    exclude_lowercase: Option<bool>,
    include_space: Option<bool>,
    require_each_included_type: Option<bool>,
}

/// Generates a password per the options.
pub fn generate(i: &PasswordInput) -> Result<String, SmError> {
    let len = i.password_length.unwrap_or(32);
    if !(1..=4096).contains(&len) {
        return Err(SmError::InvalidParameterException(
            "PasswordLength must be between 1 and 4096.".into(),
        ));
    }
    let excluded = i.exclude_characters.clone().unwrap_or_default();
    let mut classes: Vec<Vec<char>> = Vec::new();
    let mut add = |skip: Option<bool>, set: &str| {
        if skip != Some(true) {
            let chars: Vec<char> = set.chars().filter(|c| !excluded.contains(*c)).collect();
            if !chars.is_empty() {
                classes.push(chars);
            }
        }
    };
    add(i.exclude_lowercase, "abcdefghijklmnopqrstuvwxyz");
    add(i.exclude_uppercase, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    add(i.exclude_numbers, "0123456789");
    add(i.exclude_punctuation, PUNCTUATION);
    if i.include_space == Some(true) {
        add(None, " ");
    }
    if classes.is_empty() {
        return Err(SmError::InvalidParameterException(
            "The password cannot be generated: every character type is excluded.".into(),
        ));
    }
    let require = i.require_each_included_type.unwrap_or(true);
    let len = len as usize;
    if require && len < classes.len() {
        return Err(SmError::InvalidParameterException(
            "The password length is too short to include every required character type.".into(),
        ));
    }
    let all: Vec<char> = classes.iter().flatten().copied().collect();
    let mut rng = rand::thread_rng();
    let mut out: Vec<char> = Vec::with_capacity(len);
    if require {
        for c in &classes {
            out.push(c[rng.gen_range(0..c.len())]);
        }
    }
    while out.len() < len {
        out.push(all[rng.gen_range(0..all.len())]);
    }
    out.shuffle(&mut rng);
    Ok(out.into_iter().collect())
}

/// GetRandomPassword.
pub async fn get_random_password(
    _svc: &SecretsManager,
    _ctx: &RequestContext,
    i: PasswordInput,
) -> Result<Value, SmError> {
    Ok(json!({"RandomPassword": generate(&i)?}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_every_option() {
        let p = generate(&PasswordInput::default()).unwrap();
        assert_eq!(p.len(), 32);
        let i = PasswordInput {
            password_length: Some(50),
            exclude_punctuation: Some(true),
            exclude_uppercase: Some(true),
            exclude_characters: Some("abc".into()),
            include_space: Some(true),
            ..Default::default()
        };
        for _ in 0..20 {
            let p = generate(&i).unwrap();
            assert_eq!(p.chars().count(), 50);
            assert!(p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' '));
            assert!(!p.contains(['a', 'b', 'c']));
            assert!(p.contains(' ') && p.chars().any(|c| c.is_ascii_digit()));
        }
        let none = PasswordInput {
            exclude_lowercase: Some(true),
            exclude_uppercase: Some(true),
            exclude_numbers: Some(true),
            exclude_punctuation: Some(true),
            ..Default::default()
        };
        assert!(generate(&none).is_err());
        let short = PasswordInput {
            password_length: Some(2),
            ..Default::default()
        };
        assert!(generate(&short).is_err());
    }
}
