//! The shop's HTTP API as the demo uses it: the same routes and tokens a user's curl uses.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone)]
pub struct Shop {
    base: String,
    staff: String,
    manager: String,
    agent: ureq::Agent,
}

/// An answer: 4xx and 5xx are answers too (the demo counts them), only a broken connection
/// is an error.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Who a request is sent as.
#[derive(Clone, Copy)]
pub enum As {
    Customer,
    Staff,
    Manager,
}

impl Shop {
    pub fn new(base: &str, staff: String, manager: String) -> Shop {
        Shop {
            base: base.trim_end_matches('/').to_owned(),
            staff,
            manager,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .max_idle_connections_per_host(64)
                .build(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn send(&self, method: &str, path: &str, who: As, body: Option<&Value>) -> Result<Answer> {
        let request = self.request(method, path, who);
        let result = match body {
            Some(body) => json_body(request).send_string(&body.to_string()),
            None => request.call(),
        };
        answer(method, path, result)
    }

    /// POST /v1/api/orders as a customer, with a fresh Idempotency-Key (a new order each time).
    pub fn place(&self, order: &Value) -> Result<Answer> {
        let path = "/v1/api/orders";
        let result = json_body(self.request("POST", path, As::Customer))
            .set("Idempotency-Key", &new_key())
            .send_string(&order.to_string());
        answer("POST", path, result)
    }

    fn request(&self, method: &str, path: &str, who: As) -> ureq::Request {
        let request = self.agent.request(method, &format!("{}{path}", self.base));
        match who {
            As::Customer => request,
            As::Staff => request.set("Authorization", &format!("Bearer {}", self.staff)),
            As::Manager => request.set("Authorization", &format!("Bearer {}", self.manager)),
        }
    }

    /// A GET that must answer 200 (the demo cannot go on without it).
    pub fn read(&self, path: &str, who: As) -> Result<Value> {
        let answer = self.send("GET", path, who, None)?;
        if answer.status != 200 {
            bail!(
                "GET {}{path} answered {}: {}",
                self.base,
                answer.status,
                answer.body
            );
        }
        Ok(answer.body)
    }

    /// Checks the shop answers and the tokens are what it knows, before any load.
    pub fn check(&self) -> Result<()> {
        self.read("/v1/api/counter/health", As::Customer)
            .with_context(|| format!("is the shop serving at {}? (./scripts/up.sh)", self.base))?;
        for (who, role, variable) in [
            (As::Staff, "staff", "STAFF_TOKEN"),
            (As::Manager, "manager", "MANAGER_TOKEN"),
        ] {
            let me = self.read("/v1/api/me", who).with_context(|| {
                format!("{variable} is not a token this shop knows (was it started with other credentials?)")
            })?;
            let roles = me["roles"].as_array().cloned().unwrap_or_default();
            if !roles.iter().any(|r| r == role) {
                bail!("{variable} belongs to {me}, which does not hold the {role} role");
            }
        }
        Ok(())
    }
}

fn json_body(request: ureq::Request) -> ureq::Request {
    request.set("Content-Type", "application/json")
}

fn answer(method: &str, path: &str, result: Result<ureq::Response, ureq::Error>) -> Result<Answer> {
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => bail!("{method} {path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    Ok(Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    })
}

/// A fresh Idempotency-Key: every order the demo sends is a new one.
fn new_key() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "demo-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
