//! One file per subcommand. Each exposes its clap `*Args` and a `run(args, &Context)`.

pub mod completion;
pub mod create;
pub mod render;
pub mod version;
