//! The `lifeboat` binary: everything lives in the `server` library.
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::storage::private::restrict_umask();
    server::cli::run(server::cli::Cli::parse()).await
}
