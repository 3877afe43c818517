//! The HTTP trigger: Spin's routing and `spin-*` headers, a fresh instance per request.

pub mod routing;

use crate::app::App;
use crate::state::HostState;
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use routing::RouteMatch;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

/// Serves the app's public routes on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(handle_public(&app, req, client).await) }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection from {client}: {e}");
            }
        });
    }
    tracing::info!("shutting down: finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("requests still running after 10 s; stopping anyway"),
    }
    Ok(())
}

async fn handle_public<B>(
    app: &Arc<App>,
    req: Request<B>,
    client: SocketAddr,
) -> Response<HyperOutgoingBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let Some(route) = app.router.route(req.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    match call(app, route, req, &host, Some(client)).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!("{e:#}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// A request from a component to `http://self` (component None) or `http://<id>.spin.internal`.
pub async fn serve_internal(
    app: &Arc<App>,
    component: Option<usize>,
    req: Request<wasmtime_wasi_http::WasiBody>,
) -> Result<Response<HyperOutgoingBody>> {
    let path = req.uri().path().to_string();
    let route = match component {
        None => match app.router.route(&path) {
            Some(route) => route,
            None => return Ok(plain(StatusCode::NOT_FOUND, "Not Found")),
        },
        Some(i) => internal_route(app, i, &path),
    };
    let host = req.uri().host().unwrap_or("self").to_string();
    call(app, route, req, &host, None).await
}

/// How a directly addressed component sees its request: through its public route when the
/// path fits it, else as if routed by `/...`.
fn internal_route(app: &App, component: usize, path: &str) -> RouteMatch {
    if let Some(m) = app.router.route(path).filter(|m| m.component == component) {
        return m;
    }
    RouteMatch {
        component,
        raw_route: "/...".into(),
        component_route: String::new(),
        path_info: path.to_string(),
        params: vec![],
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<HyperOutgoingBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp
}

/// Adds Spin's `spin-*` headers to a routed request.
fn add_spin_headers<B>(
    req: &mut Request<B>,
    route: &RouteMatch,
    host: &str,
    client: Option<SocketAddr>,
) -> Result<()> {
    let full_url = format!(
        "http://{host}{}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut set = |name: String, value: &str| -> Result<()> {
        let value = HeaderValue::from_str(value).with_context(|| format!("header {name}"))?;
        req.headers_mut()
            .insert(http::HeaderName::try_from(name)?, value);
        Ok(())
    };
    set("spin-full-url".into(), &full_url)?;
    set("spin-path-info".into(), &route.path_info)?;
    set("spin-matched-route".into(), &route.raw_route)?;
    set("spin-base-path".into(), "/")?;
    set("spin-raw-component-route".into(), &route.raw_route)?;
    set("spin-component-route".into(), &route.component_route)?;
    if let Some(client) = client {
        set("spin-client-addr".into(), &client.to_string())?;
    }
    for (name, value) in &route.params {
        set(
            format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        )?;
    }
    Ok(())
}

/// Instantiates the routed component and runs its `wasi:http/incoming-handler`.
async fn call<B>(
    app: &Arc<App>,
    route: RouteMatch,
    mut req: Request<B>,
    host: &str,
    client: Option<SocketAddr>,
) -> Result<Response<HyperOutgoingBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let component = &app.components[route.component];
    let proxy_pre = component.http.clone().ok_or_else(|| {
        anyhow!(
            "component `{}` does not export wasi:http/incoming-handler",
            component.id
        )
    })?;
    add_spin_headers(&mut req, &route, host, client)?;

    let mut store = Store::new(&app.engine, HostState::new(app, route.component)?);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let id = component.id.clone();
    // The guest may keep streaming the body after it has sent the head, so it runs in its own task.
    let task = tokio::spawn(async move {
        let proxy = proxy_pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, incoming, out)
            .await
    });
    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => Err(anyhow!("component `{id}` answered with error {code:?}")),
        Err(_) => {
            let why = match task.await {
                Ok(Ok(())) => anyhow!("it returned without setting a response"),
                Ok(Err(e)) => anyhow::Error::from(e),
                Err(e) => anyhow::Error::from(e),
            };
            Err(why.context(format!("component `{id}` failed to handle the request")))
        }
    }
}
