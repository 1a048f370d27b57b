//! Body integrity: MD5 (ETag), the flexible checksums S3 accepts (CRC32, CRC32C, CRC64NVME,
//! SHA1, SHA256), and the `aws-chunked` framing SDKs use to send a trailing checksum.

use md5::{Digest, Md5};
use overcast_wire::value::encode_base64;

/// A checksum algorithm S3 can verify and store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// CRC32 (ISO-HDLC).
    Crc32,
    /// CRC32C (Castagnoli).
    Crc32c,
    /// CRC64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Algorithm {
    /// From the model's `ChecksumAlgorithm` value or a trailer header name.
    pub fn parse(name: &str) -> Option<Algorithm> {
        let n = name
            .trim()
            .trim_start_matches("x-amz-checksum-")
            .to_ascii_uppercase();
        match n.as_str() {
            "CRC32" => Some(Algorithm::Crc32),
            "CRC32C" => Some(Algorithm::Crc32c),
            "CRC64NVME" => Some(Algorithm::Crc64Nvme),
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// The model's name (`CRC32`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The output member carrying it (`ChecksumCRC32`).
    pub fn member(self) -> String {
        format!("Checksum{}", self.name())
    }
}

/// Every checksum member name S3 accepts on input with its algorithm.
pub const MEMBERS: &[(&str, Algorithm)] = &[
    ("ChecksumCRC32", Algorithm::Crc32),
    ("ChecksumCRC32C", Algorithm::Crc32c),
    ("ChecksumCRC64NVME", Algorithm::Crc64Nvme),
    ("ChecksumSHA1", Algorithm::Sha1),
    ("ChecksumSHA256", Algorithm::Sha256),
];

fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    t
}

fn crc64_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u64;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x9A6C_9329_AC4B_C9B5
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    t
}

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(Box<[u32; 256]>, u32),
    Crc64(Box<[u64; 256]>, u64),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// An incremental checksum.
