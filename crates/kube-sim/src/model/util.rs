//! Clock and identifiers.

/// Now as kube-apiserver writes timestamps (`metav1.Time`: RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    format_time(jiff::Timestamp::now())
}

pub fn format_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random (version 4) UUID, as `metadata.uid` carries.
pub fn new_uid() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    let bytes: Vec<u8> = a.to_be_bytes().into_iter().chain(b.to_be_bytes()).collect();
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The random suffix of `generateName` (staging/src/k8s.io/apiserver/pkg/storage/names:
/// five characters from an alphabet without vowels and confusable characters).
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_v4_uuids() {
        let u = new_uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, new_uid());
    }

    #[test]
    fn timestamps_have_whole_seconds() {
        let t: jiff::Timestamp = "2024-05-01T10:11:12.987Z".parse().unwrap();
        assert_eq!(format_time(t), "2024-05-01T10:11:12Z");
    }
}
