//! The API's vocabulary, below any state: the served resources and their schema, Status
//! errors, JSON access, selectors, name rules, request options and query parameters, time and
//! identifiers.

pub mod jsonpath;
pub mod names;
pub mod options;
pub mod query;
pub mod resources;
pub mod schema;
pub mod selectors;
pub mod status;
pub mod util;
