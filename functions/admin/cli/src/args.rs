//! The command line: global options, then a command and its arguments.

use std::fmt;

use crate::EnvLookup;

pub const USAGE: &str = "\
wallet-admin: the operators' tool for the admin function URL

USAGE: wallet-admin [OPTIONS] <COMMAND> [ARGS]

OPTIONS (before or after the command):
  --profile NAME       session profile (env WALLET_ADMIN_PROFILE; default \"default\")
  --api-url URL        login API base, e.g. https://ID.execute-api.REGION.amazonaws.com/prod
                       or http://127.0.0.1:9000/lambda-url/login (env WALLET_API_URL)
  --admin-url URL      admin function URL, e.g. https://ID.lambda-url.REGION.on.aws
                       or http://127.0.0.1:9000/lambda-url/admin (env WALLET_ADMIN_URL)
  --region REGION      SigV4 region (default: from the function URL, else the AWS config)
  --aws-profile NAME   AWS credentials profile (default: the standard chain, AWS_PROFILE)
  --unsigned           do not sign (a loopback admin URL only); implied by http:// ones
                       URLs must be https://, or http:// to 127.0.0.0/8, ::1 or localhost
  --device-id ID       device the session is bound to (default: generated at login)
  --json               print the backend's JSON instead of tables
  -h, --help           this text

COMMANDS:
  login [--email EMAIL] [--totp-code CODE]
                       sign in; the password comes from WALLET_ADMIN_PASSWORD, a prompt
                       without echo, or the first line of stdin when it is not a terminal
                       (then the TOTP code from the second line unless --totp-code)
  logout               revoke the session (refreshed first if the access token has
                       expired), then delete its file; if the revocation fails the
                       file is kept to run logout again, and the exit code is 1 or 3
  session              show the stored session (never the tokens)
  flags list | get KEY | create --file F | update KEY --file F
        | kill KEY | restore KEY | delete KEY --version N
                       F is a JSON file, or - for stdin; update's body names the version read
  emergency disable --reason TEXT | restore --reason TEXT
  reviews list [--status open|approved|rejected] [--limit N]
        | approve CASE [--note TEXT] | reject CASE [--note TEXT]
  kyc list [--status STATUS] [--limit N] [--cursor C] | show ID
        | approve ID | reject ID --reason TEXT | resubmit ID --reason TEXT
  users unlock USER_ID | erase-kyc USER_ID | end-sessions USER_ID | reset-totp USER_ID
  audit list [--limit N] [--before SEQ] | verify

EXIT CODES: 0 done, 1 refused by the backend, 2 usage, 3 local failure
(not signed in, no AWS credentials, network, files).";

pub const USAGE_HINT: &str = "Run `wallet-admin --help` for the commands.";

/// A command line that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(text: impl Into<String>) -> UsageError {
    UsageError(text.into())
}

/// Options that apply to every command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Global {
    pub profile: String,
    pub api_url: Option<String>,
    pub admin_url: Option<String>,
    pub region: Option<String>,
    pub aws_profile: Option<String>,
    pub unsigned: bool,
    pub device_id: Option<String>,
    pub json: bool,
}

/// Where a JSON body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySource {
    Stdin,
    File(String),
}

/// A call to one admin route (or, for kill and restore, a read then a write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCall {
    FlagsList,
    FlagsGet {
        key: String,
    },
    FlagsCreate {
        body: BodySource,
    },
    FlagsUpdate {
        key: String,
        body: BodySource,
    },
    FlagsKill {
        key: String,
        killed: bool,
    },
    FlagsDelete {
        key: String,
        version: u64,
    },
    Emergency {
        disable: bool,
        reason: String,
    },
    ReviewsList {
        status: Option<String>,
        limit: Option<u32>,
    },
    ReviewDecide {
        case_id: String,
        approve: bool,
        note: Option<String>,
    },
    KycList {
        status: Option<String>,
        limit: Option<u32>,
        cursor: Option<String>,
    },
    KycShow {
        id: String,
    },
    KycDecide {
        id: String,
        decision: &'static str,
        reason: Option<String>,
    },
    UsersUnlock {
        user_id: String,
    },
    UsersEraseKyc {
        user_id: String,
    },
    UsersEndSessions {
        user_id: String,
    },
    UsersResetTotp {
        user_id: String,
    },
    AuditList {
        limit: Option<u32>,
        before: Option<u64>,
    },
    AuditVerify,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Login {
        email: Option<String>,
        totp_code: Option<String>,
    },
    Logout,
    Session,
    Admin(AdminCall),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub global: Global,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Invocation>),
    Help,
}

