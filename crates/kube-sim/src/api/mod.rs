//! What the API server publishes about itself and how it presents objects: discovery,
//! OpenAPI v3, server-side printing (Tables), and protobuf request bodies.

pub mod discovery;
pub mod openapi;
pub mod protobuf;
pub mod table;
