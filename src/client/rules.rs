//! The blocking Rules API client: list, add, delete, validate and sync a stream's PowerTrack
//! rules (or the X API v2 filtered stream's), in batches within the service's limits, one
//! request at a time per rules URL, within 60 requests a minute, retrying what the table in
//! `protocol::rules` says to retry.
//! Over 600 lines: one client for both dialects' rules APIs (a branch per verb on the URL's
//! dialect), so the batching, pacing, retries and counters are written once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::handler::StopHandle;
use super::http::{authorization, json_call, proxy_for, tls_config};
use crate::Error;
use crate::metrics::RulesProgress;
use crate::protocol::dialect::Dialect;
use crate::protocol::endpoint::UrlParts;
use crate::protocol::endpoint::check_transport;
use crate::protocol::policy::{ConnectRateLimiter, DEFAULT_CONNECT_TIMEOUT};
use crate::protocol::rules::{
    self, AddOutcome, DeleteOutcome, RULES_HOST, RULES_RATE_LIMIT, Rule, RuleSet, RulesAction,
    RulesBackoff, RulesPath, SyncPlan, ValidateOutcome,
};
use crate::protocol::v2::products::V2_HOST;
use crate::protocol::v2::rules::{self as v2_rules, V2_RULES_PATH};

/// The most bytes of one response, as read and again once inflated (a list of the account's
/// rules is the largest: 250,000 rules of about 190 bytes of JSON each). A gzip bomb ends as a
/// clear error at this size instead of what it would inflate to.
const MAX_RESPONSE: u64 = 48 << 20;

/// How often a wait or a call under way looks at the stop flag.
const STOP_TICK: Duration = Duration::from_millis(50);

/// The rules client's settings: a builder with documented defaults.
///
/// ```
/// use gnip_stream::client::RulesConfig;
/// use gnip_stream::unversioned::protocol::rules::RuleSet;
/// let c = RulesConfig::new(RuleSet::PowerTrack, "acme", "prod").credentials("u", "p");
/// assert_eq!(c.rules_url(), "https://data-api.twitter.com/rules/powertrack/accounts/acme/publishers/twitter/prod.json");
/// ```
#[derive(Clone)]
pub struct RulesConfig {
    dialect: Dialect,
    url: String,
    user: String,
    password: String,
    ca_file: Option<PathBuf>,
    connect_timeout: Duration,
    request_timeout: Duration,
    backoff: RulesBackoff,
}

impl std::fmt::Debug for RulesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesConfig")
            .field("dialect", &self.dialect)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl RulesConfig {
    /// A stream's rules on the default host ([`RULES_HOST`]).
    pub fn new(set: RuleSet, account: &str, label: &str) -> Self {
        Self::with(RulesPath::new(set, account, label).url(RULES_HOST))
    }

    /// The X API v2 filtered stream's rules on the default host ([`V2_HOST`]):
    /// `/2/tweets/search/stream/rules`, Bearer auth ([`RulesConfig::bearer_token`]).
    ///
    /// ```
    /// use gnip_stream::client::RulesConfig;
    /// let c = RulesConfig::v2().bearer_token("token");
    /// assert_eq!(c.rules_url(), "https://api.x.com/2/tweets/search/stream/rules");
    /// ```
    pub fn v2() -> Self {
        let mut c = Self::with(format!("{V2_HOST}{V2_RULES_PATH}"));
        c.dialect = Dialect::V2;
        c
    }

    /// An OAuth 2.0 App-only bearer token (X API v2). Never shown in `Debug`, logs or errors.
    pub fn bearer_token(mut self, token: &str) -> Self {
        self.user = String::new();
        self.password = token.to_owned();
        self
    }

    /// The dialect its URL speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The rules at a full URL (`…/rules/{set}/accounts/{account}/publishers/twitter/{label}.json`,
    /// or X API v2's `…/2/tweets/search/stream/rules`).
    pub fn url(url: &str) -> Result<Self, Error> {
        let base = url.split('?').next().unwrap_or(url);
        if UrlParts::split(base).is_some_and(|p| p.path == V2_RULES_PATH) {
            let mut c = Self::with(base.to_owned());
            c.dialect = Dialect::V2;
            return Ok(c);
        }
        if !rules::is_rules_url(base) {
            return Err(Error::BadInput {
                reason: format!(
                    "not a rules URL: {url}: expected …/rules/{{powertrack|powertrack-replay}}/accounts/{{account}}/publishers/twitter/{{label}}.json"
                )
                .into(),
            });
        }
        Ok(Self::with(base.to_owned()))
    }

    fn with(url: String) -> Self {
        RulesConfig {
            dialect: Dialect::Gnip,
            url,
            user: String::new(),
            password: String::new(),
            ca_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Duration::from_secs(120),
            backoff: RulesBackoff::default(),
        }
    }

    /// Replaces scheme and host (and port), e.g. a simulator's `http://127.0.0.1:PORT`.
    pub fn host(mut self, base: &str) -> Self {
        let path = UrlParts::split(&self.url).map_or("", |p| p.path);
        self.url = format!("{}{path}", base.trim_end_matches('/'));
        self
    }

    /// HTTP Basic credentials. Never shown in `Debug`, logs, errors or URLs.
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.user = user.to_owned();
        self.password = password.to_owned();
        self
    }

    /// Trust the root certificates in this PEM file instead of Mozilla's.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Connecting (TCP and TLS) may take this long (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// One request and its response may take this long in all (default 120 s: a 5 MB body
    /// on a slow link).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// The retry schedules (default: the documented ones; see [`RulesBackoff`]).
    pub fn backoff(mut self, b: RulesBackoff) -> Self {
        self.backoff = b;
        self
    }

    /// The rules URL, without query.
    pub fn rules_url(&self) -> &str {
        &self.url
    }
}

