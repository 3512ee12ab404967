//! What a replica's address may be: `HOST:PORT`, the one form `--peers`, `--route` and
//! `shotfarm cluster add` accept (a name or IPv4 address, or an IPv6 address in brackets; a
//! port from 1 to 65535).

/// Longest address accepted (a DNS name is at most 253 characters).
const MAX_ADDR: usize = 260;

/// Why `addr` is not `HOST:PORT`, or Ok.
pub fn check_member_addr(addr: &str) -> Result<(), String> {
    if addr.is_empty() || addr.len() > MAX_ADDR {
        return Err(format!("{addr:?} is not HOST:PORT (1 to {MAX_ADDR} characters)"));
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("{addr:?} has no port; give HOST:PORT"));
    };
    if !port.parse::<u16>().is_ok_and(|port| port > 0) {
        return Err(format!("{addr:?}: {port:?} is not a port (1 to 65535); give HOST:PORT"));
    }
    let host_ok = match host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')) {
        Some(inner) => inner.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')),
    };
    if !host_ok {
        return Err(format!("{addr:?}: {host:?} is not a host name or IP address (IPv6 in brackets); give HOST:PORT"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_only() {
        for good in ["127.0.0.1:7001", "sched-2.farm.local:443", "[::1]:7001"] {
            assert_eq!(check_member_addr(good), Ok(()), "{good}");
        }
        for bad in ["", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":7001", "host name:1", "::1:7001", "http://a:1", "a:1/x"] {
            assert!(check_member_addr(bad).is_err(), "{bad:?} accepted");
        }
    }
}
