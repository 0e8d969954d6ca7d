//! What a flag is, and the versioned snapshot all flags live in.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validation::FieldIssue;

/// Why a flag exists; kill switches guard features the emergency switch turns off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    Release,
    Operational,
    KillSwitch,
    Permission,
}

/// Who may see a flag's value: `public` flags go to clients, `internal` never leave the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Internal,
}

/// What a flag serves when the flag store cannot be read: its `on_value`
/// (open) or its `default_value` (closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    Open,
    Closed,
}

/// One targeting rule; rules are evaluated in order and the first decisive one wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// These users get the flag (decisive).
    AllowUsers { users: Vec<String> },
    /// These users never get the flag (decisive).
    DenyUsers { users: Vec<String> },
    /// Only callers from these ISO 3166 countries pass (unknown country fails).
    AllowCountries { countries: Vec<String> },
    /// Callers from these countries do not pass.
    DenyCountries { countries: Vec<String> },
    /// Only app versions at or above this `major.minor.patch` pass.
    MinAppVersion { version: String },
    /// Only these roles pass (`anonymous`, `user`, `admin`).
    Roles { roles: Vec<String> },
    /// Sticky percentage rollout in basis points (1250 = 12.5 %), decisive.
    Rollout { basis_points: u32 },
}

/// A feature flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    pub key: String,
    #[serde(default)]
    pub description: String,
    pub kind: FlagKind,
    pub enabled: bool,
    pub visibility: Visibility,
    /// Served when the flag is off, killed, or a rule keeps the caller out.
    pub default_value: Value,
    /// Served when the flag is on for the caller.
    pub on_value: Value,
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub fail_mode: FailMode,
    /// This feature's own kill switch: serves `default_value` whatever else holds.
    #[serde(default)]
    pub killed: bool,
    /// Bumped on every change; updates must name the version they read.
    #[serde(default)]
    pub version: u64,
}

/// All flags, read and written as one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    /// The global emergency switch: every kill-switch flag is off while set.
    pub emergency: bool,
    pub flags: Vec<Flag>,
}

impl Snapshot {
    pub fn flag(&self, key: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.key == key)
    }
}

const MAX_KEY_LEN: usize = 64;
const MAX_LIST_LEN: usize = 1000;
const MAX_VALUE_BYTES: usize = 1024;

/// Parses `major.minor.patch` into a comparable triple.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.');
    let triple = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(triple)
}

fn is_country(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

fn simple_value(value: &Value) -> bool {
    matches!(value, Value::Bool(_) | Value::Number(_) | Value::String(_))
        && value.to_string().len() <= MAX_VALUE_BYTES
}

impl Flag {
    /// Field-level problems with this definition, empty when valid.
    pub fn problems(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        let key_ok = !self.key.is_empty()
            && self.key.len() <= MAX_KEY_LEN
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !key_ok {
            issues.push(FieldIssue::new(
                "key",
                "1 to 64 of a-z, 0-9, '.', '_' or '-'",
            ));
        }
        if self.description.len() > 500 {
            issues.push(FieldIssue::new("description", "at most 500 characters"));
        }
        if !simple_value(&self.default_value) {
            issues.push(FieldIssue::new(
                "default_value",
                "a boolean, number or string of at most 1 KiB",
            ));
        }
        if !simple_value(&self.on_value)
            || std::mem::discriminant(&self.on_value) != std::mem::discriminant(&self.default_value)
        {
            issues.push(FieldIssue::new(
                "on_value",
                "a boolean, number or string of the same type as default_value",
            ));
        }
        if self.kind == FlagKind::KillSwitch
            && (self.on_value != Value::Bool(true) || self.default_value != Value::Bool(false))
        {
            issues.push(FieldIssue::new(
                "kind",
                "a kill switch serves true when the feature runs and false when it is off",
            ));
        }
        if self.rules.len() > 50 {
            issues.push(FieldIssue::new("rules", "at most 50 rules"));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let field = format!("rules[{i}]");
            let problem = match rule {
                Rule::AllowUsers { users } | Rule::DenyUsers { users } => {
                    (users.len() > MAX_LIST_LEN).then_some("at most 1000 users")
                }
                Rule::AllowCountries { countries } | Rule::DenyCountries { countries } => {
                    (countries.len() > 300 || !countries.iter().all(|c| is_country(c)))
                        .then_some("ISO 3166-1 alpha-2 codes in upper case")
                }
                Rule::MinAppVersion { version } => parse_version(version)
                    .is_none()
                    .then_some("a major.minor.patch version"),
                Rule::Roles { roles } => (!roles
                    .iter()
                    .all(|r| ["anonymous", "user", "admin"].contains(&r.as_str())))
                .then_some("roles are anonymous, user or admin"),
                Rule::Rollout { basis_points } => {
                    (*basis_points > 10_000).then_some("basis points from 0 to 10000")
                }
            };
            if let Some(problem) = problem {
                issues.push(FieldIssue::new(field, problem));
            }
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn flag(key: &str) -> Flag {
        Flag {
            key: key.to_string(),
            description: String::new(),
            kind: FlagKind::Release,
            enabled: true,
            visibility: Visibility::Public,
            default_value: json!(false),
            on_value: json!(true),
            rules: Vec::new(),
            fail_mode: FailMode::Closed,
            killed: false,
            version: 1,
        }
    }

    #[test]
    fn valid_flags_have_no_problems() {
        assert!(flag("new.checkout").problems().is_empty());
    }

    #[test]
    fn bad_keys_values_and_rules_are_named() {
        let mut bad = flag("Bad Key!");
        bad.on_value = json!("on");
        bad.rules = vec![
            Rule::AllowCountries {
                countries: vec!["fr".into()],
            },
            Rule::MinAppVersion {
                version: "1.2".into(),
            },
            Rule::Rollout {
                basis_points: 10_001,
            },
            Rule::Roles {
                roles: vec!["root".into()],
            },
        ];
        let fields: Vec<String> = bad.problems().into_iter().map(|i| i.field).collect();
        assert_eq!(
            fields,
            vec!["key", "on_value", "rules[0]", "rules[1]", "rules[2]", "rules[3]"]
        );
    }

    #[test]
    fn kill_switches_are_booleans_true_when_running() {
        let mut ks = flag("recharge");
        ks.kind = FlagKind::KillSwitch;
        assert!(ks.problems().is_empty());
        ks.on_value = json!(false);
        assert_eq!(ks.problems()[0].field, "kind");
    }

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse_version("1.10.3"), Some((1, 10, 3)));
        assert!(parse_version("1.2").is_none());
        assert!(parse_version("1.2.3.4").is_none());
        assert!(parse_version("1.x.3").is_none());
    }
}
