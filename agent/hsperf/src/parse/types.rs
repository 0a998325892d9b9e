//! The format's types: header, entries, values.

/// Byte order of every field after the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Header byte 4 is 0.
    Big,
    /// Header byte 4 is 1.
    Little,
}

/// The 32-byte file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the rest of the file.
    pub byte_order: ByteOrder,
    /// Format major version (2 for every JVM since 1.4.2).
    pub major: u8,
    /// Format minor version.
    pub minor: u8,
    /// The JVM has finished initialising the buffer.
    pub accessible: bool,
    /// Bytes of the buffer in use; the entry walk never goes past it.
    pub used: u32,
    /// Bytes of counters that did not fit and live only in the JVM's heap.
    pub overflow: i32,
    /// Time stamp (in `sun.os.hrt` ticks) of the last entry added.
    pub mod_time_stamp: i64,
    /// Offset of the first entry.
    pub entry_offset: u32,
    /// Number of entries the JVM has completed.
    pub num_entries: u32,
}

/// Units of a counter (OpenJDK `PerfData::Units`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// A plain number.
    None,
    /// Bytes.
    Bytes,
    /// High-resolution ticks; divide by `sun.os.hrt.frequency`.
    Ticks,
    /// A count of events.
    Events,
    /// A string.
    String,
    /// A frequency.
    Hertz,
    /// A value this crate does not know.
    Other(u8),
}

/// How a counter may change (OpenJDK `PerfData::Variability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variability {
    /// Set once.
    Constant,
    /// Only grows.
    Monotonic,
    /// Changes either way.
    Variable,
    /// A value this crate does not know.
    Other(u8),
}

/// The value of one counter, borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A scalar `J` (64-bit) counter.
    Long(i64),
    /// A `B` vector with string units: the bytes before the first NUL.
    String(&'a [u8]),
    /// Any other `B` vector or scalar.
    Bytes(&'a [u8]),
    /// A data type this crate does not decode (`type` is the type byte).
    Unsupported {
        /// The entry's data-type byte.
        data_type: u8,
    },
}

/// One parsed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The counter name, e.g. `sun.gc.generation.1.space.0.used`.
    pub name: &'a str,
    /// The decoded value.
    pub value: Value<'a>,
    /// Units.
    pub units: Units,
    /// Variability.
    pub variability: Variability,
    /// Byte offset of the entry in the buffer.
    pub offset: usize,
}
