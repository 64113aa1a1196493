//! Secrets and where Hark reads its settings: `hark config` never prints a secret, environment
//! overrides that name no setting are errors, and Redis is reached over TLS (Debian's
//! redis-server with a private CA) with its password read from a file.

use std::path::PathBuf;
use std::time::Duration;

use hark_e2e::{hark_command, synthetic_mentions, Env, RedisServer};

/// A directory of this test's own under target/e2e.
fn scratch(name: &str) -> PathBuf {
    let dir = hark_e2e::repo().join(format!("target/e2e/{name}-{:08x}", fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn hark_config_shows_where_secrets_come_from_but_never_their_values() {
    let dir = scratch("config-redacted");
    let config = dir.join("hark.toml");
    std::fs::write(
        &config,
        "[redis]\nurl = \"redis://:redis-pw-1@cache:6379/\"\n\
         [kafka.properties]\n\"sasl.username\" = \"hark\"\n\"sasl.password\" = \"kafka-pw-2\"\n\
         [kafka.properties_env]\n\"ssl.key.password\" = \"HARK_TEST_KAFKA_KEY_PW\"\n\
         [[notify.receivers]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/slack-token-3\"\n\
         [[notify.receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"https://hooks.example/in?token=query-token-4\"\nsecret = \"signing-5\"\n\
         [[notify.receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"https://events.example/v2\"\nrouting_key_file = \"/run/secrets/pd\"\n",
    )
    .unwrap();
    let out = hark_command().arg("--config").arg(&config).arg("config").env_remove("HARK__REDIS__URL").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    for secret in ["redis-pw-1", "kafka-pw-2", "slack-token-3", "query-token-4", "signing-5"] {
        assert!(!printed.contains(secret), "`{secret}` printed:\n{printed}");
    }
    for shown in
        ["cache:6379", "\"sasl.username\" = \"hark\"", "HARK_TEST_KAFKA_KEY_PW", "/run/secrets/pd", "https://hooks.slack.com/<redacted>"]
    {
        assert!(printed.contains(shown), "`{shown}` not printed:\n{printed}");
    }

    // An override that names no setting stops Hark with the variable's name; so does the old form.
    let typo = hark_command().arg("--config").arg(&config).arg("config").env("HARK__REDIS__URI", "redis://x/").output().unwrap();
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(!typo.status.success() && stderr.contains("environment variable HARK__REDIS__URI: unknown field `uri`"), "{stderr}");
    let old = hark_command().arg("config").env("HARK_KAFKA_BROKERS", "b:9092").output().unwrap();
    let stderr = String::from_utf8_lossy(&old.stderr);
    assert!(!old.status.success() && stderr.contains("rename it HARK__KAFKA__BROKERS"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_dedupes_through_redis_over_tls_with_a_private_ca_and_a_password_file() {
    let dir = scratch("redis-tls");
    let redis = RedisServer::start_tls(&dir, "redis", "tls-password");
    std::fs::write(dir.join("redis-password"), "tls-password\n").unwrap();
    let ca = dir.join("redis-ca.pem").display().to_string();
    let password_file = dir.join("redis-password").display().to_string();
    let env = Env::new("redis-tls");

    let tls = [("HARK__REDIS__URL", redis.url.as_str()), ("HARK__REDIS__CA_FILE", &ca), ("HARK__REDIS__PASSWORD_FILE", &password_file)];
    let ingest = env.start("ingest", &tls).await;
    let line = synthetic_mentions(&env.run, 1).remove(0);
    let (status, report) = ingest.post("application/x-ndjson", line.clone()).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)), "{report}");
    let (status, report) = ingest.post("application/x-ndjson", line).await;
    assert_eq!((status, report["duplicates"].as_u64()), (200, Some(1)), "the marker is in the TLS Redis: {report}");
    drop(ingest);

    // Without the CA, the certificate is not trusted: ingest does not start, and says why.
    let mut untrusted = env.spawn("ingest", &tls[..1]);
    let (_, log) = untrusted.exited(Duration::from_secs(30)).await.expect("ingest stops when it cannot reach Redis");
    assert!(log.contains("invalid peer certificate: UnknownIssuer"), "{log}");
    // A wrong password is refused by Redis, and said so.
    std::fs::write(dir.join("redis-password"), "not-the-password").unwrap();
    let mut refused = env.spawn("ingest", &tls);
    let (_, log) = refused.exited(Duration::from_secs(30)).await.expect("ingest stops when Redis refuses it");
    assert!(log.contains("Password authentication failed"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}
