//! Clock and identifiers.

/// Now as kube-apiserver writes timestamps (`metav1.Time`: RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    format_time(jiff::Timestamp::now())
}

pub fn format_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random (version 4) UUID, as `metadata.uid` carries (apimachinery `uuid.NewUUID`).
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
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
