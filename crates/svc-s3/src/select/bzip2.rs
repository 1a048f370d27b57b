//! A small bzip2 decompressor (for S3 Select's `CompressionType: BZIP2`): stream and block
//! headers, Huffman-coded MTF/RLE2 symbols, the inverse Burrows–Wheeler transform and the
//! final run-length decoding, with block and stream CRCs checked. Concatenated streams are
//! decoded one after another. Malformed input is an error, never a panic.

/// Why a stream could not be decoded.
pub type Error = &'static str;

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, Error> {
        let byte = *self
            .data
            .get(self.pos / 8)
            .ok_or("truncated bzip2 stream")?;
        let b = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Result<u32, Error> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn bits64(&mut self, n: u32) -> Result<u64, Error> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v)
    }

    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }
}

fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = (i as u32) << 24;
        for _ in 0..8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04c1_1db7
            } else {
                c << 1
            };
        }
        *e = c;
    }
    t
}

/// Canonical Huffman decoding table of one group: (length, limit, base, permutation).
struct Table {
    min_len: u32,
    max_len: u32,
    limit: [i64; 21],
    base: [i64; 21],
    perm: Vec<u16>,
}

impl Table {
    fn new(lengths: &[u8]) -> Result<Table, Error> {
        let min_len = u32::from(*lengths.iter().min().ok_or("empty Huffman table")?);
        let max_len = u32::from(*lengths.iter().max().ok_or("empty Huffman table")?);
        let mut perm = Vec::with_capacity(lengths.len());
        for l in min_len..=max_len {
            for (s, &len) in lengths.iter().enumerate() {
                if u32::from(len) == l {
                    perm.push(s as u16);
                }
            }
        }
        let mut count = [0i64; 22];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        let mut limit = [0i64; 21];
        let mut base = [0i64; 21];
        let mut code = 0i64;
        let mut index = 0i64;
        for l in min_len..=max_len {
            let l = l as usize;
            base[l] = index - code;
            code += count[l];
            index += count[l];
            limit[l] = code - 1;
            code <<= 1;
        }
        Ok(Table {
            min_len,
            max_len,
            limit,
            base,
            perm,
        })
    }

    fn decode(&self, r: &mut Bits) -> Result<u16, Error> {
        let mut len = self.min_len;
        let mut code = i64::from(r.bits(len)?);
        loop {
            if code <= self.limit[len as usize] {
                let i = code + self.base[len as usize];
                return usize::try_from(i)
                    .ok()
                    .and_then(|i| self.perm.get(i))
                    .copied()
                    .ok_or("bad Huffman code");
            }
            len += 1;
            if len > self.max_len {
                return Err("bad Huffman code");
            }
            code = (code << 1) | i64::from(r.bit()?);
        }
    }
}

/// Decompresses one or more concatenated bzip2 streams.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, Error> {
    let crcs = crc_table();
    let mut r = Bits { data, pos: 0 };
    let mut out = Vec::new();
    loop {
        if r.bits(8)? != u32::from(b'B')
            || r.bits(8)? != u32::from(b'Z')
            || r.bits(8)? != u32::from(b'h')
        {
            return Err("not a bzip2 stream");
        }
        let level = r.bits(8)?;
        if !(u32::from(b'1')..=u32::from(b'9')).contains(&level) {
            return Err("bad bzip2 block size");
        }
        let max_block = (level - u32::from(b'0')) as usize * 100_000;
        let mut combined = 0u32;
        loop {
            let magic = r.bits64(48)?;
            let stored_crc = r.bits(32)?;
            if magic == 0x1772_4538_5090 {
                if stored_crc != combined {
                    return Err("bzip2 stream CRC mismatch");
                }
                r.align();
                break;
            }
            if magic != 0x3141_5926_5359 {
                return Err("bad bzip2 block header");
            }
            let start = out.len();
            block(&mut r, max_block, &mut out)?;
            let mut crc = 0xffff_ffffu32;
            for &b in &out[start..] {
                crc = (crc << 8) ^ crcs[((crc >> 24) as u8 ^ b) as usize];
            }
            if !crc != stored_crc {
                return Err("bzip2 block CRC mismatch");
            }
            combined = combined.rotate_left(1) ^ stored_crc;
        }
        if r.pos / 8 >= data.len() {
            return Ok(out);
        }
    }
}

