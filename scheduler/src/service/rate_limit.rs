//! Per-caller request rates: a token bucket per client identity (an anonymous caller of an
//! `--insecure` farm by its IP address), refilled at `per_second` with a burst of twice
//! that. Replicas and agents are not limited here: their traffic is the farm's own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept at most; past this, idle full ones are forgotten first.
const MAX_CALLERS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> RateLimiter {
        let per_second = f64::from(per_second);
        RateLimiter { per_second, burst: per_second * 2.0, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request's token from `caller`'s bucket at `now`; false when it is empty.
    pub fn allow(&self, caller: &str, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(caller) {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, bucket| bucket.tokens + now.saturating_duration_since(bucket.refilled).as_secs_f64() * per_second < burst);
        }
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket { tokens: self.burst, refilled: now });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_caller_gets_its_burst_then_its_rate_and_others_are_untouched() {
        let limiter = RateLimiter::new(5);
        let start = Instant::now();
        let allowed = (0..20).filter(|_| limiter.allow("submitter/bob", start)).count();
        assert_eq!(allowed, 10, "the burst is twice the rate");
        assert!(limiter.allow("submitter/ann", start), "another caller has its own bucket");
        assert!(!limiter.allow("submitter/bob", start + Duration::from_millis(100)), "half a token");
        assert!(limiter.allow("submitter/bob", start + Duration::from_millis(200)), "one token after 200 ms at 5/s");
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| limiter.allow("submitter/bob", later)).count(), 10, "refilled to the burst, not beyond");
    }
}
