//! Evaluating a flag for one caller, with OpenFeature-style reasons.

use crate::ids::UserId;
use serde::Serialize;
use serde_json::Value;

use super::model::{parse_version, FailMode, Flag, FlagKind, Rule};

/// Why a value was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// On for everyone: enabled with no rules.
    Static,
    /// A rule decided, or the caller passed every rule.
    TargetingMatch,
    /// A percentage rollout decided.
    Split,
    /// A rule kept the caller out; the default value is served.
    Default,
    /// The flag is disabled.
    Disabled,
    /// The flag's kill switch or the global emergency switch is on.
    Killed,
    /// The flag store could not be read; the flag's fail mode decided.
    Error,
}

/// A served value and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub value: Value,
    pub reason: Reason,
}

/// Who is asking.
#[derive(Debug, Clone, Default)]
pub struct EvalContext {
    pub user_id: Option<UserId>,
    /// Used for the rollout bucket of anonymous callers.
    pub device_id: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub app_version: Option<(u32, u32, u32)>,
    /// `anonymous`, `user` or `admin`.
    pub role: String,
}

/// The caller's sticky bucket for `flag_key` in 0..10000: murmur3 (32-bit,
/// seed 0, as Unleash and flagd use) of `"<flag key>:<id>"`.
pub fn bucket(flag_key: &str, id: &str) -> u32 {
    let input = format!("{flag_key}:{id}");
    let hash = murmur3::murmur3_32(&mut std::io::Cursor::new(input.as_bytes()), 0)
        .expect("hashing an in-memory buffer cannot fail");
    hash % 10_000
}

