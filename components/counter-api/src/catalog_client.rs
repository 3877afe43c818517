//! Asks product-api for items and prices over service chaining (never a copy of the catalog).

use anyhow::anyhow;
use domain::catalog::CatalogEntry;
use domain::problem::Problem;
use domain::{CatalogItem, ItemType};
use platform::router::Failure;
use spin_sdk::http::{Request, Response};

const PRODUCT_API: &str = "http://product-api.spin.internal";

/// The catalog records of `types`; a type product-api does not know is a 422 naming it.
pub fn items(types: &[ItemType]) -> Result<Vec<CatalogItem>, Failure> {
    let csv: Vec<String> = types.iter().map(|t| t.code().to_string()).collect();
    let url = format!("{PRODUCT_API}/v1/api/items-by-types/{}", csv.join(","));
    let resp: Response = spin_sdk::http::run(spin_sdk::http::send(Request::get(&url)))
        .map_err(|e| anyhow!("product-api unreachable: {e}"))?;
    match *resp.status() {
        200 => {
            let entries: Vec<CatalogEntry> =
                serde_json::from_slice(resp.body()).map_err(anyhow::Error::from)?;
            Ok(entries.into_iter().map(CatalogItem::from).collect())
        }
        404 => {
            let detail = serde_json::from_slice::<serde_json::Value>(resp.body())
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "an item is not in the catalog".into());
            Err(Problem::unprocessable(detail).into())
        }
        status => Err(anyhow!("product-api answered {status} for {url}").into()),
    }
}