fn block(r: &mut Bits, max_block: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if r.bit()? != 0 {
        return Err("randomised bzip2 blocks are not supported");
    }
    let orig_ptr = r.bits(24)? as usize;
    // Symbols in use.
    let ranges = r.bits(16)?;
    let mut used = Vec::new();
    for i in 0..16 {
        if ranges & (0x8000 >> i) != 0 {
            let bits = r.bits(16)?;
            for j in 0..16 {
                if bits & (0x8000 >> j) != 0 {
                    used.push((i * 16 + j) as u8);
                }
            }
        }
    }
    if used.is_empty() {
        return Err("bzip2 block uses no symbols");
    }
    let alpha = used.len() + 2;
    let groups = r.bits(3)? as usize;
    if !(2..=6).contains(&groups) {
        return Err("bad bzip2 Huffman group count");
    }
    let selectors_n = r.bits(15)? as usize;
    if selectors_n == 0 {
        return Err("bad bzip2 selector count");
    }
    let mut mtf_groups: Vec<u8> = (0..groups as u8).collect();
    let mut selectors = Vec::with_capacity(selectors_n);
    for _ in 0..selectors_n {
        let mut j = 0usize;
        while r.bit()? == 1 {
            j += 1;
            if j >= groups {
                return Err("bad bzip2 selector");
            }
        }
        let g = mtf_groups[j];
        mtf_groups.copy_within(0..j, 1);
        mtf_groups[0] = g;
        selectors.push(g);
    }
    let mut tables = Vec::with_capacity(groups);
    for _ in 0..groups {
        let mut len = r.bits(5)? as i32;
        let mut lengths = Vec::with_capacity(alpha);
        for _ in 0..alpha {
            loop {
                if !(1..=20).contains(&len) {
                    return Err("bad bzip2 code length");
                }
                if r.bit()? == 0 {
                    break;
                }
                len += if r.bit()? == 0 { 1 } else { -1 };
            }
            lengths.push(len as u8);
        }
        tables.push(Table::new(&lengths)?);
    }
    // Symbols: MTF indices with RUNA/RUNB zero runs, up to EOB.
    let eob = (alpha - 1) as u16;
    let mut mtf: Vec<u8> = used.clone();
    let mut tt: Vec<u32> = Vec::with_capacity(max_block.min(1 << 20));
    let mut counts = [0usize; 256];
    let mut run = 0usize;
    let mut run_bit = 1usize;
    let mut decoded = 0usize;
    loop {
        let sel = *selectors
            .get(decoded / 50)
            .ok_or("bzip2 selectors exhausted")?;
        let sym = tables[usize::from(sel)].decode(r)?;
        decoded += 1;
        if sym <= 1 {
            run += run_bit << sym;
            run_bit <<= 1;
            if run > max_block {
                return Err("bzip2 run too long");
            }
            continue;
        }
        if run > 0 {
            let b = mtf[0];
            if tt.len() + run > max_block {
                return Err("bzip2 block too large");
            }
            counts[usize::from(b)] += run;
            tt.extend(std::iter::repeat_n(u32::from(b), run));
            run = 0;
            run_bit = 1;
        }
        if sym == eob {
            break;
        }
        let idx = usize::from(sym - 1);
        if idx >= mtf.len() {
            return Err("bad bzip2 MTF index");
        }
        let b = mtf[idx];
        mtf.copy_within(0..idx, 1);
        mtf[0] = b;
        if tt.len() >= max_block {
            return Err("bzip2 block too large");
        }
        counts[usize::from(b)] += 1;
        tt.push(u32::from(b));
    }
    let n = tt.len();
    if n == 0 {
        return Ok(());
    }
    if orig_ptr >= n {
        return Err("bad bzip2 origin pointer");
    }
    // Inverse BWT: tt[i] low byte is the symbol; high bits link to the next position.
    let mut start = [0usize; 256];
    let mut sum = 0;
    for (s, c) in start.iter_mut().zip(counts.iter()) {
        *s = sum;
        sum += c;
    }
    for i in 0..n {
        let b = (tt[i] & 0xff) as usize;
        let j = start[b];
        start[b] += 1;
        tt[j] |= (i as u32) << 8;
    }
    // Undo the initial run-length encoding (4 equal bytes, then a repeat count).
    let mut pos = (tt[orig_ptr] >> 8) as usize;
    let mut last: Option<u8> = None;
    let mut same = 0;
    for _ in 0..n {
        let entry = *tt.get(pos).ok_or("bad bzip2 BWT link")?;
        let b = (entry & 0xff) as u8;
        pos = (entry >> 8) as usize;
        if same == 4 {
            let prev = last.unwrap_or(0);
            out.extend(std::iter::repeat_n(prev, usize::from(b)));
            same = 0;
            last = None;
            continue;
        }
        if Some(b) == last {
            same += 1;
        } else {
            same = 1;
            last = Some(b);
        }
        out.push(b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bz2.compress(b'aaaaaaaabbbbbbbbbbbbcd,cd\n' * 3 + b'xyz\n')`.
    const SAMPLE: &str =
        "QlpoOTFBWSZTWVxE+yoAAAtRgARQAAQ8AABwIAAxANNNAioZMmkMuWPEOsIS002M+z4u5IpwoSC4ifZU";

    fn sample() -> Vec<u8> {
        overcast_wire::value::decode_base64(SAMPLE).unwrap()
    }

    #[test]
    fn decodes_runs_and_concatenated_streams() {
        let expected = [b"aaaaaaaabbbbbbbbbbbbcd,cd\n".repeat(3), b"xyz\n".to_vec()].concat();
        assert_eq!(decompress(&sample()).unwrap(), expected);
        let twice = [sample(), sample()].concat();
        assert_eq!(
            decompress(&twice).unwrap(),
            [expected.clone(), expected].concat()
        );
    }

    #[test]
    fn corrupt_streams_fail_without_panicking() {
        let good = sample();
        assert!(decompress(&good[..good.len() - 3]).is_err());
        assert!(decompress(b"BZh9garbage").is_err());
        assert!(decompress(b"").is_err());
        for i in 4..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                // Any answer but a panic; a flipped bit must not go unnoticed (CRCs).
                if let Ok(out) = decompress(&bad) {
                    assert_eq!(out, decompress(&good).unwrap(), "byte {i} bit {bit}");
                }
            }
        }
    }
}
