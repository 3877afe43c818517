//! `up`: load the app, start its triggers, run until SIGINT/SIGTERM.

use crate::app::{App, LoadOptions};
use crate::trigger::http::limits::HttpLimits;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::time::Instant;

/// How the triggers take work in: the HTTP trigger's limits, and how many Redis messages
/// may wait to be handled per Redis address.
pub struct TriggerOptions {
    pub http: HttpLimits,
    pub redis_read_ahead: usize,
}

pub async fn run(options: LoadOptions, listen: SocketAddr, triggers: TriggerOptions) -> Result<()> {
    let started = Instant::now();
    let app = App::load(&options).await?;
    let redis_tasks = crate::trigger::redis::start(app.clone(), triggers.redis_read_ahead).await?;
    let has_http = !app.router.is_empty();
    let server = if has_http {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {listen}: is another server using it? pick one with --listen"
                )
            })?;
        // The bound address, not the requested one: with `--listen 127.0.0.1:0` the
        // kernel picks a free port, and this line is how a caller learns it.
        let bound = listener.local_addr().unwrap_or(listen);
        println!(
            "Serving http://{bound} ({} components, ready in {} ms)",
            app.components.len(),
            started.elapsed().as_millis()
        );
        println!("Available routes:");
        for (route, component) in app.router.routes() {
            println!("  {route} -> {}", app.components[component].id);
        }
        Some(tokio::spawn(crate::trigger::http::serve(
            app.clone(),
            listener,
            triggers.http,
            shutdown_signal(),
        )))
    } else {
        println!(
            "Running {} Redis trigger(s); no HTTP routes",
            app.redis_triggers.len()
        );
        None
    };
    // Like Spin, a trigger that ends (a Redis connection lost) ends the host.
    let trigger_ended = async {
        if redis_tasks.is_empty() {
            return std::future::pending().await;
        }
        let (ended, _, _) = futures::future::select_all(redis_tasks).await;
        match ended {
            Ok(Ok(())) => anyhow::anyhow!("a trigger exited unexpectedly"),
            Ok(Err(e)) => e.context("a trigger exited unexpectedly"),
            Err(e) => anyhow::Error::from(e).context("a trigger exited unexpectedly"),
        }
    };
    tokio::select! {
        served = async {
            match server {
                Some(server) => server.await?,
                None => {
                    shutdown_signal().await;
                    Ok(())
                }
            }
        } => served,
        error = trigger_ended => Err(error.context("Terminating")),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
