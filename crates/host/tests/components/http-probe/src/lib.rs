//! Answers `/<capability>/...` requests by calling that host interface and reporting the
//! result as JSON, so tests can check the host from the outside.

use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    // Dispatch on the part below the matched route, as Spin components do.
    let path = req
        .header("spin-path-info")
        .and_then(|h| h.as_str())
        .unwrap_or_default()
        .to_string();
    let query = req.query().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body = match segments.as_slice() {
        ["headers", ..] | ["match", ..] | [""] => headers(&req),
        ["kv", store, rest @ ..] => key_value(store, &rest.join("/"), req.method(), req.body())?,
        ["var", name] => match spin_sdk::variables::get(name) {
            Ok(v) => json!({ "value": v }),
            Err(e) => json!({ "error": format!("{e:?}") }),
        },
        ["env", name] => json!({ "value": std::env::var(name).ok() }),
        ["file", rest @ ..] => {
            json!({ "content": std::fs::read_to_string(format!("/{}", rest.join("/"))).ok() })
        }
        ["log"] => {
            println!("to stdout");
            eprintln!("to stderr");
            json!({ "logged": true })
        }
        ["wkv", op, key] => wasi_key_value("default", op, key),
        ["wkv", label, op, key] => wasi_key_value(label, op, key),
        ["outbound"] => outbound(&query).await,
        ["redis", op] => redis(op, &query, req.body()),
        ["echo"] => return Ok(Response::new(200, req.body().to_vec())),
        ["status", code] => return Ok(Response::new(code.parse::<u16>()?, "status")),
        ["trap"] => panic!("asked to trap"),
        // A guest that never ends, and one that allocates without end (guest bounds).
        ["spin"] => loop {
            std::hint::black_box(&path);
        },
        ["grow"] => {
            let mut held: Vec<Vec<u8>> = Vec::new();
            loop {
                held.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        _ => return Ok(Response::new(404, "probe: unknown path")),
    };
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build())
}

fn headers(req: &Request) -> Value {
    let spin: serde_json::Map<String, Value> = req
        .headers()
        .filter(|(name, _)| name.starts_with("spin-"))
        .map(|(name, value)| (name.to_string(), json!(value.as_str().unwrap_or_default())))
        .collect();
    json!({ "path": req.path(), "headers": spin })
}

fn key_value(label: &str, key: &str, method: &Method, body: &[u8]) -> anyhow::Result<Value> {
    let store = match Store::open(label) {
        Ok(s) => s,
        Err(e) => return Ok(json!({ "error": format!("{e:?}") })),
    };
    Ok(match (method, key) {
        (Method::Get, "") => json!({ "keys": store.get_keys()? }),
        (Method::Get, k) => json!({
            "value": store.get(k)?.map(|v| String::from_utf8_lossy(&v).to_string()),
            "exists": store.exists(k)?,
        }),
        (Method::Put, k) => {
            store.set(k, body)?;
            json!({ "set": k })
        }
        (Method::Delete, k) => {
            store.delete(k)?;
            json!({ "deleted": k })
        }
        _ => json!({ "error": "unsupported" }),
    })
}

async fn outbound(url: &str) -> Value {
    let url = url.strip_prefix("url=").unwrap_or(url);
    match spin_sdk::http::send::<_, Response>(Request::get(url)).await {
        Ok(resp) => json!({
            "status": resp.status(),
            "body": String::from_utf8_lossy(resp.body()),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn redis(op: &str, query: &str, body: &[u8]) -> Value {
    let address = query.strip_prefix("address=").unwrap_or(query);
    let conn = match Connection::open(address) {
        Ok(c) => c,
        Err(e) => return json!({ "error": format!("{e:?}") }),
    };
    let text = String::from_utf8_lossy(body).to_string();
    let args: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let result = match op {
        "publish" => conn
            .publish(&args[0], args[1].as_bytes())
            .map(|_| json!(null)),
        "set" => conn.set(&args[0], args[1].as_bytes()).map(|_| json!(null)),
        "get" => conn
            .get(&args[0])
            .map(|v| json!(v.map(|b| String::from_utf8_lossy(&b).to_string()))),
        "incr" => conn.incr(&args[0]).map(|v| json!(v)),
        "del" => conn.del(&args).map(|v| json!(v)),
        "sadd" => conn.sadd(&args[0], &args[1..]).map(|v| json!(v)),
        "srem" => conn.srem(&args[0], &args[1..]).map(|v| json!(v)),
        "smembers" => conn.smembers(&args[0]).map(|mut v| {
            v.sort();
            json!(v)
        }),
        "execute" => {
            let params: Vec<RedisParameter> = args[1..]
                .iter()
                .map(|a| match a.parse::<i64>() {
                    Ok(i) => RedisParameter::Int64(i),
                    Err(_) => RedisParameter::Binary(a.as_bytes().to_vec()),
                })
                .collect();
            conn.execute(&args[0], &params).map(|results| {
                json!(results
                    .into_iter()
                    .map(|r| match r {
                        RedisResult::Nil => json!({ "nil": null }),
                        RedisResult::Status(s) => json!({ "status": s }),
                        RedisResult::Int64(i) => json!({ "int64": i }),
                        RedisResult::Binary(b) => json!({ "binary": String::from_utf8_lossy(&b) }),
                    })
                    .collect::<Vec<_>>())
            })
        }
        _ => return json!({ "error": "unknown op" }),
    };
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": format!("{e:?}") }),
    }
}

/// `wasi:keyvalue`: `add` is a compare-and-swap retry loop, `incr` the atomic increment.
fn wasi_key_value(label: &str, op: &str, key: &str) -> Value {
    use spin_sdk::wit::wasi::keyvalue::{atomics, store};
    let bucket = match store::open(label) {
        Ok(b) => b,
        Err(e) => return json!({ "error": format!("{e:?}") }),
    };
    match op {
        "get" => {
            json!({ "value": bucket.get(key).ok().flatten().map(|v| String::from_utf8_lossy(&v).to_string()) })
        }
        "incr" => json!({ "value": atomics::increment(&bucket, key, 1).ok() }),
        "add" => {
            let mut cas = atomics::Cas::new(&bucket, key).expect("cas");
            for attempt in 1..=1000 {
                let current: i64 = cas
                    .current()
                    .expect("current")
                    .map(|v| String::from_utf8_lossy(&v).parse().unwrap_or(0))
                    .unwrap_or(0);
                match atomics::swap(cas, (current + 1).to_string().as_bytes()) {
                    Ok(()) => return json!({ "value": current + 1, "attempts": attempt }),
                    Err(atomics::CasError::CasFailed(again)) => cas = again,
                    Err(e) => return json!({ "error": format!("{e:?}") }),
                }
            }
            json!({ "error": "gave up after 1000 attempts" })
        }
        _ => json!({ "error": "unknown op" }),
    }
}
