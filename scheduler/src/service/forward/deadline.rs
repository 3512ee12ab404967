//! How long a relayed call may take: what is left of the caller's deadline (its
//! `grpc-timeout`), at most a bound, so a silent leader never holds a follower's call
//! forever.

use std::time::Duration;

use tonic::metadata::MetadataMap;

/// The longest a relayed unary call waits for the leader when the caller set no shorter
/// deadline.
pub const UNARY_BOUND: Duration = Duration::from_secs(30);

/// The caller's `grpc-timeout` (digits and a unit: H, M, S, m, u, n), if it sent a valid one.
pub fn caller_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The deadline for a relayed call: the caller's, at most `bound` when there is one.
pub fn relayed(caller: Option<Duration>, bound: Option<Duration>) -> Option<Duration> {
    match (caller, bound) {
        (Some(caller), Some(bound)) => Some(caller.min(bound)),
        (caller, bound) => caller.or(bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(text: &str) -> Option<Duration> {
        let mut metadata = MetadataMap::new();
        metadata.insert("grpc-timeout", text.parse().unwrap());
        caller_timeout(&metadata)
    }

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        assert_eq!(timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "S", "5", "5s", "x5S", "123456789S"] {
            assert_eq!(timeout(bad), None, "{bad:?}");
        }
        assert_eq!(caller_timeout(&MetadataMap::new()), None);
    }

    #[test]
    fn the_shorter_of_caller_and_bound_wins() {
        let (short, long) = (Some(Duration::from_secs(1)), Some(Duration::from_secs(30)));
        assert_eq!(relayed(short, long), short);
        assert_eq!(relayed(long, short), short);
        assert_eq!(relayed(None, long), long);
        assert_eq!(relayed(short, None), short);
        assert_eq!(relayed(None, None), None);
    }
}
