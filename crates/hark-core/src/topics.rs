//! Names shared by every producer and consumer of Hark's topics: message headers and schema ids.
//! `proto/README.md` documents them for people writing their own consumers.

/// Header naming the schema of the value, e.g. `mention.v1`.
pub const HEADER_SCHEMA: &str = "hark-schema";
/// Header carrying the stable mention id (`<platform>:<id>`), so consumers can drop redeliveries.
pub const HEADER_MENTION_ID: &str = "hark-mention-id";
pub const HEADER_ENRICHMENT_VERSION: &str = "hark-enrichment-version";
/// Header naming the route rule that sent a mention to a routed topic.
pub const HEADER_ROUTE_RULE: &str = "hark-route-rule";

pub const HEADER_DLQ_REASON: &str = "hark-dlq-reason";
pub const HEADER_DLQ_ERROR_TYPE: &str = "hark-dlq-error-type";
pub const HEADER_DLQ_STAGE: &str = "hark-dlq-stage";
pub const HEADER_SOURCE_TOPIC: &str = "hark-source-topic";
/// On a dead letter, the partition it was read from; on an enriched mention, the raw partition it
/// came from (the alert stage keeps event time per source).
pub const HEADER_SOURCE_PARTITION: &str = "hark-source-partition";
pub const HEADER_SOURCE_OFFSET: &str = "hark-source-offset";

pub const SCHEMA_MENTION: &str = "mention.v1";
pub const SCHEMA_ENRICHED: &str = "enriched.v1";
pub const SCHEMA_ALERT: &str = "alert.v1";
