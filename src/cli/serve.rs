//! `liandong serve`: bind, serve until SIGINT or SIGTERM, then finish in-flight requests.

use std::process::ExitCode;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::App;
use crate::settings::{ClockMode, Settings};

pub async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let listen = settings.listen;
    let app = App::open(settings).await?;
    if app.settings.clock == ClockMode::Test {
        tracing::warn!("the TEST CLOCK is on: time can be changed through the API; never use this in production");
    }
    crate::scheduler::spawn(app.clone());
    crate::oversight::deliver::spawn(app.clone())?;
    let listener =
        TcpListener::bind(listen).await.with_context(|| format!("invalid setting listen: cannot bind {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(startup_ms = started.elapsed().as_millis() as u64, "ready");
    println!("liandong listening on http://{addr} (OpenAPI: http://{addr}/api/openapi.json)");
    if app.store.user_count().await? == 0 {
        println!(
            "No staff users yet. Create an office and a first user:\n  \
             cargo run --release -- office add --id ja-dazhi --county 420102 --name 大智街司法所\n  \
             cargo run --release -- user add --username officer1 --role county_officer --scope 420102   (password on stdin)"
        );
    }
    axum::serve(listener, crate::http::router(app.clone()))
        .with_graceful_shutdown({
            let app = app.clone();
            async move {
                shutdown_signal().await;
                app.stop();
            }
        })
        .await
        .context("serving")?;
    app.store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
