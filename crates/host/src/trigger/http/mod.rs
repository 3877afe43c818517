//! The HTTP trigger: Spin's routing and `spin-*` headers, a fresh instance per request.

pub mod inbound;
pub mod limits;

use crate::app::{App, StartedBy};
use crate::capability::outbound_http::{Chained, ChainedResponse, ServiceChaining};
use crate::config::routes::RouteMatch;
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use limits::{BodyFailure, GuardedBody, HttpLimits};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

/// Serves the app's public routes on `listener` within `limits` until `shutdown` resolves,
/// then drains connections.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/1.1, as Spin serves plain HTTP. hyper starts this timer whenever a connection
    // waits for a request head: on opening and after each response, so it also ends idle
    // keep-alive connections.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_in_flight));
    let trigger = Arc::new(HttpTrigger { app });
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
        let (trigger, limits, slots) = (trigger.clone(), limits.clone(), slots.clone());
        let service = hyper::service::service_fn(move |req| {
            let (trigger, limits, slots) = (trigger.clone(), limits.clone(), slots.clone());
            async move {
                let answer = trigger.handle_public(&limits, slots, req, client).await;
                Ok::<_, std::convert::Infallible>(answer)
            }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
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

/// The HTTP trigger of one app: it serves the public routes and, for its instances, their
/// chained requests.
struct HttpTrigger {
    app: Arc<App>,
}

impl ServiceChaining for HttpTrigger {
    fn has_component(&self, id: &str) -> bool {
        self.app.component_index(id).is_some()
    }

    fn send(
        self: Arc<Self>,
        to: Chained,
        request: Request<wasmtime_wasi_http::WasiBody>,
    ) -> ChainedResponse {
        Box::pin(self.serve_chained(to, request))
    }
}

impl HttpTrigger {
    /// Answers one public request, and logs it in one line (`SPIN_LITE_LOG`, target
    /// `spin_lite::request`): method, path, status, component and the time to the response
    /// head.
    async fn handle_public<B>(
        self: &Arc<Self>,
        limits: &HttpLimits,
        slots: Arc<Semaphore>,
        req: Request<B>,
        client: SocketAddr,
    ) -> Response<HyperOutgoingBody>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
    {
        let started = std::time::Instant::now();
        let route = self.app.router.route(req.uri().path());
        let logged = tracing::enabled!(target: "spin_lite::request", tracing::Level::INFO)
            .then(|| (req.method().clone(), req.uri().path().to_owned()));
        let component = route
            .as_ref()
            .map(|r| self.app.components[r.component].id.clone());
        let answer = match route {
            Some(route) => self.admit(route, limits, slots, req, client).await,
            None => plain(StatusCode::NOT_FOUND, "Not Found"),
        };
        if let Some((method, path)) = logged {
            tracing::info!(
                target: "spin_lite::request",
                "{method} {path} {} {} {:.1}ms",
                answer.status().as_u16(),
                component.as_deref().unwrap_or("(no route)"),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        answer
    }

    /// Checks a routed request's authority, headers and body against `limits`, takes a slot
    /// and runs the guest.
    async fn admit<B>(
        self: &Arc<Self>,
        route: RouteMatch,
        limits: &HttpLimits,
        slots: Arc<Semaphore>,
        req: Request<B>,
        client: SocketAddr,
    ) -> Response<HyperOutgoingBody>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
    {
        let (mut parts, body) = req.into_parts();
        let authority = match inbound::authority(
            parts.uri.authority(),
            parts.headers.get(http::header::HOST),
        ) {
            Ok(a) => a,
            Err(why) => {
                tracing::debug!("refused a request from {client}: {why}");
                return plain(StatusCode::BAD_REQUEST, "Bad Request");
            }
        };
        inbound::strip_host_set_headers(&mut parts.headers);
        // wasi:http takes the authority from the URI: make it the one just checked.
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = match http::Uri::try_from(format!("http://{authority}{target}")) {
            Ok(uri) => uri,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
        };
        let declared = content_length(&parts.headers);
        if declared.is_some_and(|n| n > limits.max_body) {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
        }
        // A small body is in before an instance is taken: a slow client holds only its socket.
        // A body announced larger goes to the guest at once, which may refuse it by its length.
        let ahead = match declared {
            Some(n) if n > limits.buffered_body as u64 => 0,
            _ => limits.buffered_body,
        };
        let mut body = GuardedBody::new(body, limits);
        if let Err(failure) = body.receive_ahead(ahead).await {
            tracing::debug!("request body from {client} not received: {failure:?}");
            return match failure {
                BodyFailure::TooLarge => plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"),
                BodyFailure::Stalled => plain(StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
                BodyFailure::Broken => plain(StatusCode::BAD_REQUEST, "Bad Request"),
            };
        }
        let Ok(slot) = slots.try_acquire_owned() else {
            let mut busy = plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            busy.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return busy;
        };
        let req = Request::from_parts(parts, body);
        match self
            .call(route, req, authority.as_str(), Some(client), Some(slot))
            .await
        {
            Ok(resp) => resp,
            Err(e) => {
                // One line per failure: what failed and why, without the wasm backtrace (which
                // SPIN_LITE_LOG=debug shows).
                let cause = e.root_cause().to_string();
                let cause = cause.lines().next().unwrap_or_default();
                tracing::error!("{e}: {cause}");
                tracing::debug!("{e:?}");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }

    /// A request from a component to `http://self` or `http://<id>.spin.internal`.
    async fn serve_chained(
        self: Arc<Self>,
        to: Chained,
        req: Request<wasmtime_wasi_http::WasiBody>,
    ) -> Result<Response<HyperOutgoingBody>> {
        let path = req.uri().path().to_string();
        let route = match to {
            Chained::SelfApp => match self.app.router.route(&path) {
                Some(route) => route,
                None => return Ok(plain(StatusCode::NOT_FOUND, "Not Found")),
            },
            Chained::Component(id) => {
                let i = self
                    .app
                    .component_index(&id)
                    .with_context(|| format!("no component `{id}`"))?;
                internal_route(&self.app, i, &path)
            }
        };
        let host = req.uri().host().unwrap_or("self").to_string();
        // No slot: a component's call to another must not wait for one its caller holds.
        self.call(route, req, &host, None, None).await
    }
}

/// The declared body length, if the request has a valid `Content-Length`.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
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
    use http::HeaderName;
    // The fixed names are built once, not parsed per request.
    const FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
    const PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
    const MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
    const BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
    const RAW_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-raw-component-route");
    const COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
    const CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

    let full_url = format!(
        "http://{host}{}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let value = |name: &HeaderName, value: &str| -> Result<HeaderValue> {
        HeaderValue::from_str(value).with_context(|| format!("header {name}"))
    };
    let raw_route = value(&MATCHED_ROUTE, &route.raw_route)?;
    let mut add = vec![
        (FULL_URL, value(&FULL_URL, &full_url)?),
        (PATH_INFO, value(&PATH_INFO, &route.path_info)?),
        (MATCHED_ROUTE, raw_route.clone()),
        (BASE_PATH, HeaderValue::from_static("/")),
        (RAW_COMPONENT_ROUTE, raw_route),
        (
            COMPONENT_ROUTE,
            value(&COMPONENT_ROUTE, &route.component_route)?,
        ),
    ];
    if let Some(client) = client {
        add.push((CLIENT_ADDR, value(&CLIENT_ADDR, &client.to_string())?));
    }
    for (name, v) in &route.params {
        let name = HeaderName::try_from(format!("spin-path-match-{}", name.to_ascii_lowercase()))?;
        let v = value(&name, v)?;
        add.push((name, v));
    }
    let headers = req.headers_mut();
    headers.reserve(add.len());
    for (name, value) in add {
        headers.insert(name, value);
    }
    Ok(())
}

/// Instantiates the routed component and runs its `wasi:http/incoming-handler`.
///
/// The guest runs inline in the request's task until it has sent its response head, and
/// usually to its end (a small body fits the body channel): no task spawn, no cross-thread
/// wake-up on the common path. A guest still streaming its body when the head is ready, or
/// still running when the client goes away, finishes in a task of its own.
impl HttpTrigger {
    async fn call<B>(
        self: &Arc<Self>,
        route: RouteMatch,
        mut req: Request<B>,
        host: &str,
        client: Option<SocketAddr>,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<Response<HyperOutgoingBody>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let app = &self.app;
        let component = &app.components[route.component];
        let proxy_pre = component.http.clone().ok_or_else(|| {
            anyhow!(
                "component `{}` does not export wasi:http/incoming-handler",
                component.id
            )
        })?;
        add_spin_headers(&mut req, &route, host, client)?;
        let what = format!("{} {}", req.method(), req.uri().path());

        let chaining: Arc<dyn ServiceChaining> = self.clone();
        let mut store = app.new_store(route.component, StartedBy::Http(chaining))?;
        let (sender, mut receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let id = component.id.clone();
        let mut guest = GuestRun(Some(Box::pin(async move {
            // The request counts as in flight until its guest has ended.
            let _slot = slot;
            let proxy = proxy_pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, out)
                .await
        })));

        // Drive the guest until it has answered (or ended).
        let mut outparam_dropped = false;
        let outcome = std::future::poll_fn(|cx| {
            if let Poll::Ready(done) = guest.poll(cx) {
                return Poll::Ready(Outcome::GuestEnded(done));
            }
            if outparam_dropped {
                return Poll::Pending;
            }
            match Pin::new(&mut receiver).poll(cx) {
                Poll::Ready(Ok(answer)) => Poll::Ready(Outcome::Answered(answer)),
                // The guest dropped its response outparam unset: wait for its end, for the reason.
                Poll::Ready(Err(_)) => {
                    outparam_dropped = true;
                    Poll::Pending
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let answer = match outcome {
            Outcome::Answered(answer) => {
                // Still running: it streams the rest of its body from a task of its own.
                guest.detach();
                answer
            }
            Outcome::GuestEnded(done) => match (outparam_dropped, receiver.try_recv()) {
                (false, Ok(answer)) => answer,
                _ => {
                    let why = match done {
                        Ok(()) => anyhow!("it returned without setting a response"),
                        Err(e) => anyhow::Error::from(e),
                    };
                    return Err(why.context(format!("component `{id}` failed to handle {what}")));
                }
            },
        };
        answer.map_err(|code| anyhow!("component `{id}` answered with error {code:?}"))
    }
}

type GuestFuture = Pin<Box<dyn Future<Output = wasmtime::Result<()>> + Send>>;

enum Outcome {
    Answered(Result<Response<HyperOutgoingBody>, ErrorCode>),
    GuestEnded(wasmtime::Result<()>),
}

/// A guest invocation polled inline; if dropped unfinished (say the client went away), it
/// finishes in its own task, as it would have had it been spawned from the start.
struct GuestRun(Option<GuestFuture>);

impl GuestRun {
    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<wasmtime::Result<()>> {
        let Some(fut) = self.0.as_mut() else {
            return Poll::Pending;
        };
        let done = fut.as_mut().poll(cx);
        if done.is_ready() {
            self.0 = None;
        }
        done
    }

    fn detach(&mut self) {
        if let Some(fut) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        if let Err(e) = fut.await {
                            tracing::debug!("guest failed after sending its response: {e:#}");
                        }
                    });
                }
                Err(_) => tracing::warn!("runtime gone: dropping a guest still running"),
            }
        }
    }
}

impl Drop for GuestRun {
    fn drop(&mut self) {
        self.detach();
    }
}