/// Evaluates `flag` for `ctx`. `emergency` is the global emergency switch;
/// `store_failed` says the flag definitions may be stale beyond their bound.
pub fn evaluate(flag: &Flag, ctx: &EvalContext, emergency: bool, store_failed: bool) -> Evaluation {
    let off = |reason| Evaluation {
        value: flag.default_value.clone(),
        reason,
    };
    let on = |reason| Evaluation {
        value: flag.on_value.clone(),
        reason,
    };
    if flag.killed || (emergency && flag.kind == FlagKind::KillSwitch) {
        return off(Reason::Killed);
    }
    if store_failed {
        return match flag.fail_mode {
            FailMode::Open => on(Reason::Error),
            FailMode::Closed => off(Reason::Error),
        };
    }
    if !flag.enabled {
        return off(Reason::Disabled);
    }
    for rule in &flag.rules {
        match rule {
            Rule::AllowUsers { users } => {
                if ctx
                    .user_id
                    .as_ref()
                    .is_some_and(|u| users.iter().any(|listed| listed == u))
                {
                    return on(Reason::TargetingMatch);
                }
            }
            Rule::DenyUsers { users } => {
                if ctx
                    .user_id
                    .as_ref()
                    .is_some_and(|u| users.iter().any(|listed| listed == u))
                {
                    return off(Reason::TargetingMatch);
                }
            }
            Rule::AllowCountries { countries } => {
                if !ctx.country.as_ref().is_some_and(|c| countries.contains(c)) {
                    return off(Reason::Default);
                }
            }
            Rule::DenyCountries { countries } => {
                if ctx.country.as_ref().is_some_and(|c| countries.contains(c)) {
                    return off(Reason::Default);
                }
            }
            Rule::MinAppVersion { version } => {
                let passes = match (ctx.app_version, parse_version(version)) {
                    (Some(have), Some(need)) => have >= need,
                    _ => false,
                };
                if !passes {
                    return off(Reason::Default);
                }
            }
            Rule::Roles { roles } => {
                if !roles.contains(&ctx.role) {
                    return off(Reason::Default);
                }
            }
            Rule::Rollout { basis_points } => {
                let id = ctx.user_id.as_deref().or(ctx.device_id.as_deref());
                let inside = id.is_some_and(|id| bucket(&flag.key, id) < *basis_points);
                return if inside {
                    on(Reason::Split)
                } else {
                    off(Reason::Split)
                };
            }
        }
    }
    if flag.rules.is_empty() {
        on(Reason::Static)
    } else {
        on(Reason::TargetingMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::model::{FailMode, Visibility};
    use serde_json::json;

    fn flag(rules: Vec<Rule>) -> Flag {
        Flag {
            key: "feature.x".into(),
            description: String::new(),
            kind: FlagKind::Release,
            enabled: true,
            visibility: Visibility::Public,
            default_value: json!("off"),
            on_value: json!("on"),
            rules,
            fail_mode: FailMode::Closed,
            killed: false,
            version: 1,
        }
    }

    fn user(id: &str) -> EvalContext {
        EvalContext {
            user_id: Some(UserId::issued(id)),
            role: "user".into(),
            country: Some("FR".into()),
            app_version: Some((2, 0, 0)),
            ..EvalContext::default()
        }
    }

    fn eval(flag: &Flag, ctx: &EvalContext) -> (String, Reason) {
        let e = evaluate(flag, ctx, false, false);
        (e.value.as_str().unwrap().to_string(), e.reason)
    }

    #[test]
    fn no_rules_is_static_and_disabled_serves_default() {
        let mut f = flag(vec![]);
        assert_eq!(eval(&f, &user("u")), ("on".into(), Reason::Static));
        f.enabled = false;
        assert_eq!(eval(&f, &user("u")), ("off".into(), Reason::Disabled));
    }

    #[test]
    fn rules_apply_in_order_and_the_first_decisive_one_wins() {
        let f = flag(vec![
            Rule::DenyUsers {
                users: vec!["mallory".into()],
            },
            Rule::AllowUsers {
                users: vec!["mallory".into(), "vip".into()],
            },
            Rule::AllowCountries {
                countries: vec!["DE".into()],
            },
        ]);
        assert_eq!(
            eval(&f, &user("mallory")),
            ("off".into(), Reason::TargetingMatch)
        );
        assert_eq!(
            eval(&f, &user("vip")),
            ("on".into(), Reason::TargetingMatch)
        );
        assert_eq!(
            eval(&f, &user("someone")),
            ("off".into(), Reason::Default),
            "FR not allowed"
        );
    }

    #[test]
    fn gates_filter_on_country_version_and_role() {
        let f = flag(vec![
            Rule::DenyCountries {
                countries: vec!["KP".into()],
            },
            Rule::MinAppVersion {
                version: "1.5.0".into(),
            },
            Rule::Roles {
                roles: vec!["user".into(), "admin".into()],
            },
        ]);
        assert_eq!(eval(&f, &user("a")), ("on".into(), Reason::TargetingMatch));
        let mut old_app = user("a");
        old_app.app_version = Some((1, 4, 9));
        assert_eq!(eval(&f, &old_app).1, Reason::Default);
        let mut unknown_version = user("a");
        unknown_version.app_version = None;
        assert_eq!(eval(&f, &unknown_version).1, Reason::Default);
        let mut denied = user("a");
        denied.country = Some("KP".into());
        assert_eq!(eval(&f, &denied).1, Reason::Default);
        let anonymous = EvalContext {
            role: "anonymous".into(),
            app_version: Some((9, 9, 9)),
            ..EvalContext::default()
        };
        assert_eq!(eval(&f, &anonymous).1, Reason::Default);
    }

    #[test]
    fn kill_switch_beats_everything_and_emergency_kills_only_kill_switches() {
        let mut f = flag(vec![Rule::AllowUsers {
            users: vec!["vip".into()],
        }]);
        f.killed = true;
        assert_eq!(eval(&f, &user("vip")), ("off".into(), Reason::Killed));

        let mut guarded = flag(vec![]);
        guarded.kind = FlagKind::KillSwitch;
        guarded.default_value = json!(false);
        guarded.on_value = json!(true);
        let plain = flag(vec![]);
        assert_eq!(
            evaluate(&guarded, &user("u"), true, false).reason,
            Reason::Killed
        );
        assert_eq!(
            evaluate(&guarded, &user("u"), true, false).value,
            json!(false)
        );
        assert_eq!(
            evaluate(&plain, &user("u"), true, false).reason,
            Reason::Static
        );
        assert_eq!(
            evaluate(&guarded, &user("u"), true, true).reason,
            Reason::Killed,
            "kill beats error"
        );
    }

    #[test]
    fn store_errors_follow_the_fail_mode() {
        let mut f = flag(vec![]);
        assert_eq!(
            evaluate(&f, &user("u"), false, true),
            Evaluation {
                value: json!("off"),
                reason: Reason::Error
            }
        );
        f.fail_mode = FailMode::Open;
        assert_eq!(
            evaluate(&f, &user("u"), false, true),
            Evaluation {
                value: json!("on"),
                reason: Reason::Error
            }
        );
    }

    #[test]
    fn buckets_are_sticky_and_rollout_only_grows() {
        assert_eq!(bucket("feature.x", "user-1"), bucket("feature.x", "user-1"));
        assert_ne!(bucket("feature.x", "user-1"), bucket("feature.y", "user-1"));
        let ids: Vec<String> = (0..5_000).map(|i| format!("user-{i}")).collect();
        let inside = |bp: u32| -> Vec<bool> {
            let f = flag(vec![Rule::Rollout { basis_points: bp }]);
            ids.iter().map(|id| eval(&f, &user(id)).0 == "on").collect()
        };
        let (small, large) = (inside(1250), inside(4000));
        for (was, now) in small.iter().zip(&large) {
            assert!(!was || *now, "raising the percentage only adds users");
        }
    }

    #[test]
    fn anonymous_callers_bucket_by_device_and_without_any_id_stay_out() {
        let f = flag(vec![Rule::Rollout {
            basis_points: 10_000,
        }]);
        let device = EvalContext {
            device_id: Some("device-1".into()),
            role: "anonymous".into(),
            ..EvalContext::default()
        };
        assert_eq!(eval(&f, &device), ("on".into(), Reason::Split));
        let nobody = EvalContext {
            role: "anonymous".into(),
            ..EvalContext::default()
        };
        assert_eq!(eval(&f, &nobody), ("off".into(), Reason::Split));
    }

    #[test]
    fn ten_percent_of_100_000_ids_lands_within_half_a_percent() {
        let f = flag(vec![Rule::Rollout {
            basis_points: 1_000,
        }]);
        let on = (0..100_000)
            .filter(|i| eval(&f, &user(&format!("user-{i}"))).0 == "on")
            .count();
        let share = on as f64 / 100_000.0;
        assert!((0.095..=0.105).contains(&share), "share {share}");
    }
}
