//! How Kubernetes clients print things, shared by the CLI's tables and kube-sim's (which must
//! answer as kube-apiserver's table printers do).

/// kubectl's AGE column: kubernetes v1.33 staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go
/// `HumanDuration`, for a span in whole seconds.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    } else if secs < 0 {
        return "0s".into();
    } else if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn matches_apimachinery_duration_test_cases() {
        // kubernetes v1.33 staging/src/k8s.io/apimachinery/pkg/util/duration/duration_test.go
        for (secs, want) in [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (10799, "179m"),
            (10800, "3h"),
            (10860, "3h1m"),
            (28799, "7h59m"),
            (28800, "8h"),
            (172799, "47h"),
            (172800, "2d"),
            (176400, "2d1h"),
            (691199, "7d23h"),
            (691200, "8d"),
            (63071999, "729d"),
            (63072000, "2y"),
            (63158400, "2y1d"),
            (252287999, "7y364d"),
            (252288000, "8y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }
}
