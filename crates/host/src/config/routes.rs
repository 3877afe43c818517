//! Spin's HTTP routes: exact routes, `:name` segments, a trailing `/...` wildcard,
//! and the most specific route wins (literal over `:name` over wildcard, longer over shorter).

use anyhow::{bail, Result};
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// One route of the manifest, parsed.
#[derive(Debug, Clone)]
pub struct Route {
    /// As written in the manifest (`/orders/:id/...`).
    pub raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

/// What a request path matched.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch {
    pub component: usize,
    /// The route as written in the manifest.
    pub raw_route: String,
    /// The route without its `/...` wildcard.
    pub component_route: String,
    /// The rest of the path after the route's fixed part (empty for exact routes).
    pub path_info: String,
    /// `:name` segment values, in route order.
    pub params: Vec<(String, String)>,
}

/// Checks a route string, for manifest validation.
pub fn validate_route(raw: &str) -> Result<()> {
    Route::parse(raw).map(|_| ())
}

impl Route {
    fn parse(raw: &str) -> Result<Self> {
        let Some(path) = raw.strip_prefix('/') else {
            bail!("route `{raw}` must start with `/`");
        };
        let mut segments = Vec::new();
        let mut wildcard = false;
        let parts: Vec<&str> = if path.is_empty() {
            vec![]
        } else {
            path.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            if *part == "..." {
                if i + 1 != parts.len() {
                    bail!("route `{raw}`: `...` may only end a route");
                }
                wildcard = true;
            } else if let Some(name) = part.strip_prefix(':') {
                if name.is_empty() {
                    bail!("route `{raw}`: a `:` segment needs a name, like `:id`");
                }
                if segments.contains(&Segment::Param(name.to_string())) {
                    bail!("route `{raw}`: `:{name}` appears twice");
                }
                segments.push(Segment::Param(name.to_string()));
            } else if part.is_empty() && i + 1 != parts.len() {
                bail!("route `{raw}` has an empty segment (`//`)");
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        Ok(Self {
            raw: raw.to_string(),
            segments,
            wildcard,
        })
    }

    fn rank(segment: &Segment) -> u8 {
        match segment {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
        }
    }

    /// More specific routes sort first.
    fn specificity(&self, other: &Self) -> Ordering {
        for (a, b) in self.segments.iter().zip(&other.segments) {
            match Self::rank(b).cmp(&Self::rank(a)) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        other
            .segments
            .len()
            .cmp(&self.segments.len())
            .then(self.wildcard.cmp(&other.wildcard))
    }

    fn matches(&self, path: &str) -> Option<(String, Vec<(String, String)>)> {
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = if rest.is_empty() {
            vec![]
        } else {
            rest.split('/').collect()
        };
        if parts.len() < self.segments.len()
            || (!self.wildcard && parts.len() != self.segments.len())
        {
            return None;
        }
        let mut params = Vec::new();
        let mut fixed_len = 0;
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), part.to_string())),
            }
            fixed_len += 1 + part.len();
        }
        let path_info = if self.wildcard {
            path[fixed_len..].to_string()
        } else {
            String::new()
        };
        Some((path_info, params))
    }
}

/// All public routes of the app, most specific first.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<(Route, usize)>,
}

impl Router {
    /// Builds the router from (route, component index) pairs; a duplicate route keeps the first.
    pub fn new(routes: impl IntoIterator<Item = (String, usize)>) -> Result<Self> {
        let mut parsed: Vec<(Route, usize)> = Vec::new();
        for (raw, component) in routes {
            let route = Route::parse(&raw)?;
            if parsed
                .iter()
                .any(|(r, _)| r.segments == route.segments && r.wildcard == route.wildcard)
            {
                tracing::warn!("route `{raw}` is declared twice; the first trigger keeps it");
                continue;
            }
            parsed.push((route, component));
        }
        parsed.sort_by(|(a, _), (b, _)| a.specificity(b));
        Ok(Self { routes: parsed })
    }

    /// The best route for a request path (without its query).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        self.routes.iter().find_map(|(route, component)| {
            let (path_info, params) = route.matches(path)?;
            Some(RouteMatch {
                component: *component,
                raw_route: route.raw.clone(),
                component_route: route
                    .raw
                    .strip_suffix("/...")
                    .unwrap_or(&route.raw)
                    .to_string(),
                path_info,
                params,
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// (route, component index) pairs, most specific first.
    pub fn routes(&self) -> impl Iterator<Item = (&str, usize)> {
        self.routes.iter().map(|(r, c)| (r.raw.as_str(), *c))
    }

    /// The first route that sends to `component`, if it has a public one.
    pub fn route_of(&self, component: usize) -> Option<&Route> {
        self.routes
            .iter()
            .find(|(_, c)| *c == component)
            .map(|(r, _)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(
            [
                "/...",
                "/static/...",
                "/orders",
                "/orders/:id",
                "/orders/:id/pickup",
                "/orders/special",
                "/users/:user/files/...",
                "/",
            ]
            .into_iter()
            .enumerate()
            .map(|(i, r)| (r.to_string(), i)),
        )
        .unwrap()
    }

    fn hit(path: &str) -> (usize, String, Vec<(String, String)>) {
        let m = router().route(path).unwrap();
        (m.component, m.path_info, m.params)
    }

    #[test]
    fn most_specific_route_wins() {
        assert_eq!(hit("/orders").0, 2);
        assert_eq!(hit("/orders/special").0, 5);
        assert_eq!(
            hit("/orders/42"),
            (3, String::new(), vec![("id".into(), "42".into())])
        );
        assert_eq!(hit("/orders/42/pickup").0, 4);
        assert_eq!(hit("/orders/42/other").0, 0, "falls back to the catch-all");
        assert_eq!(hit("/").0, 7);
        assert_eq!(hit("/anything/else"), (0, "/anything/else".into(), vec![]));
    }

    #[test]
    fn wildcard_path_info() {
        assert_eq!(hit("/static"), (1, String::new(), vec![]));
        assert_eq!(hit("/static/"), (1, "/".into(), vec![]));
        assert_eq!(
            hit("/static/css/site.css"),
            (1, "/css/site.css".into(), vec![])
        );
        assert_eq!(
            hit("/users/ann/files/a/b"),
            (6, "/a/b".into(), vec![("user".into(), "ann".into())])
        );
        let m = router().route("/static/x").unwrap();
        assert_eq!(m.raw_route, "/static/...");
        assert_eq!(m.component_route, "/static");
    }

    #[test]
    fn no_route_is_none() {
        let r = Router::new([("/only".to_string(), 0)]).unwrap();
        assert!(r.route("/other").is_none());
        assert!(r.route("/only/more").is_none());
        assert!(r.route("/only").is_some());
    }

    #[test]
    fn invalid_routes_are_rejected() {
        for bad in ["nope", "/a/.../b", "/:", "/a//b", "/:x/:x"] {
            assert!(validate_route(bad).is_err(), "{bad}");
        }
    }
}
