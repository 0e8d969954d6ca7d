//! `wallet-admin`: the operators' command line for the admin function.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = wallet_admin::run(args, &|name| std::env::var(name).ok()).await;
    ExitCode::from(code)
}
