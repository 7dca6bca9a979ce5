//! One file per subcommand. Each exposes its clap `*Args` and a `run(args, &Context)`.

pub mod completion;
pub mod connect;
pub mod create;
pub mod delete;
pub mod disconnect;
pub mod forwarder;
pub mod lifecycle;
pub mod list;
pub mod pause;
pub mod port_forward;
pub mod render;
pub mod resume;
pub mod version;
