//! Outbound `wasi:http`: the allow-list, and `self` / `*.spin.internal` served in-process.

use crate::app::App;
use crate::trigger::http as http_trigger;
use std::future::Future;
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoFuture)>> + Send,
>;

/// The `wasi:http` hooks of one component instance.
pub struct OutboundHttp {
    app: Arc<App>,
    component_index: usize,
}

impl OutboundHttp {
    pub fn new(app: Arc<App>, component_index: usize) -> Self {
        Self {
            app,
            component_index,
        }
    }
}

/// Where an outbound request goes.
enum Destination {
    /// `http://self/...`: through this app's router.
    SelfApp,
    /// `http://<id>.spin.internal/...`: straight to that component.
    Component(usize),
    Network,
}

impl OutboundHttp {
    fn destination(&self, host: &str) -> Result<Destination, Error> {
        if host == "self" {
            return Ok(Destination::SelfApp);
        }
        if let Some(id) = host.strip_suffix(".spin.internal") {
            return match self.app.component_index(id) {
                Some(i) => Ok(Destination::Component(i)),
                None => Err(Error::DestinationNotFound),
            };
        }
        Ok(Destination::Network)
    }
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let component = &self.app.components[self.component_index];
        if !component.outbound.allows(&scheme, &host, uri.port_u16()) {
            tracing::error!(
                "component `{}` may not send a request to {scheme}://{host}{}: add \"{scheme}://{host}\" to its allowed_outbound_hosts",
                component.id,
                uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default()
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let destination = self.destination(&host);
        let app = self.app.clone();
        Box::new(async move {
            let response = match destination? {
                Destination::Network => {
                    let (res, io) =
                        wasmtime_wasi_http::default_send_request(request, options).await?;
                    let res = res.map(http_body_util::BodyExt::boxed_unsync);
                    return Ok((res, Box::new(io) as IoFuture));
                }
                Destination::SelfApp => http_trigger::serve_internal(&app, None, request).await,
                Destination::Component(i) => {
                    http_trigger::serve_internal(&app, Some(i), request).await
                }
            };
            let response = response.map_err(|e| Error::InternalError(Some(format!("{e:#}"))))?;
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}
