//! What every coffeeshop component needs from Spin, written once: HTTP answers and request
//! checks (`web`), key-value storage with compare-and-swap (`store`), events on Redis
//! (`bus`, kept durable by `queue`) and application variables (`settings`). Components stay
//! thin adapters around the `domain` crate.

pub mod bus;
pub mod faults;
pub mod notify;
pub mod orders;
pub mod queue;
pub mod redis;
pub mod saga;
pub mod services;
pub mod settings;
pub mod stations;
pub mod stock;
pub mod store;
pub mod web;
