//! The Lambda edge: entry points for HTTP functions, queue workers and
//! scheduled tasks, the HTTP contract (strict body parsing, the error
//! envelope, security headers) and the one mapping of domain errors to it,
//! the per-request shell (log line, CORS, the invocation's deadline), the SQS
//! batch loop with backoff, and request logging. Functions call it; the
//! domain (`shared`) never does.

pub mod cors;
pub mod deadline;
pub mod errors;
pub mod http;
pub mod lambda;
pub mod logging;
pub mod multipart;
pub mod queue_retry;
pub mod router;
