//! The HTTP side: routing and handlers, content negotiation, bodies, replies, watch streams,
//! port-forward and injected faults.

pub mod body;
pub mod faults;
pub mod listener;
pub mod negotiate;
pub mod portforward;
pub mod reply;
pub mod server;
pub mod watch;
