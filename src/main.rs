#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    liandong::cli::run().await
}