/// Options a command accepts, with whether each takes a value.
struct Options {
    values: Vec<(String, String)>,
    positionals: Vec<String>,
}

impl Options {
    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.values.iter().position(|(n, _)| n == name)?;
        Some(self.values.remove(at).1)
    }

    fn number<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, UsageError> {
        match self.take(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| usage(format!("--{name} must be a non-negative integer"))),
        }
    }

    fn required(&mut self, name: &str) -> Result<String, UsageError> {
        self.take(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| usage(format!("--{name} is required")))
    }

    fn body(&mut self) -> Result<BodySource, UsageError> {
        match self.required("file")?.as_str() {
            "-" => Ok(BodySource::Stdin),
            path => Ok(BodySource::File(path.to_string())),
        }
    }

    /// Fails on whatever the command did not use.
    fn finish(self, expected_positionals: usize) -> Result<(), UsageError> {
        if let Some((name, _)) = self.values.first() {
            return Err(usage(format!("--{name} is not an option of this command")));
        }
        if self.positionals.len() > expected_positionals {
            return Err(usage(format!(
                "unexpected argument `{}`",
                self.positionals[expected_positionals]
            )));
        }
        Ok(())
    }
}

const GLOBAL_VALUED: [&str; 6] = [
    "profile",
    "api-url",
    "admin-url",
    "region",
    "aws-profile",
    "device-id",
];
const COMMAND_VALUED: [&str; 10] = [
    "email",
    "totp-code",
    "file",
    "version",
    "reason",
    "status",
    "limit",
    "cursor",
    "note",
    "before",
];

/// Parses the arguments after the program name; `env` supplies the
/// defaults named in [`USAGE`].
pub fn parse(args: &[String], env: EnvLookup<'_>) -> Result<Parsed, UsageError> {
    let mut global = Global::default();
    let mut words: Vec<String> = Vec::new();
    let mut options = Options {
        values: Vec::new(),
        positionals: Vec::new(),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-h" || arg == "--help" || (words.is_empty() && arg == "help") {
            return Ok(Parsed::Help);
        }
        let Some(long) = arg.strip_prefix("--") else {
            words.push(arg.clone());
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (long, None),
        };
        match name {
            "json" | "unsigned" => {
                if inline.is_some() {
                    return Err(usage(format!("--{name} takes no value")));
                }
                if name == "json" {
                    global.json = true;
                } else {
                    global.unsigned = true;
                }
                continue;
            }
            _ => {}
        }
        let valued = GLOBAL_VALUED.contains(&name) || COMMAND_VALUED.contains(&name);
        if !valued {
            return Err(usage(format!("unknown option --{name}")));
        }
        let value = match inline {
            Some(value) => value,
            None => iter
                .next()
                .cloned()
                .ok_or_else(|| usage(format!("--{name} needs a value")))?,
        };
        match name {
            "profile" => global.profile = value,
            "api-url" => global.api_url = Some(value),
            "admin-url" => global.admin_url = Some(value),
            "region" => global.region = Some(value),
            "aws-profile" => global.aws_profile = Some(value),
            "device-id" => global.device_id = Some(value),
            _ => {
                if options.values.iter().any(|(n, _)| n == name) {
                    return Err(usage(format!("--{name} given twice")));
                }
                options.values.push((name.to_string(), value));
            }
        }
    }
    if global.profile.is_empty() {
        global.profile = env("WALLET_ADMIN_PROFILE").unwrap_or_else(|| "default".into());
    }
    if !valid_profile(&global.profile) {
        return Err(usage(
            "--profile: 1 to 64 letters, digits, '-' or '_'".to_string(),
        ));
    }
    global.api_url = global.api_url.or_else(|| env("WALLET_API_URL"));
    global.admin_url = global.admin_url.or_else(|| env("WALLET_ADMIN_URL"));
    if words.is_empty() {
        return Err(usage("a command is required"));
    }
    let group = words.remove(0);
    options.positionals = words;
    let command = command(&group, options)?;
    Ok(Parsed::Run(Box::new(Invocation { global, command })))
}

