//! Integration tests, compiled as one binary (`autotests = false`).
//!
//! The `live` tests start real JVMs (JDK 17 at
//! `/usr/lib/jvm/java-17-openjdk-amd64` or `$JAVA_HOME`) and fail — never
//! skip — when there is none.

mod captured;
mod hostile;
mod jvm;
mod live;
mod mutation;
mod oracle;
