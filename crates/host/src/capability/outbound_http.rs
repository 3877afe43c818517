//! Outbound `wasi:http`: the allow-list, and service chaining (`http://self/...`,
//! `http://<component>.spin.internal/...`) handed to whatever serves the app's routes.
//!
//! As in Spin, only an instance started by the HTTP trigger can chain: the trigger gives
//! its instances a `ServiceChaining`; other instances' requests to those hosts fail.

use crate::config::allowed_hosts::AllowedHosts;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoFuture)>> + Send,
>;

/// Where a chained request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chained {
    /// `http://self/...`: through the app's router.
    SelfApp,
    /// `http://<id>.spin.internal/...`: straight to that component.
    Component(String),
}

/// Serves requests one component sends to another, in process (the HTTP trigger).
pub trait ServiceChaining: Send + Sync {
    /// Whether `id` names a component that can be chained to.
    fn has_component(&self, id: &str) -> bool;

    fn send(self: Arc<Self>, to: Chained, request: http::Request<WasiBody>) -> ChainedResponse;
}

pub type ChainedResponse =
    Pin<Box<dyn Future<Output = anyhow::Result<http::Response<HyperOutgoingBody>>> + Send>>;

/// The `wasi:http` hooks of one component instance.
pub struct OutboundHttp {
    component: Arc<str>,
    allowed: Arc<AllowedHosts>,
    chaining: Option<Arc<dyn ServiceChaining>>,
}

/// Where an outbound request goes.
#[derive(Debug)]
enum Destination {
    Chained(Chained),
    Network,
}

impl OutboundHttp {
    pub fn new(
        component: Arc<str>,
        allowed: Arc<AllowedHosts>,
        chaining: Option<Arc<dyn ServiceChaining>>,
    ) -> Self {
        Self {
            component,
            allowed,
            chaining,
        }
    }

    /// Checks the allow-list and picks the destination of a request to `scheme://host:port`.
    fn destination(
        &self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<Destination, Error> {
        if !self.allowed.allows(scheme, host, port) {
            tracing::error!(
                "component `{}` may not send a request to {scheme}://{host}{}: add \"{scheme}://{host}\" to its allowed_outbound_hosts",
                self.component,
                port.map(|p| format!(":{p}")).unwrap_or_default()
            );
            return Err(Error::HttpRequestDenied);
        }
        let chained = if host == "self" {
            Chained::SelfApp
        } else if let Some(id) = host.strip_suffix(".spin.internal") {
            Chained::Component(id.to_string())
        } else {
            return Ok(Destination::Network);
        };
        let Some(chaining) = &self.chaining else {
            tracing::error!(
                "component `{}` sent a request to {host}, but only components started by the HTTP trigger can chain to others",
                self.component
            );
            return Err(Error::DestinationNotFound);
        };
        match &chained {
            Chained::Component(id) if !chaining.has_component(id) => {
                Err(Error::DestinationNotFound)
            }
            _ => Ok(Destination::Chained(chained)),
        }
    }
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let destination = self.destination(&scheme, &host, uri.port_u16());
        let chaining = self.chaining.clone();
        Box::new(async move {
            let to = match destination? {
                Destination::Network => {
                    let (res, io) =
                        wasmtime_wasi_http::default_send_request(request, options).await?;
                    let res = res.map(http_body_util::BodyExt::boxed_unsync);
                    return Ok((res, Box::new(io) as IoFuture));
                }
                Destination::Chained(to) => to,
            };
            let chaining = chaining.ok_or(Error::DestinationNotFound)?;
            let response = chaining
                .send(to, request)
                .await
                .map_err(|e| Error::InternalError(Some(format!("{e:#}"))))?;
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Components;

    impl ServiceChaining for Components {
        fn has_component(&self, id: &str) -> bool {
            id == "product-api"
        }

        fn send(self: Arc<Self>, _: Chained, _: http::Request<WasiBody>) -> ChainedResponse {
            unreachable!("destination() only decides")
        }
    }

    fn outbound(allowed: &[&str], chaining: bool) -> OutboundHttp {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        OutboundHttp::new(
            "caller".into(),
            Arc::new(AllowedHosts::parse(&allowed).unwrap()),
            chaining.then(|| Arc::new(Components) as Arc<dyn ServiceChaining>),
        )
    }

    #[test]
    fn the_allow_list_comes_first() {
        let o = outbound(&["https://api.example.com", "http://self"], true);
        assert!(matches!(
            o.destination("https", "api.example.com", None),
            Ok(Destination::Network)
        ));
        assert!(matches!(
            o.destination("http", "api.example.com", None),
            Err(Error::HttpRequestDenied)
        ));
        assert!(
            matches!(
                o.destination("http", "product-api.spin.internal", None),
                Err(Error::HttpRequestDenied)
            ),
            "chaining needs its own entry"
        );
        assert!(matches!(
            o.destination("http", "self", None),
            Ok(Destination::Chained(Chained::SelfApp))
        ));
    }

    #[test]
    fn chaining_reaches_known_components_from_http_instances_only() {
        let o = outbound(&["http://*.spin.internal"], true);
        assert!(matches!(
            o.destination("http", "product-api.spin.internal", None),
            Ok(Destination::Chained(Chained::Component(id))) if id == "product-api"
        ));
        assert!(matches!(
            o.destination("http", "nobody.spin.internal", None),
            Err(Error::DestinationNotFound)
        ));
        let from_redis_trigger = outbound(&["http://*.spin.internal"], false);
        assert!(matches!(
            from_redis_trigger.destination("http", "product-api.spin.internal", None),
            Err(Error::DestinationNotFound)
        ));
    }
}
