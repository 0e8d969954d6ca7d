//! Feature flags: the model, evaluation with OpenFeature-style reasons,
//! the in-memory snapshot cache, and the kill-switch guard of guarded routes.

pub mod cache;
pub mod eval;
pub mod guard;
pub mod model;

pub use cache::{CacheTiming, FlagCache, SnapshotView};
pub use eval::{evaluate, EvalContext, Evaluation, Reason};
pub use guard::{FeatureGuard, FeatureUnavailable};
pub use model::{FailMode, Flag, FlagKind, Rule, Snapshot, Visibility};
