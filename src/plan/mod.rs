//! The objects of a release and what to do with each (pure), shared by `install` (apply and
//! prune) and `lifecycle` (uninstall): manifests parsed back from release records, Helm's
//! ownership annotations, the apply/prune plan, and the report line of one object.

pub(crate) mod manifest;
mod outcome;
pub(crate) mod ownership;
mod steps;

pub(crate) use outcome::ObjectOutcome;
pub(crate) use steps::{ApplyStep, Existing, Plan, PlanInput, PruneStep, plan};
