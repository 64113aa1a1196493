//! `hark replay FILE.ndjson`: sends a file of mentions through the ingest API in batches, with a
//! progress bar, retrying records the API reports as failed (never the rejected or duplicates).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use hark_kafka::Backoff;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

/// What the ingest API answered for a batch (the fields replay uses).
#[derive(Debug, Default, Deserialize)]
struct BatchReport {
    accepted: usize,
    duplicates: usize,
    /// Records the answer did not list (past `ingest.max_reported_items`).
    #[serde(default)]
    items_omitted: usize,
    items: Vec<BatchItem>,
}

#[derive(Debug, Deserialize)]
struct BatchItem {
    index: usize,
    status: String,
    reason: String,
}

/// Totals of a replay, and the rejected records with their line numbers in the file.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    pub records: usize,
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<(usize, String)>,
    pub failed: Vec<(usize, String)>,
    pub elapsed: Duration,
}

/// Non-blank lines of the file with their 1-based line numbers, as raw bytes (a line that is not
/// UTF-8 is still sent, so the API can reject it by index).
fn records(path: &Path) -> anyhow::Result<Vec<(usize, Vec<u8>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line).to_vec()))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .collect())
}

/// `token`: an ingest token, sent as `Authorization: Bearer`.
pub async fn replay(path: &Path, url: &str, token: Option<&str>, batch_size: usize, show_progress: bool) -> anyhow::Result<ReplaySummary> {
    let records = records(path)?;
    let started = Instant::now();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let endpoint = format!("{}/v1/mentions", url.trim_end_matches('/'));
    let progress = if show_progress { ProgressBar::new(records.len() as u64) } else { ProgressBar::hidden() };
    progress.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} mentions  {per_sec}  eta {eta}").expect("valid template"));

    let mut summary = ReplaySummary { records: records.len(), ..Default::default() };
    for batch in records.chunks(batch_size.max(1)) {
        let mut pending: Vec<&(usize, Vec<u8>)> = batch.iter().collect();
        let mut retries = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        for attempt in 0.. {
            let mut body = Vec::new();
            for (_, line) in &pending {
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            let mut request = client.post(&endpoint).header("content-type", "application/x-ndjson").body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await;
            let report: BatchReport = match response {
                Ok(r) if matches!(r.status().as_u16(), 200 | 422 | 503) => r.json().await.context("reading the ingest API's answer")?,
                // Past the token's rate or the concurrency limit: nothing of the batch was taken.
                Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS && attempt < 5 => {
                    let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait.min(60))).await;
                    continue;
                }
                Ok(r) => bail!("ingest API answered {}: {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) if attempt < 5 => {
                    tracing::warn!(error = %e, "ingest API unreachable; retrying");
                    tokio::time::sleep(retries.next_delay()).await;
                    continue;
                }
                Err(e) => return Err(e).context(format!("posting to {endpoint}")),
            };
            // Without every record's outcome, failed records could not be told apart for retrying.
            anyhow::ensure!(
                report.items_omitted == 0,
                "the ingest API listed only some records' outcomes (ingest.max_reported_items); use a --batch no larger than that"
            );
            summary.accepted += report.accepted;
            summary.duplicates += report.duplicates;
            let mut retry = Vec::new();
            for item in report.items {
                let line = pending[item.index].0;
                match item.status.as_str() {
                    "rejected" => summary.rejected.push((line, item.reason)),
                    "failed" if attempt < 5 => retry.push(pending[item.index]),
                    "failed" => summary.failed.push((line, item.reason)),
                    _ => {}
                }
            }
            if retry.is_empty() {
                break;
            }
            tokio::time::sleep(retries.next_delay()).await;
            pending = retry;
        }
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

impl std::fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "replayed {} records in {:.1}s: {} accepted, {} duplicates, {} rejected, {} failed",
            self.records,
            self.elapsed.as_secs_f64(),
            self.accepted,
            self.duplicates,
            self.rejected.len(),
            self.failed.len()
        )?;
        for (line, reason) in self.rejected.iter().chain(&self.failed) {
            writeln!(f, "  line {line}: {reason}")?;
        }
        Ok(())
    }
}
