//! The hsperfdata binary format, parsed as hostile input.
//!
//! Every offset and length read from the buffer is checked with checked
//! arithmetic against the part of the buffer the header says is in use; the
//! entry walk is bounded by [`MAX_ENTRIES`] and by the buffer end, and every
//! failure is a [`ParseError`] naming the byte offset. Nothing here panics or
//! allocates more than one `Vec` of borrowed entries.

use std::borrow::Cow;

mod entry;
mod error;
mod types;

pub use error::{ParseError, ParseErrorKind};
pub use types::{ByteOrder, Entry, Header, Units, Value, Variability};

use entry::parse_entry;

/// The magic number at offset 0, always stored big-endian.
pub const MAGIC: u32 = 0xcafe_c0c0;
/// Length of the file header ("prologue").
pub const HEADER_LEN: usize = 32;
/// Length of the fixed part of each entry.
pub const ENTRY_HEADER_LEN: usize = 20;
/// Upper bound on the number of entries walked (a JVM has a few hundred).
pub const MAX_ENTRIES: usize = 65_536;

/// A parsed buffer: the header and every entry, borrowing names and values.
#[derive(Debug, Clone)]
pub struct PerfData<'a> {
    header: Header,
    entries: Vec<Entry<'a>>,
}

impl<'a> PerfData<'a> {
    /// Parses a whole buffer. Never panics; any inconsistency is an error.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        let header = parse_header(buf)?;
        let end = header.used as usize;
        let count = header.num_entries as usize;
        let mut entries = Vec::with_capacity(count.min(end / ENTRY_HEADER_LEN));
        let mut pos = header.entry_offset as usize;
        for index in 0..count {
            if pos == end {
                break;
            }
            match parse_entry(buf, end, pos, index, header.byte_order)? {
                Some((entry, next)) => {
                    entries.push(entry);
                    pos = next;
                }
                None => break,
            }
        }
        Ok(PerfData { header, entries })
    }

    /// The file header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[Entry<'a>] {
        &self.entries
    }

    /// The first entry called `name` (linear scan).
    pub fn get(&self, name: &str) -> Option<&Entry<'a>> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The value of a `Long` counter.
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.get(name)?.value {
            Value::Long(v) => Some(v),
            _ => None,
        }
    }

    /// The value of a string counter (lossy UTF-8, borrowed when valid).
    pub fn string(&self, name: &str) -> Option<Cow<'a, str>> {
        match self.get(name)?.value {
            Value::String(b) => Some(String::from_utf8_lossy(b)),
            _ => None,
        }
    }

    /// The raw bytes of a `String` or `Bytes` counter.
    pub fn bytes(&self, name: &str) -> Option<&'a [u8]> {
        match self.get(name)?.value {
            Value::String(b) | Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

fn err(offset: usize, kind: ParseErrorKind) -> ParseError {
    ParseError { offset, kind }
}

/// Reads `N` bytes at `at`, or `None` past the end of `buf`.
fn bytes_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn read_i32(buf: &[u8], at: usize, order: ByteOrder) -> Option<i32> {
    let b = bytes_at::<4>(buf, at)?;
    Some(match order {
        ByteOrder::Big => i32::from_be_bytes(b),
        ByteOrder::Little => i32::from_le_bytes(b),
    })
}

fn read_i64(buf: &[u8], at: usize, order: ByteOrder) -> Option<i64> {
    let b = bytes_at::<8>(buf, at)?;
    Some(match order {
        ByteOrder::Big => i64::from_be_bytes(b),
        ByteOrder::Little => i64::from_le_bytes(b),
    })
}

/// Parses and validates the header against the buffer length.
pub fn parse_header(buf: &[u8]) -> Result<Header, ParseError> {
    let len = buf.len();
    let short = || err(len, ParseErrorKind::TooShort { len });
    let magic = u32::from_be_bytes(bytes_at::<4>(buf, 0).ok_or_else(short)?);
    if buf.len() < HEADER_LEN {
        return Err(short());
    }
    if magic != MAGIC {
        return Err(err(0, ParseErrorKind::BadMagic { found: magic }));
    }
    let byte_order = match buf[4] {
        0 => ByteOrder::Big,
        1 => ByteOrder::Little,
        found => return Err(err(4, ParseErrorKind::BadByteOrder { found })),
    };
    let (major, minor) = (buf[5], buf[6]);
    if major != 2 {
        return Err(err(5, ParseErrorKind::UnsupportedVersion { major, minor }));
    }
    let field = |at: usize| read_i32(buf, at, byte_order).ok_or_else(short);
    let used = field(8)?;
    let entry_offset = field(24)?;
    let num_entries = field(28)?;
    let bad = |field: &'static str, at: usize, value: i32| {
        let value = i64::from(value);
        err(at, ParseErrorKind::BadHeaderField { field, value, len })
    };
    let used = usize::try_from(used)
        .ok()
        .filter(|u| (HEADER_LEN..=len).contains(u))
        .ok_or_else(|| bad("used", 8, used))?;
    let entry_off = usize::try_from(entry_offset)
        .ok()
        .filter(|o| (HEADER_LEN..=used).contains(o))
        .ok_or_else(|| bad("entry_offset", 24, entry_offset))?;
    let count = u32::try_from(num_entries).map_err(|_| bad("num_entries", 28, num_entries))?;
    if count as usize > MAX_ENTRIES {
        return Err(err(28, ParseErrorKind::TooManyEntries { count }));
    }
    Ok(Header {
        byte_order,
        major,
        minor,
        accessible: buf[7] != 0,
        used: used as u32,
        overflow: field(12)?,
        mod_time_stamp: read_i64(buf, 16, byte_order).ok_or_else(short)?,
        entry_offset: entry_off as u32,
        num_entries: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbuf::Builder;

    fn sample(order: ByteOrder) -> Vec<u8> {
        Builder::new(order)
            .long("sun.gc.generation.1.space.0.used", 17_839_248)
            .string("sun.gc.lastCause", "System.gc()")
            .entry("sun.some.bytes", b'B', 1, 3, &[1, 2, 3])
            .long("sun.os.hrt.ticks", -1)
            .build()
    }

    fn set_i32(buf: &mut [u8], at: usize, v: i32) {
        buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn kind(buf: &[u8]) -> ParseErrorKind {
        PerfData::parse(buf).expect_err("should fail").kind
    }

    /// Offset of the first entry's fields in [`sample`].
    const E: usize = HEADER_LEN;

    #[test]
    fn both_byte_orders_parse_to_the_same_counters() {
        let (le, be) = (sample(ByteOrder::Little), sample(ByteOrder::Big));
        let (le, be) = (PerfData::parse(&le).unwrap(), PerfData::parse(&be).unwrap());
        assert_eq!(le.header().byte_order, ByteOrder::Little);
        assert_eq!(be.header().byte_order, ByteOrder::Big);
        assert_eq!(le.entries().len(), 4);
        for (a, b) in le.entries().iter().zip(be.entries()) {
            assert_eq!((a.name, a.value, a.units), (b.name, b.value, b.units));
        }
        assert_eq!(
            le.long("sun.gc.generation.1.space.0.used"),
            Some(17_839_248)
        );
        assert_eq!(be.long("sun.os.hrt.ticks"), Some(-1));
        assert_eq!(
            le.string("sun.gc.lastCause").as_deref(),
            Some("System.gc()")
        );
        assert_eq!(le.bytes("sun.some.bytes"), Some(&[1u8, 2, 3][..]));
        assert_eq!(
            le.long("sun.gc.lastCause"),
            None,
            "typed accessors check the type"
        );
        assert_eq!(le.get("missing"), None);
    }

    #[test]
    fn header_errors_name_the_field_and_offset() {
        assert_eq!(kind(&[0xca, 0xfe]), ParseErrorKind::TooShort { len: 2 });
        let good = sample(ByteOrder::Little);
        assert_eq!(kind(&good[..31]), ParseErrorKind::TooShort { len: 31 });
        let mut b = good.clone();
        b[0] = 0;
        assert_eq!(kind(&b), ParseErrorKind::BadMagic { found: 0x00fe_c0c0 });
        let mut b = good.clone();
        b[4] = 7;
        assert_eq!(
            PerfData::parse(&b).unwrap_err(),
            ParseError {
                offset: 4,
                kind: ParseErrorKind::BadByteOrder { found: 7 }
            }
        );
        let mut b = good.clone();
        b[5] = 1;
        assert!(matches!(
            kind(&b),
            ParseErrorKind::UnsupportedVersion { major: 1, .. }
        ));
        for (at, v, field) in [
            (8, -1, "used"),
            (8, 1 << 30, "used"),
            (24, 4, "entry_offset"),
            (28, -5, "num_entries"),
        ] {
            let mut b = good.clone();
            set_i32(&mut b, at, v);
            let e = PerfData::parse(&b).unwrap_err();
            assert_eq!(e.offset, at);
            assert!(
                matches!(e.kind, ParseErrorKind::BadHeaderField { field: f, .. } if f == field),
                "{e}"
            );
        }
        let mut b = good;
        set_i32(&mut b, 28, 1 << 20);
        assert_eq!(kind(&b), ParseErrorKind::TooManyEntries { count: 1 << 20 });
    }

    #[test]
    fn entry_errors_name_the_entry() {
        let good = sample(ByteOrder::Little);
        type Case = (usize, i32, fn(&ParseErrorKind) -> bool);
        let cases: [Case; 8] = [
            (E, 8, |k| {
                matches!(
                    k,
                    ParseErrorKind::BadEntryLength {
                        index: 0,
                        length: 8
                    }
                )
            }),
            (E, 1 << 20, |k| {
                matches!(k, ParseErrorKind::BadEntryLength { .. })
            }),
            (E, -4, |k| {
                matches!(k, ParseErrorKind::BadEntryLength { .. })
            }),
            (E + 4, 2, |k| {
                matches!(k, ParseErrorKind::BadNameOffset { name_offset: 2, .. })
            }),
            (E + 4, 4096, |k| {
                matches!(k, ParseErrorKind::BadNameOffset { .. })
            }),
            (E + 8, -1, |k| {
                matches!(k, ParseErrorKind::BadVectorLength { .. })
            }),
            (E + 16, 4, |k| {
                matches!(k, ParseErrorKind::BadDataOffset { .. })
            }),
            (E + 16, i32::MAX, |k| {
                matches!(k, ParseErrorKind::BadDataOffset { .. })
            }),
        ];
        for (at, v, ok) in cases {
            let mut b = good.clone();
            set_i32(&mut b, at, v);
            let e = PerfData::parse(&b).unwrap_err();
            assert!(ok(&e.kind), "field @{at} = {v}: {e}");
            assert_eq!(e.offset, E);
        }
        // A string vector whose length runs past the entry.
        let mut b = good.clone();
        let second =
            E + usize::try_from(i32::from_le_bytes(b[E..E + 4].try_into().unwrap())).unwrap();
        set_i32(&mut b, second + 8, 1 << 16);
        assert!(matches!(
            kind(&b),
            ParseErrorKind::BadDataOffset { index: 1, .. }
        ));
    }

    #[test]
    fn names_must_be_terminated_utf8_and_non_empty() {
        let good = sample(ByteOrder::Little);
        let name_len = "sun.gc.generation.1.space.0.used".len();
        let mut b = good.clone();
        b[E + 20] = 0;
        assert_eq!(kind(&b), ParseErrorKind::BadName { index: 0 });
        let mut b = good.clone();
        b[E + 20] = 0xff;
        assert_eq!(kind(&b), ParseErrorKind::BadName { index: 0 });
        // Fill the rest of the entry so no NUL follows the name.
        let mut b = good;
        let len = usize::try_from(i32::from_le_bytes(b[E..E + 4].try_into().unwrap())).unwrap();
        set_i32(&mut b, E + 16, 20);
        b[E + 20..E + len].fill(b'a');
        assert!(name_len < len);
        assert_eq!(kind(&b), ParseErrorKind::NameUnterminated { index: 0 });
    }

    #[test]
    fn misaligned_and_past_end_entries() {
        let mut b = sample(ByteOrder::Little);
        set_i32(&mut b, 24, 34);
        assert_eq!(kind(&b), ParseErrorKind::Misaligned { index: 0 });
        let mut b = sample(ByteOrder::Little);
        let used = b.len() as i32;
        set_i32(&mut b, 24, used - 8);
        assert!(matches!(
            kind(&b),
            ParseErrorKind::EntryPastEnd { index: 0, .. }
        ));
    }

    #[test]
    fn the_walk_stops_at_num_entries_a_zero_length_or_the_used_end() {
        let mut b = sample(ByteOrder::Little);
        set_i32(&mut b, 28, 2);
        assert_eq!(PerfData::parse(&b).unwrap().entries().len(), 2);
        let mut b = sample(ByteOrder::Little);
        set_i32(&mut b, 28, 1000);
        assert_eq!(
            PerfData::parse(&b).unwrap().entries().len(),
            4,
            "stops at `used`"
        );
        let mut b = sample(ByteOrder::Little);
        set_i32(&mut b, E, 0);
        assert_eq!(PerfData::parse(&b).unwrap().entries().len(), 0);
        let mut b = sample(ByteOrder::Little);
        let used = b.len();
        b.extend([0xffu8; 64]);
        assert_eq!(
            PerfData::parse(&b).unwrap().header().used as usize,
            used,
            "bytes past `used` ignored"
        );
    }

    #[test]
    fn unknown_types_and_units_are_kept_not_fatal() {
        let b = Builder::new(ByteOrder::Big)
            .entry("x.double", b'D', 1, 0, &[0; 8])
            .entry("x.longs", b'J', 9, 2, &[0; 16])
            .build();
        let p = PerfData::parse(&b).unwrap();
        assert_eq!(
            p.get("x.double").unwrap().value,
            Value::Unsupported { data_type: b'D' }
        );
        assert_eq!(p.get("x.longs").unwrap().units, Units::Other(9));
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_a_parse_never_a_panic() {
        let good = sample(ByteOrder::Big);
        for len in 0..good.len() {
            let _ = PerfData::parse(&good[..len]);
        }
        for at in 0..good.len() {
            for v in [0u8, 0x7f, 0x80, 0xff] {
                let mut b = good.clone();
                b[at] = v;
                let _ = PerfData::parse(&b);
            }
        }
    }
}
