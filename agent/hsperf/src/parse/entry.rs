//! One entry: the 20-byte fixed part, the NUL-terminated name and the data,
//! each checked to lie inside the entry.

use super::{
    ByteOrder, ENTRY_HEADER_LEN, Entry, ParseError, ParseErrorKind, Units, Value, Variability, err,
    read_i32, read_i64,
};

/// The 20-byte fixed part of an entry, as read (not yet validated).
struct RawEntry {
    length: i32,
    name_offset: i32,
    vector_length: i32,
    data_type: u8,
    units: u8,
    variability: u8,
    data_offset: i32,
}

fn read_raw_entry(buf: &[u8], pos: usize, order: ByteOrder) -> Option<RawEntry> {
    let fixed = buf.get(pos..pos.checked_add(ENTRY_HEADER_LEN)?)?;
    Some(RawEntry {
        length: read_i32(fixed, 0, order)?,
        name_offset: read_i32(fixed, 4, order)?,
        vector_length: read_i32(fixed, 8, order)?,
        data_type: fixed[12],
        units: fixed[14],
        variability: fixed[15],
        data_offset: read_i32(fixed, 16, order)?,
    })
}

/// Parses the entry at `pos`; `Ok(None)` marks the end of the list
/// (an `entry_length` of 0). Returns the entry and the next entry's offset.
pub(super) fn parse_entry(
    buf: &[u8],
    end: usize,
    pos: usize,
    index: usize,
    order: ByteOrder,
) -> Result<Option<(Entry<'_>, usize)>, ParseError> {
    if !pos.is_multiple_of(4) {
        return Err(err(pos, ParseErrorKind::Misaligned { index }));
    }
    let used = &buf[..end.min(buf.len())];
    let raw = read_raw_entry(used, pos, order)
        .ok_or_else(|| err(pos, ParseErrorKind::EntryPastEnd { index, end }))?;
    if raw.length == 0 {
        return Ok(None);
    }
    let entry_end = usize::try_from(raw.length)
        .ok()
        .filter(|l| *l >= ENTRY_HEADER_LEN)
        .and_then(|l| pos.checked_add(l))
        .filter(|e| *e <= end)
        .ok_or_else(|| {
            err(
                pos,
                ParseErrorKind::BadEntryLength {
                    index,
                    length: raw.length,
                },
            )
        })?;
    let entry = &used[pos..entry_end];
    let name = entry_name(entry, &raw, index).map_err(|kind| err(pos, kind))?;
    let value = entry_value(entry, &raw, index, order).map_err(|kind| err(pos, kind))?;
    let parsed = Entry {
        name,
        value,
        units: units(raw.units),
        variability: variability(raw.variability),
        offset: pos,
    };
    Ok(Some((parsed, entry_end)))
}

fn entry_name<'a>(
    entry: &'a [u8],
    raw: &RawEntry,
    index: usize,
) -> Result<&'a str, ParseErrorKind> {
    let start = usize::try_from(raw.name_offset)
        .ok()
        .filter(|o| (ENTRY_HEADER_LEN..entry.len()).contains(o))
        .ok_or(ParseErrorKind::BadNameOffset {
            index,
            name_offset: raw.name_offset,
        })?;
    let rest = &entry[start..];
    let nul = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or(ParseErrorKind::NameUnterminated { index })?;
    std::str::from_utf8(&rest[..nul])
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or(ParseErrorKind::BadName { index })
}

fn entry_value<'a>(
    entry: &'a [u8],
    raw: &RawEntry,
    index: usize,
    order: ByteOrder,
) -> Result<Value<'a>, ParseErrorKind> {
    let vector_length =
        u64::try_from(raw.vector_length).map_err(|_| ParseErrorKind::BadVectorLength {
            index,
            vector_length: raw.vector_length,
        })?;
    let elem = match raw.data_type {
        b'J' => 8,
        b'B' => 1,
        data_type => return Ok(Value::Unsupported { data_type }),
    };
    let size = elem * vector_length.max(1);
    let bad = ParseErrorKind::BadDataOffset {
        index,
        data_offset: raw.data_offset,
        size,
    };
    let start = usize::try_from(raw.data_offset)
        .ok()
        .filter(|o| *o >= ENTRY_HEADER_LEN)
        .ok_or(bad.clone())?;
    let data = usize::try_from(size)
        .ok()
        .and_then(|s| start.checked_add(s))
        .and_then(|stop| entry.get(start..stop))
        .ok_or(bad)?;
    Ok(match (raw.data_type, vector_length) {
        (b'J', 0) => match read_i64(data, 0, order) {
            Some(v) => Value::Long(v),
            None => {
                return Err(ParseErrorKind::BadDataOffset {
                    index,
                    data_offset: raw.data_offset,
                    size,
                });
            }
        },
        (b'J', _) => Value::Unsupported { data_type: b'J' },
        _ if raw.units == 5 => {
            let nul = data.iter().position(|b| *b == 0).unwrap_or(data.len());
            Value::String(&data[..nul])
        }
        _ => Value::Bytes(data),
    })
}

fn units(u: u8) -> Units {
    match u {
        1 => Units::None,
        2 => Units::Bytes,
        3 => Units::Ticks,
        4 => Units::Events,
        5 => Units::String,
        6 => Units::Hertz,
        other => Units::Other(other),
    }
}

fn variability(v: u8) -> Variability {
    match v {
        1 => Variability::Constant,
        2 => Variability::Monotonic,
        3 => Variability::Variable,
        other => Variability::Other(other),
    }
}
