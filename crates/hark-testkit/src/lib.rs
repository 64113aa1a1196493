//! What Hark's tests share, so each test file holds only its own scenario: a namespace of its
//! own on the real broker and Redis, free ports that no other test is handed, Redis and broker
//! servers a test can freeze or kill, a webhook receiver that checks Hark's signatures, and
//! waiting for a condition with a deadline.
//!
//! A dev-dependency only: nothing here is part of Hark.

mod ports;
mod receiver;
mod servers;
mod services;
mod stage_config;
mod wait;

pub use ports::free_port;
pub use receiver::{distinct_ids, Behaviour, Received, Receiver, SECRET};
pub use servers::{test_ca, BrokerServer, RedisServer};
pub use services::{brokers, prefix, redis_url, repo};
pub use stage_config::StageConfig;
pub use wait::{eventually, poll_until, wait_for};
