//! The dispatcher: which alerts go to which receiver, grouped how, and when a group's
//! notification is due. Timing follows Alertmanager's aggregation groups:
//!
//! - a group (route × values of its `group_by` labels) appears with its first firing alert and
//!   sends its first notification `group_wait` later, so alerts of one brand that fire together
//!   go out together;
//! - after that it is looked at every `group_interval`: it notifies when an alert fires that the
//!   receiver has not been told about, or one it was told about resolved, or, while anything still
//!   fires, when `repeat_interval` has passed since the last notification (for an Alertmanager
//!   receiver, `repush_interval_secs` at most);
//! - silenced alerts are left out; a group with nothing firing and nothing left to resolve ends.
//!
//! The dispatcher keeps no state of its own: each [`Dispatcher::tick`] reads the alerts, silences
//! and groups from Redis and writes each due notification with the group's new state in one step,
//! so a restart picks up exactly where the last run stopped. Only the notifier holding the lease
//! dispatches ([`crate::lease`]), and its writes are fenced.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{NotifyConfig, ReceiverConfig, ReceiverKind};
use chrono::{DateTime, Duration, Utc};
use hark_core::AlertState;

use crate::matcher::{labels_of, matches_all, Matcher};
use crate::payload::{render, Delivery, Notification};
use crate::store::{is_firing, silenced_by, GroupState, Store, StoredAlert};
use crate::NotifyError;

/// A route with its matchers compiled and its timing resolved.
#[derive(Debug, Clone)]
pub struct Route {
    pub receiver: ReceiverConfig,
    pub matchers: Vec<Matcher>,
    pub group_by: Vec<String>,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub continue_matching: bool,
}

impl Route {
    /// All routes of the config, in order, with regexes compiled: a bad one is an error at start.
    pub fn all(config: &NotifyConfig) -> Result<Vec<Route>, NotifyError> {
        config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let receiver = config
                    .receiver(&r.receiver)
                    .ok_or_else(|| NotifyError::Invalid(format!("notify.routes[{i}]: unknown receiver `{}`", r.receiver)))?;
                let matchers = r
                    .matchers
                    .iter()
                    .map(|m| Matcher::parse(m).map_err(|e| NotifyError::Invalid(format!("notify.routes[{i}]: {e}"))))
                    .collect::<Result<_, _>>()?;
                let secs = |own: Option<u64>, default: u64| Duration::seconds(own.unwrap_or(default) as i64);
                let mut repeat_interval = secs(r.repeat_interval_secs, config.repeat_interval_secs);
                if receiver.kind == ReceiverKind::Alertmanager {
                    repeat_interval = repeat_interval.min(Duration::seconds(receiver.repush_interval_secs as i64));
                }
                Ok(Route {
                    receiver: receiver.clone(),
                    matchers,
                    group_by: r.group_by.clone().unwrap_or_else(|| config.group_by.clone()),
                    group_wait: secs(r.group_wait_secs, config.group_wait_secs),
                    group_interval: secs(r.group_interval_secs, config.group_interval_secs),
                    repeat_interval,
                    continue_matching: r.continue_matching,
                })
            })
            .collect()
    }
}

/// The group key of an alert on a route, in Alertmanager's form, and the group's labels.
fn group_of(route_index: usize, route: &Route, labels: &BTreeMap<String, String>) -> (String, BTreeMap<String, String>) {
    let group_labels: BTreeMap<String, String> =
        route.group_by.iter().filter_map(|k| labels.get(k).map(|v| (k.clone(), v.clone()))).collect();
    let inner: Vec<String> = group_labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    (format!("{{}}/{route_index}/{}:{{{}}}", route.receiver.name, inner.join(",")), group_labels)
}

/// The alerts of one group as this tick sees them.
struct GroupView<'a> {
    route: &'a Route,
    labels: BTreeMap<String, String>,
    alerts: Vec<&'a StoredAlert>,
}

/// What one tick did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub notifications: usize,
    pub deliveries: usize,
    /// Receivers that got new deliveries (their workers are woken).
    pub receivers: BTreeSet<String>,
    /// Alerts firing now, per rule (silenced ones too).
    pub firing: BTreeMap<String, u64>,
}

pub struct Dispatcher {
    routes: Vec<Route>,
    store: Store,
    external_url: String,
    resolved_retention: Duration,
}

impl Dispatcher {
    pub fn new(config: &NotifyConfig, store: Store) -> Result<Dispatcher, NotifyError> {
        Ok(Dispatcher {
            routes: Route::all(config)?,
            store,
            external_url: config.external_url.clone(),
            resolved_retention: Duration::seconds(config.resolved_retention_secs as i64),
        })
    }

