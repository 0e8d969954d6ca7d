//! Who may reach the function through its URL: behind `AuthType: AWS_IAM`
//! the URL has checked the SigV4 signature and names the IAM caller; the
//! function admits only the admin role's sessions, not any principal whose
//! own policy happens to allow `lambda:InvokeFunctionUrl`.

use shared::config::{required, ConfigError, Env};

/// How the function URL in front of the function authenticates callers
/// (`ADMIN_URL_AUTH`, required): `AWS_IAM` in AWS, with the role operators
/// assume (`ADMIN_ROLE_ARN`); `NONE` for the local emulator, which does not
/// sign. Either way the admin session travels in `X-Admin-Session`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlAuth {
    AwsIam(AdminRole),
    None,
}

impl UrlAuth {
    /// Reads `ADMIN_URL_AUTH` (`AWS_IAM` or `NONE`) and, for `AWS_IAM`, `ADMIN_ROLE_ARN`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        match required(env, "ADMIN_URL_AUTH")?.as_str() {
            "NONE" => Ok(Self::None),
            "AWS_IAM" => Ok(Self::AwsIam(AdminRole::parse(&required(
                env,
                "ADMIN_ROLE_ARN",
            )?)?)),
            _ => Err(ConfigError::Invalid {
                var: "ADMIN_URL_AUTH".into(),
                reason: "must be AWS_IAM or NONE".into(),
            }),
        }
    }
}

/// The IAM role operators assume to call the function URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRole {
    partition: String,
    account: String,
    name: String,
}

impl AdminRole {
    /// From a role ARN, `arn:<partition>:iam::<account>:role/[<path>/]<name>`.
    pub fn parse(arn: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::Invalid {
            var: "ADMIN_ROLE_ARN".into(),
            reason: "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)".into(),
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_arn @ "arn", partition, "iam", "", account, resource] = parts.as_slice() else {
            return Err(invalid());
        };
        let name = resource
            .strip_prefix("role/")
            .and_then(|path| path.rsplit('/').next())
            .filter(|name| !name.is_empty())
            .ok_or_else(invalid)?;
        if partition.is_empty()
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        Ok(Self {
            partition: partition.to_string(),
            account: account.to_string(),
            name: name.to_string(),
        })
    }

    /// Whether the URL's caller is a session of this role:
    /// `arn:<partition>:sts::<account>:assumed-role/<name>/<session>`.
    pub fn admits(&self, caller_arn: &str) -> bool {
        let prefix = format!(
            "arn:{}:sts::{}:assumed-role/{}/",
            self.partition, self.account, self.name
        );
        caller_arn
            .strip_prefix(&prefix)
            .is_some_and(|session| !session.is_empty() && !session.contains('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sessions_of_the_admin_role_are_admitted() {
        let role = AdminRole::parse("arn:aws:iam::123456789012:role/ops/wallet-admin").unwrap();
        assert!(role.admits("arn:aws:sts::123456789012:assumed-role/wallet-admin/alice"));
        for caller in [
            "arn:aws:sts::123456789012:assumed-role/wallet-admin-ci/alice",
            "arn:aws:sts::123456789012:assumed-role/PowerUser/alice",
            "arn:aws:sts::210987654321:assumed-role/wallet-admin/alice",
            "arn:aws-cn:sts::123456789012:assumed-role/wallet-admin/alice",
            "arn:aws:iam::123456789012:user/wallet-admin",
            "arn:aws:iam::123456789012:role/ops/wallet-admin",
            "arn:aws:sts::123456789012:assumed-role/wallet-admin/",
            "arn:aws:sts::123456789012:assumed-role/wallet-admin",
            "",
        ] {
            assert!(!role.admits(caller), "{caller}");
        }
    }

    #[test]
    fn the_role_arn_must_name_a_role_in_an_account() {
        for arn in [
            "*",
            "123456789012",
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::12345:role/wallet-admin",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:sts::123456789012:assumed-role/wallet-admin/x",
        ] {
            assert!(AdminRole::parse(arn).is_err(), "{arn}");
        }
    }
}
