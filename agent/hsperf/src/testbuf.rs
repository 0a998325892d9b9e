//! Test-only writer of hsperfdata buffers in either byte order.

use crate::parse::{ByteOrder, HEADER_LEN, MAGIC};

/// Builds a buffer laid out like the JVM's: header, then entries with the
/// name at offset 20 and the data 8-byte aligned after it.
#[derive(Debug)]
pub(crate) struct Builder {
    order: ByteOrder,
    entries: Vec<u8>,
    count: i32,
}

impl Builder {
    pub(crate) fn new(order: ByteOrder) -> Builder {
        Builder {
            order,
            entries: Vec::new(),
            count: 0,
        }
    }

    fn i32(&self, v: i32) -> [u8; 4] {
        match self.order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        }
    }

    /// Appends one raw entry.
    pub(crate) fn entry(
        mut self,
        name: &str,
        data_type: u8,
        units: u8,
        vector: i32,
        data: &[u8],
    ) -> Builder {
        let data_offset = (20 + name.len() + 1).next_multiple_of(8);
        let length = (data_offset + data.len()).next_multiple_of(4);
        let mut e = Vec::with_capacity(length);
        e.extend(self.i32(length as i32));
        e.extend(self.i32(20));
        e.extend(self.i32(vector));
        e.extend([data_type, 0, units, 3]);
        e.extend(self.i32(data_offset as i32));
        e.extend(name.as_bytes());
        e.resize(data_offset, 0);
        e.extend(data);
        e.resize(length, 0);
        self.entries.extend(e);
        self.count += 1;
        self
    }

    pub(crate) fn long(self, name: &str, v: i64) -> Builder {
        let data = match self.order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        };
        self.entry(name, b'J', 1, 0, &data)
    }

    pub(crate) fn string(self, name: &str, s: &str) -> Builder {
        let mut data = s.as_bytes().to_vec();
        data.resize(s.len() + 8, 0);
        self.entry(name, b'B', 5, data.len() as i32, &data)
    }

    pub(crate) fn build(self) -> Vec<u8> {
        let used = (HEADER_LEN + self.entries.len()) as i32;
        let mut b = Vec::with_capacity(used as usize);
        b.extend(MAGIC.to_be_bytes());
        b.extend([u8::from(self.order == ByteOrder::Little), 2, 0, 1]);
        b.extend(self.i32(used));
        b.extend(self.i32(0));
        b.extend([0u8; 8]);
        b.extend(self.i32(HEADER_LEN as i32));
        b.extend(self.i32(self.count));
        b.extend(self.entries);
        b
    }
}