pub struct Hasher {
    algorithm: Algorithm,
    state: State,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Hasher {
        let state = match algorithm {
            Algorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => State::Crc32c(Box::new(crc32c_table()), !0),
            Algorithm::Crc64Nvme => State::Crc64(Box::new(crc64_table()), !0),
            Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        Hasher { algorithm, state }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(t, c) => {
                for b in data {
                    *c = t[((*c ^ u32::from(*b)) & 0xff) as usize] ^ (*c >> 8);
                }
            }
            State::Crc64(t, c) => {
                for b in data {
                    *c = t[((*c ^ u64::from(*b)) & 0xff) as usize] ^ (*c >> 8);
                }
            }
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The checksum, base64 as S3 shows it.
    pub fn finish(self) -> String {
        match self.state {
            State::Crc32(h) => encode_base64(&h.finalize().to_be_bytes()),
            State::Crc32c(_, c) => encode_base64(&(!c).to_be_bytes()),
            State::Crc64(_, c) => encode_base64(&(!c).to_be_bytes()),
            State::Sha1(h) => encode_base64(&h.finalize()),
            State::Sha256(h) => encode_base64(&h.finalize()),
        }
    }
}

/// MD5 of a byte slice (for tests and multipart ETags).
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

enum Phase {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// Decodes `aws-chunked` framing incrementally:
/// `<hex-size>[;chunk-signature=...]\r\n<data>\r\n ... 0\r\n<trailer lines>\r\n\r\n`.
pub struct ChunkedDecoder {
    pending: Vec<u8>,
    phase: Phase,
    /// Trailer headers (`x-amz-checksum-crc32`, value), lowercased names.
    pub trailers: Vec<(String, String)>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            pending: Vec::new(),
            phase: Phase::Size,
            trailers: Vec::new(),
        }
    }
}

const MAX_LINE: usize = 8 * 1024;

impl ChunkedDecoder {
    /// Feeds raw bytes; decoded payload bytes are passed to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        loop {
            match self.phase {
                Phase::Data(left) => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    out(&input[..n]);
                    input = &input[n..];
                    let left = left - n as u64;
                    self.phase = if left == 0 {
                        Phase::DataEnd
                    } else {
                        Phase::Data(left)
                    };
                }
                Phase::Done => {
                    return if input.iter().all(|b| b.is_ascii_whitespace()) {
                        Ok(())
                    } else {
                        Err("data after the final chunk".into())
                    }
                }
                _ => {
                    let Some(line) = self.line(&mut input)? else {
                        return Ok(());
                    };
                    match self.phase {
                        Phase::Size => {
                            let size = line.split(';').next().unwrap_or("").trim();
                            let size = u64::from_str_radix(size, 16)
                                .map_err(|_| format!("bad chunk size '{size}'"))?;
                            self.phase = if size == 0 {
                                Phase::Trailer
                            } else {
                                Phase::Data(size)
                            };
                        }
                        Phase::DataEnd => {
                            if !line.is_empty() {
                                return Err("chunk data longer than its size".into());
                            }
                            self.phase = Phase::Size;
                        }
                        _ => {
                            if line.is_empty() {
                                self.phase = Phase::Done;
                            } else if let Some((k, v)) = line.split_once(':') {
                                self.trailers
                                    .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                            } else {
                                return Err(format!("bad trailer line '{line}'"));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Takes one CRLF-terminated line from `pending` + `input`, or None when incomplete.
    fn line(&mut self, input: &mut &[u8]) -> Result<Option<String>, String> {
        if let Some(i) = input.iter().position(|b| *b == b'\n') {
            self.pending.extend_from_slice(&input[..i]);
            *input = &input[i + 1..];
            let mut l = std::mem::take(&mut self.pending);
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            return String::from_utf8(l)
                .map(Some)
                .map_err(|_| "chunk header is not UTF-8".into());
        }
        self.pending.extend_from_slice(input);
        *input = &[];
        if self.pending.len() > MAX_LINE {
            return Err("chunk header too long".into());
        }
        Ok(None)
    }

    /// Whether the final chunk and trailers were read.
    pub fn finished(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Trailer) && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(a: Algorithm, data: &[u8]) -> String {
        let mut h = Hasher::new(a);
        h.update(data);
        h.finish()
    }

    #[test]
    fn known_checksums() {
        // Check values of "123456789" for each CRC, base64 of the big-endian value.
        assert_eq!(
            cs(Algorithm::Crc32, b"123456789"),
            encode_base64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            cs(Algorithm::Crc32c, b"123456789"),
            encode_base64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            cs(Algorithm::Crc64Nvme, b"123456789"),
            encode_base64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        assert_eq!(cs(Algorithm::Sha1, b""), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
        assert_eq!(
            cs(Algorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            Algorithm::parse("x-amz-checksum-crc32c"),
            Some(Algorithm::Crc32c)
        );
    }

    #[test]
    fn decodes_chunked_bodies_split_anywhere() {
        let raw = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:abc=\r\n\r\n";
        for split in 0..raw.len() {
            let mut d = ChunkedDecoder::default();
            let mut out = Vec::new();
            d.feed(&raw[..split], &mut |b| out.extend_from_slice(b))
                .unwrap();
            d.feed(&raw[split..], &mut |b| out.extend_from_slice(b))
                .unwrap();
            assert_eq!(out, b"hello world");
            assert!(d.finished());
            assert_eq!(
                d.trailers,
                vec![("x-amz-checksum-crc32".to_string(), "abc=".to_string())]
            );
        }
        let mut d = ChunkedDecoder::default();
        assert!(d.feed(b"zz\r\n", &mut |_| {}).is_err());
        let mut d = ChunkedDecoder::default();
        assert!(d.feed(b"2\r\nabc\r\n", &mut |_| {}).is_err());
        let mut d = ChunkedDecoder::default();
        d.feed(b"5\r\nhel", &mut |_| {}).unwrap();
        assert!(!d.finished());
    }
}
