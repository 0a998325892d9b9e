//! [`ParseError`]: what was wrong, and at which byte offset.

use super::{HEADER_LEN, MAGIC, MAX_ENTRIES};

/// What was wrong with a buffer, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte offset {offset}")]
pub struct ParseError {
    /// Byte offset of the offending field or entry.
    pub offset: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The buffer is shorter than the 32-byte header.
    #[error("buffer of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    TooShort {
        /// Buffer length.
        len: usize,
    },
    /// Wrong magic number.
    #[error("bad magic number {found:#010x} (expected {MAGIC:#010x})")]
    BadMagic {
        /// What was found.
        found: u32,
    },
    /// Byte-order byte neither 0 nor 1.
    #[error("bad byte-order byte {found}")]
    BadByteOrder {
        /// What was found.
        found: u8,
    },
    /// A format version this crate does not read.
    #[error("unsupported format version {major}.{minor}")]
    UnsupportedVersion {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// A header field outside its possible range.
    #[error("header field {field} = {value} is out of range (buffer is {len} bytes)")]
    BadHeaderField {
        /// Field name.
        field: &'static str,
        /// Its value.
        value: i64,
        /// Buffer length.
        len: usize,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("{count} entries exceed the limit of {MAX_ENTRIES}")]
    TooManyEntries {
        /// The header's entry count.
        count: u32,
    },
    /// An entry does not start on a 4-byte boundary.
    #[error("entry {index} is misaligned")]
    Misaligned {
        /// Entry index.
        index: usize,
    },
    /// An entry's fixed header runs past the used part of the buffer.
    #[error("entry {index} header runs past the end ({end})")]
    EntryPastEnd {
        /// Entry index.
        index: usize,
        /// End of the used buffer.
        end: usize,
    },
    /// `entry_length` is too small or runs past the end.
    #[error("entry {index} has bad length {length}")]
    BadEntryLength {
        /// Entry index.
        index: usize,
        /// The length field.
        length: i32,
    },
    /// `name_offset` outside the entry.
    #[error("entry {index} has name offset {name_offset} outside the entry")]
    BadNameOffset {
        /// Entry index.
        index: usize,
        /// The field.
        name_offset: i32,
    },
    /// The name has no NUL before the entry ends.
    #[error("entry {index} name is not NUL-terminated inside the entry")]
    NameUnterminated {
        /// Entry index.
        index: usize,
    },
    /// The name is empty or not UTF-8.
    #[error("entry {index} name is empty or not UTF-8")]
    BadName {
        /// Entry index.
        index: usize,
    },
    /// Negative `vector_length`.
    #[error("entry {index} has negative vector length {vector_length}")]
    BadVectorLength {
        /// Entry index.
        index: usize,
        /// The field.
        vector_length: i32,
    },
    /// The data does not fit inside the entry.
    #[error("entry {index} data (offset {data_offset}, {size} bytes) does not fit in the entry")]
    BadDataOffset {
        /// Entry index.
        index: usize,
        /// The field.
        data_offset: i32,
        /// Bytes the data needs.
        size: u64,
    },
}
