//! Words and numbers as messages and tables print them.

use std::time::Duration;

/// `1 object`, `3 objects`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// A timeout or a wait as people give it: `10m`, `1m30s`, `45s`, `1.5s`.
pub(crate) fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, _) if d.subsec_millis() != 0 => format!("{:.1}s", d.as_secs_f64()),
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// kubectl's AGE column (one copy, shared with kube-sim's tables).
pub(crate) use kube_text::human_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(humanize(Duration::from_secs(600)), "10m");
        assert_eq!(humanize(Duration::from_secs(90)), "1m30s");
        assert_eq!(humanize(Duration::from_secs(45)), "45s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
        assert_eq!(plural(1, "pod"), "1 pod");
        assert_eq!(plural(2, "pod"), "2 pods");
    }
}
