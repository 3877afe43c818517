//! What every coffeeshop component needs from Spin, written once: HTTP answers and request
//! checks (`web`), the shop's state in Redis (`redis`; documents with compare-and-swap in
//! `store`, and on top of it `orders`, `stock`, `ledger`, `stations`, `shipping`, `notify`), events
//! (`bus`, kept durable by `queue`), the order saga (`saga`), application variables
//! (`settings`) and log lines (`log`). Components stay thin adapters around the `domain` crate.

pub mod access;
pub mod bus;
pub mod faults;
pub mod ledger;
pub mod log;
pub mod notify;
pub mod orders;
pub mod queue;
pub mod redis;
pub mod router;
pub mod saga;
pub mod settings;
pub mod shipping;
pub mod stations;
pub mod stock;
pub mod store;
#[cfg(test)]
mod test_redis;
pub mod web;
