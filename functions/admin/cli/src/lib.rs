//! The operators' command line for the admin function URL.
//!
//! It signs in through the login API (password and TOTP), keeps the admin
//! session in a 0600 file per profile, refreshes it when it has expired,
//! and calls `/admin/...` on the function URL with the request signed by
//! SigV4 (service `lambda`, credentials from the standard AWS chain) and the
//! session in `X-Admin-Session`. URLs must be `https`, except `http` to a
//! loopback host (127.0.0.0/8, ::1, localhost: the local emulator), where
//! it does not sign; anything else is a usage error.
//!
//! Exit codes: [`EXIT_OK`], [`EXIT_REFUSED`] (the backend answered with an
//! error, printed as its code and message), [`EXIT_USAGE`], [`EXIT_LOCAL`]
//! (not signed in, no AWS credentials, network or file trouble).

pub mod api;
pub mod args;
pub mod commands;
pub mod http;
pub mod output;
pub mod session;
pub mod signing;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The backend refused the call (its error code and message are printed).
pub const EXIT_REFUSED: u8 = 1;
/// The command line could not be understood.
pub const EXIT_USAGE: u8 = 2;
/// A local failure: not signed in, no credentials, network or file trouble.
pub const EXIT_LOCAL: u8 = 3;

/// Looks up an environment variable (a map in tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Runs one command line; the result is the process exit code.
pub async fn run(args: Vec<String>, env: EnvLookup<'_>) -> u8 {
    let invocation = match args::parse(&args, env) {
        Ok(args::Parsed::Run(invocation)) => invocation,
        Ok(args::Parsed::Help) => {
            println!("{}", args::USAGE);
            return EXIT_OK;
        }
        Err(err) => {
            let err = output::terminal_safe(&err.to_string(), true);
            eprintln!("wallet-admin: {err}\n\n{}", args::USAGE_HINT);
            return EXIT_USAGE;
        }
    };
    match commands::execute(&invocation, env).await {
        Ok(()) => EXIT_OK,
        Err(failure) => {
            eprintln!("{}", output::terminal_safe(&failure.describe(), true));
            failure.exit_code()
        }
    }
}