    /// The routes an alert's labels go to: the first match, and later ones while `continue` says so.
    fn routes_for(&self, labels: &BTreeMap<String, String>) -> Vec<usize> {
        let mut matched = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            if matches_all(&route.matchers, labels) {
                matched.push(i);
                if !route.continue_matching {
                    break;
                }
            }
        }
        matched
    }

    /// Looks at every group once and queues the notifications that are due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, NotifyError> {
        let mut alerts = self.store.alerts().await?;
        let silences = self.store.silences().await?;
        let mut states = self.store.groups().await?;

        // Resolved alerts are kept for a while, then forgotten; so are silences long over.
        let expired: Vec<String> = alerts
            .iter()
            .filter(|a| !is_firing(a) && a.alert.ends_at.unwrap_or(a.received_at).max(a.received_at) + self.resolved_retention < now)
            .map(|a| a.alert.fingerprint.clone())
            .collect();
        self.store.forget_alerts(&expired).await?;
        alerts.retain(|a| !expired.contains(&a.alert.fingerprint));
        let old_silences: Vec<String> =
            silences.iter().filter(|s| s.ends_at + self.resolved_retention < now).map(|s| s.id.clone()).collect();
        self.store.forget_silences(&old_silences).await?;

        let mut views: BTreeMap<String, GroupView> = BTreeMap::new();
        let mut muted: BTreeSet<&str> = BTreeSet::new();
        for stored in &alerts {
            let labels = labels_of(&stored.alert);
            if !silenced_by(&labels, &silences, now).is_empty() {
                muted.insert(stored.alert.fingerprint.as_str());
            }
            for i in self.routes_for(&labels) {
                let route = &self.routes[i];
                let (key, group_labels) = group_of(i, route, &labels);
                views.entry(key).or_insert_with(|| GroupView { route, labels: group_labels, alerts: Vec::new() }).alerts.push(stored);
            }
        }

        let mut report = TickReport::default();
        for stored in alerts.iter().filter(|a| is_firing(a)) {
            *report.firing.entry(stored.alert.rule.clone()).or_default() += 1;
        }
        let keys: BTreeSet<String> = views.keys().chain(states.keys()).cloned().collect();
        for key in keys {
            let Some(view) = views.get(&key) else {
                // Nothing of the group is left (forgotten, or a route changed): end it.
                self.store.commit_flush(&key, None, &[]).await?;
                continue;
            };
            let firing: Vec<&StoredAlert> =
                view.alerts.iter().copied().filter(|a| is_firing(a) && !muted.contains(a.alert.fingerprint.as_str())).collect();
            let mut state = match states.remove(&key) {
                Some(s) => s,
                None if firing.is_empty() => continue,
                None => {
                    let state = GroupState {
                        receiver: view.route.receiver.name.clone(),
                        next_flush_at: Some(now + view.route.group_wait),
                        ..GroupState::default()
                    };
                    if view.route.group_wait > Duration::zero() {
                        self.store.commit_flush(&key, Some(&state), &[]).await?;
                        continue;
                    }
                    state
                }
            };
            if state.next_flush_at.is_some_and(|t| now < t) {
                continue;
            }
            if let Some(n) = self.flush(&key, view, &firing, &mut state, now).await? {
                report.notifications += 1;
                report.deliveries += n;
                report.receivers.insert(view.route.receiver.name.clone());
            }
        }
        Ok(report)
    }

    /// Decides whether a due group notifies, and commits its new state with the deliveries.
    /// The number of deliveries queued, or `None` when the group had nothing to say.
    async fn flush(
        &self,
        key: &str,
        view: &GroupView<'_>,
        firing: &[&StoredAlert],
        state: &mut GroupState,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, NotifyError> {
        let route = view.route;
        let present: BTreeSet<&str> = view.alerts.iter().map(|a| a.alert.fingerprint.as_str()).collect();
        let resolved: Vec<&StoredAlert> =
            view.alerts.iter().copied().filter(|a| !is_firing(a) && state.notified.contains(&a.alert.fingerprint)).collect();
        let firing_set: BTreeSet<String> = firing.iter().map(|a| a.alert.fingerprint.clone()).collect();
        let new_firing: Vec<&StoredAlert> = firing.iter().copied().filter(|a| !state.notified.contains(&a.alert.fingerprint)).collect();

        let repeat_due = !firing.is_empty() && state.last_sent_at.is_none_or(|t| t + route.repeat_interval <= now);
        let send = !new_firing.is_empty() || (!resolved.is_empty() && route.receiver.send_resolved) || repeat_due;

        // The receiver now knows of these as firing: the old ones still here and unresolved, and the
        // new ones (silenced alerts it was told about stay, so their end is still reported).
        let resolved_set: BTreeSet<&str> = resolved.iter().map(|a| a.alert.fingerprint.as_str()).collect();
        let mut notified: BTreeSet<String> =
            state.notified.iter().filter(|f| present.contains(f.as_str()) && !resolved_set.contains(f.as_str())).cloned().collect();
        notified.extend(firing_set);
        state.notified = notified;
        state.next_flush_at = Some(now + route.group_interval);

        let mut deliveries: Vec<Delivery> = Vec::new();
        if send {
            state.last_sent_at = Some(now);
            let seq = self.store.next_seq().await?;
            let group_hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
            let mut alerts: Vec<_> = firing.iter().map(|a| a.alert.clone()).collect();
            if route.receiver.send_resolved {
                alerts.extend(resolved.iter().map(|a| a.alert.clone()));
            }
            let notification = Notification {
                id: format!("{group_hash:016x}-{seq}"),
                receiver: route.receiver.name.clone(),
                group_key: key.to_string(),
                group_labels: view.labels.clone(),
                status: if firing.is_empty() { AlertState::Resolved } else { AlertState::Firing },
                alerts,
                created_at: now,
            };
            // Mention age at alert: from the first anomalous mention's event time where the detector gives it.
            let first_fired_at = new_firing.iter().map(|a| a.alert.first_event_at.unwrap_or(a.alert.starts_at)).min();
            deliveries = render(&route.receiver, &notification, &self.external_url, now, first_fired_at);
            tracing::info!(group = key, receiver = %route.receiver.name, id = %notification.id,
                firing = firing.len(), resolved = resolved.len(), "notification queued");
        }
        let ended = firing.is_empty() && state.notified.is_empty();
        self.store.commit_flush(key, if ended { None } else { Some(state) }, &deliveries).await?;
        Ok(send.then_some(deliveries.len()))
    }
}
