//! `cargo run -p hark-alert --example alert_eval -- [SEEDS]`: the evaluation over a grid of
//! detector settings, then the full table of the defaults (what `hark alert-eval` prints).

fn main() {
    let seeds: Vec<u64> = std::env::args().skip(1).filter_map(|s| s.parse().ok()).collect();
    let seeds = if seeds.is_empty() { vec![1, 2] } else { seeds };
    print!("{}", hark_alert::eval::report(&seeds, true));
}
