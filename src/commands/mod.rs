//! One file per subcommand. Each exposes its clap `*Args` and a `run(args, &Context)`; what
//! several share is in [`crate::context`], never in another command.

pub mod completion;
pub mod connect;
pub mod create;
pub mod delete;
pub mod disconnect;
pub mod forwarder;
pub mod list;
pub mod pause;
pub mod port_forward;
pub mod render;
pub mod resume;
pub mod version;
