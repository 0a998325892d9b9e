//! Following a container's output through the Docker engine.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::runtime::{LogChunk, RuntimeError};

/// stdout and stderr of `id` from `since_unix_s` on (Docker's `since`, whole seconds),
/// following until the container stops.
pub(super) fn follow(
    docker: &Docker,
    id: &str,
    since_unix_s: i64,
) -> BoxStream<'static, Result<LogChunk, RuntimeError>> {
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        since: i32::try_from(since_unix_s.max(0)).unwrap_or(i32::MAX),
        ..Default::default()
    };
    let what = format!("logs of {id}");
    docker
        .logs(id, Some(opts))
        .map(move |item| match item {
            Ok(LogOutput::StdErr { message }) => Ok(LogChunk {
                stderr: true,
                bytes: message.to_vec(),
            }),
            Ok(
                LogOutput::StdOut { message }
                | LogOutput::Console { message }
                | LogOutput::StdIn { message },
            ) => Ok(LogChunk {
                stderr: false,
                bytes: message.to_vec(),
            }),
            Err(e) => Err(super::classify(e, &what)),
        })
        .boxed()
}
