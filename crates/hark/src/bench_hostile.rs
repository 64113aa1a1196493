//! `hark bench-hostile`: how much memory the ingest stage takes when clients send the worst
//! bodies it accepts. Starts `hark ingest` as a process of its own (on the configured broker and
//! Redis, fresh topics and keys), sends rounds of concurrent bodies just under
//! `ingest.max_body_bytes`, and prints the process's peak resident memory (`VmHWM` in
//! `/proc/<pid>/status`) after each round, with the machine it ran on.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::config::Config;
use anyhow::Context;

#[derive(clap::Args, Debug, Clone)]
pub struct HostileArgs {
    /// Requests in flight at once in each round.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Rounds of each content type.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
}

/// One kind of hostile body.
struct Body {
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// The bodies, each `size` bytes or just under: as NDJSON and as a JSON array.
fn bodies(size: usize) -> Vec<Body> {
    let fill = |line: &str, open: &str, separator: &str, close: &str| {
        let mut body = String::with_capacity(size);
        body.push_str(open);
        while body.len() + line.len() + separator.len() + close.len() <= size {
            body.push_str(line);
            body.push_str(separator);
        }
        body.push_str(close);
        body.into_bytes()
    };
    let huge_string = format!("{{\"id\":\"1\",\"text\":\"{}\"}}", "x".repeat(200 * 1024));
    let nested = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let giant = |open: &str, close: &str| {
        let mut body = format!("{open}{{\"text\":\"").into_bytes();
        body.resize(size - 2 - close.len(), b'y');
        body.extend_from_slice(format!("\"}}{close}").as_bytes());
        body
    };
    vec![
        Body { name: "`{}` lines", content_type: "application/x-ndjson", bytes: fill("{}", "", "\n", "") },
        Body { name: "lines of 200 KiB strings", content_type: "application/x-ndjson", bytes: fill(&huge_string, "", "\n", "") },
        Body { name: "lines nested 50,000 deep", content_type: "application/x-ndjson", bytes: fill(&nested, "", "\n", "") },
        Body { name: "one giant line", content_type: "application/x-ndjson", bytes: giant("", "") },
        Body { name: "array of `{}`", content_type: "application/json", bytes: fill("{}", "[", ",", "{}]") },
        Body { name: "array of 200 KiB strings", content_type: "application/json", bytes: fill(&huge_string, "[", ",", "{}]") },
        Body { name: "array nested 50,000 deep", content_type: "application/json", bytes: fill(&nested, "[", ",", "{}]") },
        Body { name: "one giant element", content_type: "application/json", bytes: giant("[", "]") },
    ]
}

/// The ingest process, killed when dropped.
struct Ingest {
    child: Child,
    config_path: PathBuf,
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config_path);
    }
}

pub async fn run(mut config: Config, args: &HostileArgs) -> anyhow::Result<()> {
    let run_id = format!("{:08x}", fastrand::u32(..));
    crate::bench::isolate(&mut config, &run_id);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    config.ingest.listen = listener.local_addr()?.to_string();
    drop(listener);
    let config_path = std::env::temp_dir().join(format!("hark-bench-hostile-{run_id}.toml"));
    std::fs::write(&config_path, toml::to_string(&config)?)?;
    let log = std::env::temp_dir().join(format!("hark-bench-hostile-{run_id}.log"));
    let log_file = std::fs::File::create(&log)?;
    let child = Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(&config_path)
        .arg("ingest")
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .stdin(Stdio::null())
        .spawn()
        .context("starting hark ingest")?;
    let ingest = Ingest { child, config_path };
    let pid = ingest.child.id();
    crate::bench::wait_ready(&config.ingest.listen).await.with_context(|| format!("ingest did not start; see {}", log.display()))?;

    println!("hark bench-hostile: {}", machine());
    println!("command: {}", std::env::args().collect::<Vec<_>>().join(" "));
    println!(
        "ingest pid {pid}: max_body_bytes {}, max_records_per_request {}, max_record_bytes {}, max_reported_items {}",
        config.ingest.max_body_bytes,
        config.ingest.max_records_per_request,
        config.ingest.max_record_bytes,
        config.ingest.max_reported_items
    );
    println!("ingest ready: peak RSS {}", memory(pid)?);

    let url = format!("http://{}/v1/mentions", config.ingest.listen);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
    let bodies = bodies(config.ingest.max_body_bytes);
    for content_type in ["application/x-ndjson", "application/json"] {
        let kinds: Vec<&Body> = bodies.iter().filter(|b| b.content_type == content_type).collect();
        for round in 1..=args.rounds {
            let started = Instant::now();
            let requests = (0..args.concurrency).map(|i| {
                let body = kinds[i % kinds.len()];
                let request = client.post(&url).header("content-type", body.content_type).body(body.bytes.clone());
                async move {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    let answer = response.bytes().await?;
                    anyhow::Ok(format!("{}: {status}, answer {} bytes", body.name, answer.len()))
                }
            });
            let answers = futures::future::join_all(requests).await;
            println!(
                "{content_type} round {round}: {} requests of {} bytes in {:.1} s",
                args.concurrency,
                bodies[0].bytes.len(),
                started.elapsed().as_secs_f64()
            );
            for answer in answers {
                println!("  {}", answer.unwrap_or_else(|e| format!("error: {e:#}")));
            }
            println!("  ingest peak RSS so far: {}", memory(pid)?);
        }
    }
    Ok(())
}

/// `VmHWM` (peak resident memory) and `VmRSS` (now) of a process, from `/proc`.
fn memory(pid: u32) -> anyhow::Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc (this bench needs Linux)")?;
    let field = |name: &str| -> String {
        status.lines().find_map(|line| line.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_else(|| "?".into())
    };
    Ok(format!("VmHWM {} (now VmRSS {})", field("VmHWM:"), field("VmRSS:")))
}

/// The machine, for the record: CPU model, cores, memory, kernel.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|v| v.trim_start_matches([' ', '\t', ':']).to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).map(|v| v.trim().to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{}, {} cores, {} memory, Linux {}",
        model.unwrap_or_else(|| "unknown CPU".into()),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory.unwrap_or_else(|| "?".into()),
        kernel.trim()
    )
}
