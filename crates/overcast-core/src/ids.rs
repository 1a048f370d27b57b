//! AWS-shaped identifiers and ARNs.

use rand::Rng;

/// A request id in AWS's UUID form.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random UUID string.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `arn:aws:{service}:{region}:{account}:{resource}`.
pub fn arn(service: &str, region: &str, account: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{region}:{account}:{resource}")
}

/// Random characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// An IAM-style unique id: `prefix` + 17 upper-case base32 characters (e.g. `AROA...`).
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(UPPER_DIGITS, 17))
}

/// An access key id with the given prefix (`AKIA`, `ASIA`): 20 characters in all.
pub fn access_key_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(UPPER_DIGITS, 20 - prefix.len()))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    random_from(ALNUM, 40)
}

/// Random alphanumerics.
pub fn alnum(len: usize) -> String {
    random_from(ALNUM, len)
}

/// Lower-case hex of `bytes` random bytes.
pub fn hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(access_key_id("ASIA").len(), 20);
        assert!(access_key_id("ASIA").starts_with("ASIA"));
        assert_eq!(unique_id("AROA").len(), 21);
        assert_eq!(secret_access_key().len(), 40);
        assert_eq!(
            arn("sqs", "us-east-1", "000000000000", "q"),
            "arn:aws:sqs:us-east-1:000000000000:q"
        );
    }
}