/// What [`RulesClient::add`] did, over every batch it sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddSummary {
    /// Rules created, with their ids.
    pub created: Vec<Rule>,
    /// Rules whose value was already a rule.
    pub already_present: Vec<Rule>,
    /// Rules refused, with the service's message: one invalid rule rejects its whole batch, and
    /// no later batch is sent. Empty when everything went in.
    pub rejected: Vec<(Rule, String)>,
    /// Rules of the rejected batch that were valid but not added with it (all or nothing).
    pub not_sent_or_not_added: usize,
}

/// What a delete did, over every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteSummary {
    /// Rules deleted.
    pub deleted: u64,
    /// Values or ids that were not rules.
    pub absent: u64,
    /// Anything the service would not delete, with its message.
    pub failed: Vec<(String, String)>,
}

/// What [`RulesClient::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncSummary {
    /// The adds (new rules, then the retagged ones).
    pub added: AddSummary,
    /// The deletes (retagged rules' old versions, then removed rules).
    pub deleted: DeleteSummary,
}

/// One lock and one limiter per rules URL, for the whole process: requests go one at a time
/// (the service rejects concurrent rule requests) and 60 a minute (it counts GETs and POSTs
/// together), whichever `RulesClient` sends them.
fn gate_for(url: &str) -> Arc<Mutex<ConnectRateLimiter>> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Mutex<ConnectRateLimiter>>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Arc::clone(
        all.entry(url.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(ConnectRateLimiter::new(RULES_RATE_LIMIT)))),
    )
}

/// A blocking client for one stream's rules.
///
/// ```no_run
/// use gnip_stream::client::{RulesClient, RulesConfig};
/// use gnip_stream::unversioned::protocol::rules::{Rule, RuleSet};
/// let rules = RulesClient::new(
///     RulesConfig::new(RuleSet::PowerTrack, "acme", "prod").credentials("user@example.com", "pw"),
/// )?;
/// let added = rules.add(&[Rule::new("from:TwitterDev", Some("devs"))])?;
/// assert!(added.rejected.is_empty());
/// let plan = rules.plan_sync(&[Rule::new("cat OR dog", None)])?;
/// for line in plan.lines() { println!("{line}"); } // + cat OR dog, - from:TwitterDev
/// rules.apply(&plan)?;
/// # Ok::<(), gnip_stream::Error>(())
/// ```
pub struct RulesClient {
    config: RulesConfig,
    stop: StopHandle,
    agent: ureq::Agent,
    gate: Arc<Mutex<ConnectRateLimiter>>,
    requests: AtomicU64,
    created: AtomicU64,
    deleted: AtomicU64,
    rejected: AtomicU64,
}

