//! Ports for the servers a test starts.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

/// A port on 127.0.0.1 that nothing listens on, for a server the test starts next.
///
/// Binding port 0 and letting go is not enough: the kernel hands the same range to outgoing
/// connections (every Kafka and Redis client of the test), so such a port can be taken before
/// the server binds it. Ports come from below that range instead, each handed out once per test
/// process (the tests of one binary run in parallel).
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let mut given = GIVEN.get_or_init(Default::default).lock().unwrap();
    let below = ephemeral_start().clamp(2_048, u16::MAX);
    for _ in 0..10_000 {
        let port = fastrand::u16(1_024..below);
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port below {below}");
}

/// The first port of the kernel's ephemeral range (Linux), 32768 where it cannot be read.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_handed_out_once_and_are_free() {
        let ports: HashSet<u16> = (0..200).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 200);
        for port in ports.iter().take(20) {
            assert!(*port < ephemeral_start());
            TcpListener::bind(("127.0.0.1", *port)).expect("free");
        }
    }
}
