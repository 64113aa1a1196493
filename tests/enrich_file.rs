//! `hark enrich-file` and `hark eval` as a user runs them: the built binary, real files, the
//! output checked against the published `enriched.v1` contract by an independent validator.

use std::io::Write;
use std::process::Stdio;

use hark_e2e::{hark_command, repo, validate};
use serde_json::Value;

fn run(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> (i32, String, String) {
    let mut command = hark_command();
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).current_dir(repo());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("starting hark");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn enrich_file_enriches_every_good_line_and_names_the_bad_ones() {
    let demo = std::fs::read_to_string(repo().join("deploy/demo/texts.jsonl")).unwrap();
    let mut input: Vec<String> = demo.lines().take(200).map(String::from).collect();
    input.insert(2, "{not json".into());
    input.push(r#"{"id":"empty","text":""}"#.into());
    input.push(serde_json::json!({"id": "huge", "text": "il volo è in ritardo ".repeat(50_000)}).to_string());
    input.push(
        r#"{"id":"hinted","text":"ok","lang_hint":"xx-unknown","platform":"x","created_at":"2026-11-20T10:00:00Z","author":{"id":"u"}}"#
            .into(),
    );
    let (code, stdout, stderr) = run(&["enrich-file"], &[], input.join("\n").as_bytes());

    assert_ne!(code, 0, "a rejected line makes the exit status non-zero");
    assert!(stderr.contains("line 3: not valid JSON"), "{stderr}");
    assert!(stderr.contains("line 202: field `text` is empty"), "{stderr}");
    assert!(stderr.contains("enriched 202 mentions, 2 lines rejected"), "{stderr}");
    let values: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(values.len(), 202);
    validate("enriched.v1.schema.json", &values.iter().collect::<Vec<_>>()).unwrap();
    // Order is kept and the input's own fields (here the demo's `lang` label) pass through.
    assert_eq!(values[0]["mention"]["text"], serde_json::from_str::<Value>(demo.lines().next().unwrap()).unwrap()["text"]);
    assert_eq!(values[0]["mention"]["lang"], "en");
    let by_id = |id: &str| values.iter().find(|v| v["mention"]["id"] == id).unwrap();
    assert_eq!(by_id("huge")["enrichment"]["lang"]["code"], "it");
    assert_eq!(by_id("hinted")["mention"]["lang_hint"], "xx-unknown");
}

#[test]
fn eval_reports_every_labelled_task() {
    let file = "crates/hark-enrich/eval/language-udhr-fragments.jsonl";
    let (code, stdout, stderr) = run(&["eval", file, "--json"], &[], b"");
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let tasks = report["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "the fragments label only the language");
    assert_eq!(tasks[0]["task"], "lang");
    assert_eq!(tasks[0]["overall"]["n"], 2000);
    assert_eq!(tasks[0]["per_language"].as_object().unwrap().len(), 20);
    let accuracy = tasks[0]["overall"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.9, "language accuracy on 1-4 word fragments fell to {accuracy}");

    let (code, stdout, _) = run(&["eval", file], &[], b"");
    assert_eq!(code, 0);
    assert!(stdout.contains("== lang (") && stdout.contains("truth \\ said"), "{stdout}");
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let (code, _, stderr) = run(&["enrich-file"], &[("HARK__ENRICH__LANGUAGES", r#"["en", "xx"]"#)], b"");
    assert_ne!(code, 0);
    assert!(stderr.contains("`xx` is not a language Hark can detect"), "{stderr}");

    // Without the `transformer` feature the backend is missing; with it, the model folder is.
    let (code, _, stderr) = run(&["enrich-file"], &[("HARK__ENRICH__TRANSFORMER", r#"{ model_dir = "/no/such/model" }"#)], b"");
    assert_ne!(code, 0);
    assert!(stderr.contains("transformer") && (stderr.contains("--features transformer") || stderr.contains("/no/such/model")), "{stderr}");

    let (code, _, stderr) = run(&["eval", "no/such/file.jsonl"], &[], b"");
    assert_ne!(code, 0);
    assert!(stderr.contains("no/such/file.jsonl"), "{stderr}");
}