fn valid_profile(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn command(group: &str, mut o: Options) -> Result<Command, UsageError> {
    let sub = o.positionals.first().cloned().unwrap_or_default();
    let arg = |o: &Options, what: &str| -> Result<String, UsageError> {
        o.positionals
            .get(1)
            .cloned()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| usage(format!("{group} {sub}: {what} is required")))
    };
    let (command, positionals) = match (group, sub.as_str()) {
        ("login", _) => {
            let command = Command::Login {
                email: o.take("email"),
                totp_code: o.take("totp-code"),
            };
            (command, 0)
        }
        ("logout", _) => (Command::Logout, 0),
        ("session", _) => (Command::Session, 0),
        ("flags", "list") => (Command::Admin(AdminCall::FlagsList), 1),
        ("flags", "get") => {
            let key = arg(&o, "KEY")?;
            (Command::Admin(AdminCall::FlagsGet { key }), 2)
        }
        ("flags", "create") => {
            let body = o.body()?;
            (Command::Admin(AdminCall::FlagsCreate { body }), 1)
        }
        ("flags", "update") => {
            let key = arg(&o, "KEY")?;
            let body = o.body()?;
            (Command::Admin(AdminCall::FlagsUpdate { key, body }), 2)
        }
        ("flags", "kill") | ("flags", "restore") => {
            let key = arg(&o, "KEY")?;
            let killed = sub == "kill";
            (Command::Admin(AdminCall::FlagsKill { key, killed }), 2)
        }
        ("flags", "delete") => {
            let key = arg(&o, "KEY")?;
            let version = o.number("version")?.ok_or_else(|| {
                usage("flags delete: --version (the version you read) is required")
            })?;
            (Command::Admin(AdminCall::FlagsDelete { key, version }), 2)
        }
        ("emergency", "disable") | ("emergency", "restore") => {
            let reason = o.required("reason")?;
            let disable = sub == "disable";
            (Command::Admin(AdminCall::Emergency { disable, reason }), 1)
        }
        ("reviews", "list") => {
            let call = AdminCall::ReviewsList {
                status: o.take("status"),
                limit: o.number("limit")?,
            };
            (Command::Admin(call), 1)
        }
        ("reviews", "approve") | ("reviews", "reject") => {
            let call = AdminCall::ReviewDecide {
                case_id: arg(&o, "CASE")?,
                approve: sub == "approve",
                note: o.take("note"),
            };
            (Command::Admin(call), 2)
        }
        ("kyc", "list") => {
            let call = AdminCall::KycList {
                status: o.take("status"),
                limit: o.number("limit")?,
                cursor: o.take("cursor"),
            };
            (Command::Admin(call), 1)
        }
        ("kyc", "show") => {
            let id = arg(&o, "ID")?;
            (Command::Admin(AdminCall::KycShow { id }), 2)
        }
        ("kyc", "approve") => {
            let id = arg(&o, "ID")?;
            let call = AdminCall::KycDecide {
                id,
                decision: "approve",
                reason: None,
            };
            (Command::Admin(call), 2)
        }
        ("kyc", "reject") | ("kyc", "resubmit") => {
            let id = arg(&o, "ID")?;
            let decision = if sub == "reject" {
                "reject"
            } else {
                "request_resubmission"
            };
            let reason = Some(o.required("reason")?);
            (
                Command::Admin(AdminCall::KycDecide {
                    id,
                    decision,
                    reason,
                }),
                2,
            )
        }
        ("users", "unlock") => {
            let user_id = arg(&o, "USER_ID")?;
            (Command::Admin(AdminCall::UsersUnlock { user_id }), 2)
        }
        ("users", "reset-totp") => {
            let user_id = arg(&o, "USER_ID")?;
            (Command::Admin(AdminCall::UsersResetTotp { user_id }), 2)
        }
        ("users", "end-sessions") => {
            let user_id = arg(&o, "USER_ID")?;
            (Command::Admin(AdminCall::UsersEndSessions { user_id }), 2)
        }
        ("users", "erase-kyc") => {
            let user_id = arg(&o, "USER_ID")?;
            (Command::Admin(AdminCall::UsersEraseKyc { user_id }), 2)
        }
        ("audit", "list") => {
            let call = AdminCall::AuditList {
                limit: o.number("limit")?,
                before: o.number("before")?,
            };
            (Command::Admin(call), 1)
        }
        ("audit", "verify") => (Command::Admin(AdminCall::AuditVerify), 1),
        ("flags" | "emergency" | "reviews" | "kyc" | "users" | "audit", "") => {
            return Err(usage(format!("{group}: a subcommand is required")))
        }
        ("flags" | "emergency" | "reviews" | "kyc" | "users" | "audit", _) => {
            return Err(usage(format!("{group}: unknown subcommand `{sub}`")))
        }
        _ => return Err(usage(format!("unknown command `{group}`"))),
    };
    o.finish(positionals)?;
    Ok(command)
}