impl std::fmt::Debug for RulesClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RulesClient {
    /// Checks the configuration (credentials never over plain `http://` off loopback, the CA
    /// file) and builds the client.
    pub fn new(config: RulesConfig) -> Result<Self, Error> {
        check_transport(
            &config.url,
            !config.user.is_empty() || !config.password.is_empty(),
        )?;
        let cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.request_timeout))
            .user_agent(format!("gnip-stream/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls_config(config.ca_file.as_deref(), &config.url)?)
            .proxy(proxy_for(&config.url))
            .build();
        let stop = StopHandle::default();
        Ok(RulesClient {
            gate: gate_for(&config.url),
            agent: super::http::agent_of(cfg, STOP_TICK, STOP_TICK, &stop.0),
            stop,
            config,
            requests: AtomicU64::new(0),
            created: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        })
    }

    /// Stops the client from any thread: a wait (the rate limit, a backoff, a 429's
    /// `Retry-After`) or a call under way (DNS, connect, the answer) ends within 50 ms, and no
    /// request is sent after it; the call under way
    /// returns [`Error::Io`] of kind `Interrupted`.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Sleeps `d` unless stopped first.
    fn pause(&self, d: Duration) -> Result<(), Error> {
        let until = Instant::now() + d;
        loop {
            if self.stop.is_stopped() {
                return Err(Error::Io {
                    kind: std::io::ErrorKind::Interrupted,
                    message: "stopped".into(),
                });
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(STOP_TICK));
        }
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// What this client has done so far (readable while another thread uses it), for a
    /// metrics scrape ([`crate::metrics::MetricsView::rules`]).
    pub fn progress(&self) -> RulesProgress {
        RulesProgress::new(
            self.requests(),
            self.created.load(Relaxed),
            self.deleted.load(Relaxed),
            self.rejected.load(Relaxed),
        )
    }

    /// Every rule, in the service's order, ids exact.
    pub fn list(&self) -> Result<Vec<Rule>, Error> {
        if self.v2() {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let url = format!(
                    "{}?{}",
                    self.config.url,
                    v2_rules::list_query(token.as_deref())
                );
                let (_, body) = self.call(&url, None)?;
                let (page, next) = v2_rules::parse_list(&body).map_err(bad_response)?;
                out.extend(page);
                match next {
                    Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                    _ => return Ok(out),
                }
            }
        }
        let (_, body) = self.call(&self.config.url, None)?;
        rules::parse_list(&body).map_err(bad_response)
    }

    fn v2(&self) -> bool {
        self.config.dialect == Dialect::V2
    }

    /// Adds rules in batches (at most 5,000 rules and 5,000,000 bytes each, one at a time). A
    /// value that is already a rule is success. A batch with an invalid rule is rejected whole
    /// (422): its rules are in [`AddSummary::rejected`] or not added, and no later batch is
    /// sent; the summary still says what earlier batches created.
    pub fn add(&self, wanted: &[Rule]) -> Result<AddSummary, Error> {
        let batches = rules::rule_batches(wanted).map_err(|i| too_big(&wanted[i]))?;
        let mut out = AddSummary::default();
        for (k, range) in batches.iter().enumerate() {
            let batch = &wanted[range.clone()];
            let AddOutcome {
                created,
                already_present,
                rejected,
            } = if self.v2() {
                // X API v2 creates the valid rules of a batch beside the invalid ones.
                let (_, body) = self.call(&self.config.url, Some(v2_rules::add_body(batch)))?;
                v2_rules::parse_add(&body, batch).map_err(bad_response)?
            } else {
                let (status, body) = self.call(&self.config.url, Some(rules::rules_body(batch)))?;
                rules::parse_add(status, &body, batch).map_err(bad_response)?
            };
            let sent_but_not_added = if self.v2() {
                0
            } else {
                batch.len().saturating_sub(rejected.len())
            };
            self.created.fetch_add(created.len() as u64, Relaxed);
            self.rejected.fetch_add(rejected.len() as u64, Relaxed);
            out.created.extend(created);
            out.already_present.extend(already_present);
            if !rejected.is_empty() {
                let later: usize = batches[k + 1..].iter().map(|r| r.len()).sum();
                out.not_sent_or_not_added = sent_but_not_added + later;
                out.rejected = rejected;
                break;
            }
        }
        Ok(out)
    }

    /// Deletes rules by value (case-sensitive, exact); a value that is not a rule is counted as
    /// absent, not an error.
    pub fn delete_values(&self, values: &[String]) -> Result<DeleteSummary, Error> {
        let as_rules: Vec<Rule> = values.iter().map(|v| Rule::new(v, None)).collect();
        let batches = rules::rule_batches(&as_rules).map_err(|i| too_big(&as_rules[i]))?;
        let mut out = DeleteSummary::default();
        for range in batches {
            let body = if self.v2() {
                v2_rules::delete_values_body(&values[range])
            } else {
                rules::delete_values_body(&values[range])
            };
            self.delete_batch(body, &mut out)?;
        }
        Ok(out)
    }

    /// Deletes rules by id.
    pub fn delete_ids(&self, ids: &[u64]) -> Result<DeleteSummary, Error> {
        let mut out = DeleteSummary::default();
        for range in rules::id_batches(ids) {
            let body = if self.v2() {
                v2_rules::delete_ids_body(&ids[range])
            } else {
                rules::ids_body(&ids[range])
            };
            self.delete_batch(body, &mut out)?;
        }
        Ok(out)
    }

    fn delete_batch(&self, body: Vec<u8>, out: &mut DeleteSummary) -> Result<(), Error> {
        let DeleteOutcome {
            deleted,
            absent,
            failed,
        } = if self.v2() {
            let (_, resp) = self.call(&self.config.url, Some(body))?;
            v2_rules::parse_delete(&resp).map_err(bad_response)?
        } else {
            let (_, resp) = self.call(&rules::delete_url(&self.config.url), Some(body))?;
            rules::parse_delete(&resp).map_err(bad_response)?
        };
        self.deleted.fetch_add(deleted, Relaxed);
        out.deleted += deleted;
        out.absent += absent;
        out.failed.extend(failed);
        Ok(())
    }

    /// Asks the service whether rules are valid, without adding them.
    pub fn validate(&self, candidates: &[Rule]) -> Result<ValidateOutcome, Error> {
        let batches = rules::rule_batches(candidates).map_err(|i| too_big(&candidates[i]))?;
        let mut out = ValidateOutcome::default();
        for range in batches {
            let batch = &candidates[range];
            let v = if self.v2() {
                let url = format!("{}?dry_run=true", self.config.url);
                let (_, body) = self.call(&url, Some(v2_rules::add_body(batch)))?;
                v2_rules::parse_validate(&body, batch).map_err(bad_response)?
            } else {
                let url = rules::validation_url(&self.config.url);
                let (_, body) = self.call(&url, Some(rules::rules_body(batch)))?;
                rules::parse_validate(&body).map_err(bad_response)?
            };
            out.valid.extend(v.valid);
            out.invalid.extend(v.invalid);
        }
        Ok(out)
    }

    /// What [`RulesClient::apply`] would do to make the rules equal `wanted` (one GET).
    pub fn plan_sync(&self, wanted: &[Rule]) -> Result<SyncPlan, Error> {
        let wanted = rules::check_unique(wanted).map_err(|e| Error::BadInput {
            reason: e.to_string().into(),
        })?;
        Ok(rules::sync_plan(&self.list()?, &wanted))
    }

    /// Applies a plan: new rules first, then each retagged rule's old version deleted and the
    /// new one added, then the removed rules deleted, so the rules both sets share never go
    /// away. Stops at a rejected add (nothing is deleted after it).
    pub fn apply(&self, plan: &SyncPlan) -> Result<SyncSummary, Error> {
        let mut out = SyncSummary::default();
        let merge = |into: &mut AddSummary, a: AddSummary| {
            into.created.extend(a.created);
            into.already_present.extend(a.already_present);
            into.rejected.extend(a.rejected);
            into.not_sent_or_not_added += a.not_sent_or_not_added;
        };
        merge(&mut out.added, self.add(&plan.add)?);
        if !out.added.rejected.is_empty() {
            return Ok(out);
        }
        if !plan.retag.is_empty() {
            let old: Vec<u64> = plan.retag.iter().filter_map(|(o, _)| o.id).collect();
            let d = self.delete_ids(&old)?;
            out.deleted.deleted += d.deleted;
            out.deleted.absent += d.absent;
            out.deleted.failed.extend(d.failed);
            let new: Vec<Rule> = plan.retag.iter().map(|(_, n)| n.clone()).collect();
            // Tags are immutable and values unique, so a retag must delete before it adds;
            // if the add then fails, say which rules are gone (audit L11).
            let added = self.add(&new).map_err(|e| {
                let values: Vec<String> = new.iter().map(|r| format!("{:?}", r.value)).collect();
                e.with_note(&format!(
                    "deleted for a new tag and not added again ({}): {}; run the sync again",
                    new.len(),
                    values.join(", ")
                ))
            })?;
            merge(&mut out.added, added);
            if !out.added.rejected.is_empty() {
                return Ok(out);
            }
        }
        let gone: Vec<u64> = plan.delete.iter().filter_map(|r| r.id).collect();
        let by_value: Vec<String> = plan
            .delete
            .iter()
            .filter(|r| r.id.is_none())
            .map(|r| r.value.clone())
            .collect();
        for d in [self.delete_ids(&gone)?, self.delete_values(&by_value)?] {
            out.deleted.deleted += d.deleted;
            out.deleted.absent += d.absent;
            out.deleted.failed.extend(d.failed);
        }
        Ok(out)
    }

    /// One request, retried by the table: returns the status (2xx or 422) and the body.
    fn call(&self, url: &str, body: Option<Vec<u8>>) -> Result<(u16, Vec<u8>), Error> {
        let mut attempt = 0u32;
        let mut schedule_attempts = [0u32; 2];
        loop {
            attempt += 1;
            // Strictly one at a time per rules URL, and within the rate limit.
            let mut gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = gate.reserve(now);
            self.pause(slot.saturating_duration_since(now))?;
            self.requests.fetch_add(1, Relaxed);
            let result = self.send(url, body.as_deref());
            drop(gate);
            if result.is_err() && self.stop.is_stopped() {
                // The call ended because of the stop, not the service.
                self.pause(Duration::ZERO)?;
            }
            let (status, retry_after, error) = match result {
                Ok((status, retry_after, bytes)) => {
                    if rules::rules_action(Some(status)) == RulesAction::Done {
                        return Ok((status, bytes));
                    }
                    let message = self.config.dialect.error_message(status, &bytes);
                    (
                        Some(status),
                        retry_after,
                        Error::Http {
                            status,
                            message: message.into(),
                        },
                    )
                }
                // Only trouble on the way is worth another try: an answer that could not be
                // read as one (a gzip bomb, a corrupt body) would come again the same.
                Err(e) if !matches!(e, Error::Io { .. }) => return Err(e),
                Err(e) => (None, None, e),
            };
            match rules::rules_action(status) {
                RulesAction::Retry(schedule) if attempt < self.config.backoff.max_attempts => {
                    let k = &mut schedule_attempts[schedule as usize];
                    *k += 1;
                    let wait = self.config.backoff.delay(schedule, *k, retry_after);
                    log::info!(
                        "rules: {error}; trying again in {:.1} s",
                        wait.as_secs_f64()
                    );
                    self.pause(wait)?;
                }
                _ => return Err(error),
            }
        }
    }

    /// Sends one request: `(status, Retry-After seconds, decoded body)`.
    fn send(&self, url: &str, body: Option<&[u8]>) -> Result<(u16, Option<u64>, Vec<u8>), Error> {
        let auth = authorization(
            self.config.dialect.auth(),
            &self.config.user,
            &self.config.password,
        );
        let method = if body.is_some() { "POST" } else { "GET" };
        let answer = json_call(
            &self.agent,
            method,
            url,
            auth.as_deref(),
            body,
            MAX_RESPONSE,
        )?;
        let retry_after = answer
            .retry_after
            .and_then(|v| rules::parse_retry_after(&v));
        Ok((answer.status, retry_after, answer.body))
    }
}

fn bad_response(e: rules::BadResponse) -> Error {
    Error::BadInput {
        reason: format!("the Rules API answered something unexpected: {}", e.0).into(),
    }
}

fn too_big(rule: &Rule) -> Error {
    Error::BadInput {
        reason: format!(
            "a rule too big for one request body ({} bytes at most): {:.80}…",
            rules::MAX_BODY_BYTES,
            rule.value
        )
        .into(),
    }
}
