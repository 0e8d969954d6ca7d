//! The Lambda edge: entry points for HTTP functions, queue workers and
//! scheduled tasks, the per-request shell (log line, error contract, CORS,
//! the invocation's deadline), the SQS batch loop with backoff, and request
//! logging. Functions call it; the domain (`shared`) never does.

pub mod cors;
pub mod deadline;
pub mod lambda;
pub mod logging;
pub mod queue_retry;
