//! `hark`: run a stage, all stages, or one of the tools. See `hark --help`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hark::config::Config;
use hark::serve;
use hark_telemetry::Metrics;
use hark_telemetry::Stage;

const AFTER_HELP: &str = "\
Configuration: a TOML file (--config or HARK_CONFIG; every key has a default, see
deploy/hark.example.toml), with environment overrides HARK__<SECTION>__<KEY>, for example:
  HARK__KAFKA__BROKERS=broker:9092     HARK__REDIS__URL=redis://cache:6379/
  HARK__INGEST__LISTEN=0.0.0.0:8080    HARK__LOG__FORMAT=json   HARK__LOG__LEVEL=debug
Sections: kafka, topics, redis, ingest, enrich, route, alert, notify, auth, log. Secrets can come from
environment variables or files (`*_env`, `*_file`). `hark config` prints the result, secrets redacted.";

#[derive(Parser)]
#[command(name = "hark", version, about = "Streaming mention processing: ingest, enrich and route mentions over Kafka, and alert on them", after_help = AFTER_HELP)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short, global = true, env = "HARK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the ingest stage: HTTP API in, Redis dedupe, raw topic out.
    Ingest,
    /// Run the enrich stage: raw topic in; language, sentiment, intent, spam, offensive, influence, brands; enriched topic out.
    Enrich,
    /// Run the route stage: enriched topic in, one topic per matching rule out.
    Route,
    /// Run the alert stage: enriched topic in, spike and single-mention alerts out to the alerts topic.
    Alert,
    /// Measure the alert rules on labelled synthetic streams of two generators: recall of large waves, delay, false alarms.
    AlertEval {
        /// Seeds of the streams (the defaults were chosen on seeds 1 to 4; the README's tables are 11 to 14).
        #[arg(long, value_delimiter = ',', default_values_t = [11, 12, 13, 14])]
        seeds: Vec<u64>,
        /// Also compare settings around the defaults.
        #[arg(long)]
        grid: bool,
        /// Labelled texts for the field generator.
        #[arg(long, default_value = "crates/hark-enrich/eval")]
        texts: PathBuf,
    },
    /// Run the notify stage: alerts topic in, grouped, signed notifications to the receivers out.
    Notify,
    /// Run every stage in one process (small installs, first tries).
    All,
    /// Send an NDJSON file of mentions through the ingest API, with a progress bar. With ingest
    /// tokens configured, put one in the environment variable HARK_TOKEN.
    Replay {
        /// NDJSON file, one mention per line (see proto/mention.v1.schema.json).
        file: PathBuf,
        /// Base URL of the ingest API, http:// or https:// (default: http://<ingest.listen>). HTTPS
        /// trusts the system's roots; SSL_CERT_FILE names a PEM file to trust instead.
        #[arg(long)]
        url: Option<String>,
        /// Mentions per request.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// No progress bar (for scripts and logs).
        #[arg(long)]
        quiet: bool,
    },
    /// Count what routing produced (per language, sentiment, intent, tier, brand, route), reading the topics from the start.
    Summary {
        /// Stop once this many distinct mentions were seen.
        #[arg(long)]
        expect: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Push mentions through all three stages over the broker and Redis, and print throughput
    /// and latency next to the broker's raw produce→consume throughput.
    Bench(hark::bench::BenchArgs),
    /// Start `hark ingest` as a process, send it concurrent hostile bodies of the largest size it
    /// takes (NDJSON and JSON), and print its peak resident memory (VmHWM) after each round.
    BenchHostile(hark::bench_hostile::HostileArgs),
    /// Enrich NDJSON mentions from a file or stdin into enriched.v1 NDJSON, with no broker or
    /// Redis (the enrich stage's code). Fields the input carries, labels included, pass through.
    EnrichFile {
        /// NDJSON input, one mention a line (a full mention.v1, or any record with `text`); `-` or none: stdin.
        input: Option<PathBuf>,
        /// Output file; default stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Measure the models on a labelled NDJSON file (fields `lang`, `sentiment`, `intent`, `spam`,
    /// `offensive`, any subset): accuracy, macro-F1, per-language and per-class tables, confusion matrix.
    Eval {
        /// Labelled NDJSON file.
        file: PathBuf,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the effective configuration (file + environment) as TOML.
    Config,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if !matches!(cli.command, Command::Config) {
        // Kafka credentials given as `properties_env` / `properties_file`; notify and Redis read
        // their own secrets as they connect.
        config.kafka.read_secrets()?;
    }
    hark_telemetry::init_logging(&config.log);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let stages: &[Stage] = match &cli.command {
            Command::Ingest => &[Stage::Ingest],
            Command::Enrich => &[Stage::Enrich],
            Command::Route => &[Stage::Route],
            Command::Notify => &[Stage::Notify],
            Command::Alert => &[Stage::Alert],
            Command::All => &[Stage::Ingest, Stage::Enrich, Stage::Route, Stage::Alert, Stage::Notify],
            Command::AlertEval { seeds, grid, texts } => {
                print!("{}", hark::alert_eval::report(seeds, *grid, texts, &config.enrich, &config.alert)?);
                return Ok(());
            }
            Command::Replay { file, url, batch, quiet } => {
                let url = url.clone().unwrap_or_else(|| format!("http://{}", config.ingest.listen));
                // From the environment, not an option: command lines are visible to other users.
                let token = std::env::var("HARK_TOKEN").ok().filter(|t| !t.is_empty());
                let summary = hark::replay::replay(file, &url, token.as_deref(), *batch, !quiet).await?;
                print!("{summary}");
                anyhow::ensure!(summary.failed.is_empty(), "{} records could not be ingested", summary.failed.len());
                return Ok(());
            }
            Command::Summary { expect, timeout } => {
                let summary = hark::summary::collect(&config, *expect, Duration::from_secs(*timeout)).await?;
                print!("{summary}");
                anyhow::ensure!(summary.mentions >= *expect, "saw {} of {expect} mentions before the timeout", summary.mentions);
                return Ok(());
            }
            Command::Bench(args) => return hark::bench::run(config, args).await,
            Command::BenchHostile(args) => return hark::bench_hostile::run(config, args).await,
            Command::EnrichFile { input, output } => {
                let enricher = hark_enrich::Enricher::new(&config.enrich)?;
                let reader: Box<dyn std::io::BufRead> = match input.as_deref().filter(|p| p.as_os_str() != "-") {
                    Some(path) => {
                        Box::new(std::io::BufReader::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?))
                    }
                    None => Box::new(std::io::stdin().lock()),
                };
                let writer: Box<dyn std::io::Write> = match output {
                    Some(path) => Box::new(std::io::BufWriter::new(
                        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                    )),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                };
                let summary = hark::enrich_file::enrich_file(&enricher, reader, writer)?;
                for line in &summary.rejected {
                    eprintln!("{line}");
                }
                eprintln!("enriched {} mentions, {} lines rejected", summary.enriched, summary.rejected.len());
                anyhow::ensure!(summary.rejected.is_empty(), "{} lines were not mentions", summary.rejected.len());
                return Ok(());
            }
            Command::Eval { file, json } => {
                let enricher = hark_enrich::Enricher::new(&config.enrich)?;
                let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
                let (evaluation, summary) = hark::enrich_file::evaluate(&enricher, std::io::BufReader::new(input))?;
                for line in &summary.rejected {
                    eprintln!("{line}");
                }
                let report = evaluation.report();
                if *json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    println!("{}: {} mentions ({} lines rejected)\n", file.display(), summary.enriched, summary.rejected.len());
                    print!("{report}");
                }
                return Ok(());
            }
            Command::Config => {
                print!("{}", toml::to_string_pretty(&config.redacted()).context("printing config")?);
                return Ok(());
            }
        };
        let shutdown = serve::shutdown_on_signals();
        serve::run(config, cli.config.clone(), stages, Metrics::new(), shutdown).await
    })
}
