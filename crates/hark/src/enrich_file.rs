//! `hark enrich-file` and `hark eval`: the enricher over an NDJSON file, with no broker or Redis.
//! Both read mentions as [`hark_enrich::record`] describes (full `mention.v1`, or any record
//! with a `text`); a line that is not one is reported with its number and reason, and the rest go on.

use std::io::{BufRead, Write};

use hark_core::EnrichedMention;
use hark_enrich::{eval::Evaluation, record::mention_from_line, Enricher};

/// Lines enriched together: enough to keep every core busy.
const BATCH: usize = 1000;

/// What became of a file's lines.
#[derive(Debug, Default)]
pub struct FileSummary {
    pub enriched: usize,
    /// `line N: reason` for each line that is not a mention.
    pub rejected: Vec<String>,
}

/// Reads mentions from `input` in batches and hands each batch, enriched, to `sink`.
fn for_each_batch(
    enricher: &Enricher,
    input: impl BufRead,
    mut sink: impl FnMut(Vec<EnrichedMention>) -> std::io::Result<()>,
) -> std::io::Result<FileSummary> {
    let mut summary = FileSummary::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<hark_core::Mention>, summary: &mut FileSummary| -> std::io::Result<()> {
        let enrichments = enricher.enrich_batch(batch);
        summary.enriched += batch.len();
        sink(batch.drain(..).zip(enrichments).map(|(mention, enrichment)| EnrichedMention { mention, enrichment }).collect())
    };
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match mention_from_line(&line, index + 1) {
            Ok(mention) => batch.push(mention),
            Err(e) => summary.rejected.push(e.to_string()),
        }
        if batch.len() == BATCH {
            flush(&mut batch, &mut summary)?;
        }
    }
    flush(&mut batch, &mut summary)?;
    Ok(summary)
}

/// Writes one `enriched.v1` line per mention of `input`, in order.
pub fn enrich_file(enricher: &Enricher, input: impl BufRead, mut output: impl Write) -> std::io::Result<FileSummary> {
    let summary = for_each_batch(enricher, input, |batch| {
        for enriched in batch {
            serde_json::to_writer(&mut output, &enriched)?;
            output.write_all(b"\n")?;
        }
        Ok(())
    })?;
    output.flush()?;
    Ok(summary)
}

/// Scores the enricher on the labelled mentions of `input`.
pub fn evaluate(enricher: &Enricher, input: impl BufRead) -> std::io::Result<(Evaluation, FileSummary)> {
    let mut evaluation = Evaluation::default();
    let summary = for_each_batch(enricher, input, |batch| {
        for enriched in &batch {
            evaluation.add(&enriched.mention, &enriched.enrichment);
        }
        Ok(())
    })?;
    Ok((evaluation, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enricher() -> Enricher {
        Enricher::new(&Default::default()).unwrap()
    }

    #[test]
    fn enriches_in_order_keeps_extra_fields_and_reports_bad_lines() {
        let input = concat!(
            r#"{"id":"a","text":"Servizio pessimo, volo cancellato","sentiment":"negative","x":{"y":1}}"#,
            "\n",
            "\n",
            "{broken\n",
            r#"{"id":"b","platform":"twitter","text":"Thank you, perfect flight!","created_at":"2026-11-20T10:00:00Z","author":{"id":"u"}}"#,
            "\n",
            r#"{"id":"c","text":""}"#,
            "\n",
            r#"{"id":"d","text":"😡😡😡"}"#,
            "\n",
        );
        let mut out = Vec::new();
        let summary = enrich_file(&enricher(), input.as_bytes(), &mut out).unwrap();
        assert_eq!(summary.enriched, 3);
        assert_eq!(summary.rejected.len(), 2);
        assert!(summary.rejected[0].starts_with("line 3: not valid JSON"), "{:?}", summary.rejected);
        assert!(summary.rejected[1].starts_with("line 5: field `text` is empty"), "{:?}", summary.rejected);
        let lines: Vec<serde_json::Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.iter().map(|l| l["mention"]["id"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b", "d"]);
        assert_eq!(lines[0]["mention"]["x"]["y"], 1);
        assert_eq!(lines[0]["mention"]["sentiment"], "negative");
        assert_eq!(lines[0]["enrichment"]["lang"]["code"], "it");
        assert_eq!(lines[2]["enrichment"]["lang"]["code"], "und");
        assert_eq!(lines[2]["enrichment"]["sentiment"]["label"], "negative");
    }

    #[test]
    fn evaluation_counts_only_labelled_tasks() {
        let input = concat!(
            r#"{"text":"Servizio pessimo","lang":"it"}"#,
            "\n",
            r#"{"text":"Thank you, perfect flight!","lang":"en","spam":false}"#,
            "\n",
        );
        let (evaluation, summary) = evaluate(&enricher(), input.as_bytes()).unwrap();
        assert!(summary.rejected.is_empty());
        let report = evaluation.report();
        let tasks: Vec<&str> = report.tasks.iter().map(|t| t.task.as_str()).collect();
        assert_eq!(tasks, ["lang", "spam"]);
        assert_eq!(report.tasks[0].overall.n, 2);
        assert_eq!(report.tasks[1].overall.n, 1);
    }
}
