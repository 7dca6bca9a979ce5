//! One file per subcommand. Each exposes its clap `*Args` and a `run(args, &Context)`; what
//! several share is in `crate::context`, never in another command.

pub mod completion;
pub(crate) mod connect;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod disconnect;
pub(crate) mod forwarder;
pub(crate) mod list;
pub(crate) mod pause;
pub(crate) mod port_forward;
pub(crate) mod render;
pub(crate) mod resume;
pub(crate) mod version;
