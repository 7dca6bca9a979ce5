//! Fault injection for tests: fail the Nth request matching a method and path with a real
//! Status, add latency, drop the connection mid-response, stall or close watches.
//!
//! ```
//! use kube_sim::Fault;
//! let second_secret_create_fails = Fault::on("POST", "/api/v1/namespaces/*/secrets").nth(2).respond(500);
//! let slow_apps = Fault::on("*", "/apis/apps/**").delay(std::time::Duration::from_millis(200));
//! let silent_pod_watches = Fault::watch("/api/v1/namespaces/*/pods").stall();
//! # let _ = (second_secret_create_fails, slow_apps, silent_pod_watches);
//! ```

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::auth::RequestInfo;
use crate::model::status::ApiError;

/// Which requests a fault applies to, and which of them (counted from injection).
#[derive(Debug, Clone)]
pub struct FaultMatch {
    method: String,
    pattern: Vec<String>,
    watch: bool,
    skip: usize,
    times: Option<usize>,
}

/// What happens to a matched request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status code (and kube-apiserver's body for it) without serving.
    Respond { code: u16, message: Option<String> },
    /// Serve after this delay.
    Delay(Duration),
    /// Serve (the request takes effect), then send half of the response and close the
    /// connection.
    DropConnection,
    /// A watch that answers 200 and then sends nothing, not even bookmarks.
    StallWatch,
    /// A watch that answers 200 and ends at once.
    CloseWatch,
}

/// A fault to [`inject`](crate::Simulator::inject).
#[derive(Debug, Clone)]
pub struct Fault {
    matcher: FaultMatch,
    action: FaultAction,
}

impl Fault {
    /// Requests with `method` (`*`: any) whose path matches `pattern`: segments separated by
    /// `/`, where `*` matches one segment and a final `**` any number.
    pub fn on(method: &str, pattern: &str) -> FaultMatch {
        FaultMatch {
            method: method.to_ascii_uppercase(),
            pattern: pattern.trim_matches('/').split('/').map(str::to_string).collect(),
            watch: false,
            skip: 0,
            times: None,
        }
    }

    /// Watch requests (`GET …?watch=true`) whose path matches `pattern`.
    pub fn watch(pattern: &str) -> FaultMatch {
        FaultMatch { watch: true, ..Fault::on("GET", pattern) }
    }

    pub fn action(&self) -> &FaultAction {
        &self.action
    }
}

impl FaultMatch {
    /// Only the `n`th matching request (1-based).
    pub fn nth(mut self, n: usize) -> FaultMatch {
        self.skip = n.saturating_sub(1);
        self.times = Some(1);
        self
    }

    /// Only the next `n` matching requests (after those skipped by `nth`).
    pub fn times(mut self, n: usize) -> FaultMatch {
        self.times = Some(n);
        self
    }

    pub fn respond(self, code: u16) -> Fault {
        Fault { matcher: self, action: FaultAction::Respond { code, message: None } }
    }

    pub fn respond_with(self, code: u16, message: &str) -> Fault {
        Fault { matcher: self, action: FaultAction::Respond { code, message: Some(message.into()) } }
    }

    pub fn delay(self, latency: Duration) -> Fault {
        Fault { matcher: self, action: FaultAction::Delay(latency) }
    }

    pub fn drop_connection(self) -> Fault {
        Fault { matcher: self, action: FaultAction::DropConnection }
    }

    pub fn stall(self) -> Fault {
        Fault { matcher: FaultMatch { watch: true, ..self }, action: FaultAction::StallWatch }
    }

    pub fn close(self) -> Fault {
        Fault { matcher: FaultMatch { watch: true, ..self }, action: FaultAction::CloseWatch }
    }

    fn matches(&self, method: &str, path: &str, watch: bool) -> bool {
        if (self.method != "*" && self.method != method) || (self.watch && !watch) {
            return false;
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut i = 0;
        for (n, p) in self.pattern.iter().enumerate() {
            if p == "**" && n + 1 == self.pattern.len() {
                return true;
            }
            match segments.get(i) {
                Some(s) if p == "*" || p == s => i += 1,
                _ => return false,
            }
        }
        i == segments.len()
    }
}

/// What the server does with one request, after every fault had its say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub delay: Duration,
    pub respond: Option<(u16, Option<String>)>,
    pub drop_connection: bool,
    pub watch: Option<FaultAction>,
}

/// The injected faults with how many matching requests each has seen.
#[derive(Default)]
pub struct Faults(Mutex<Vec<(Fault, usize)>>);

impl Faults {
    pub fn inject(&self, fault: Fault) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((fault, 0));
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn plan(&self, method: &str, path: &str, watch: bool) -> Plan {
        let mut plan = Plan::default();
        let mut faults = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (fault, seen) in faults.iter_mut() {
            let m = &fault.matcher;
            if !m.matches(method, path, watch) {
                continue;
            }
            *seen += 1;
            let index = *seen - 1;
            if index < m.skip || m.times.is_some_and(|t| index >= m.skip + t) {
                continue;
            }
            match &fault.action {
                FaultAction::Delay(d) => plan.delay += *d,
                FaultAction::Respond { code, message } if plan.respond.is_none() => {
                    plan.respond = Some((*code, message.clone()));
                }
                FaultAction::DropConnection => plan.drop_connection = true,
                a @ (FaultAction::StallWatch | FaultAction::CloseWatch) if plan.watch.is_none() => {
                    plan.watch = Some(a.clone());
                }
                _ => {}
            }
        }
        plan
    }
}

/// The answer to an injected status code.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    Status(ApiError),
    /// The max-in-flight and priority-and-fairness filters' refusal: plain text with
    /// `Retry-After: 1` (staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go
    /// `tooManyRequests`).
    TooManyRequests,
}

/// The Status kube-apiserver sends with `code` for this request (errors.go constructors),
/// `message` replacing the generated text where given.
pub fn injected(code: u16, message: Option<&str>, info: &RequestInfo) -> Injected {
    let text = |default: String| message.map(str::to_string).unwrap_or(default);
    let status = |reason: &'static str, message: String, details| ApiError { code, reason, message, details };
    let subject = || {
        let resource =
            if info.group.is_empty() { info.resource.clone() } else { format!("{}.{}", info.resource, info.group) };
        if info.name.is_empty() {
            resource
        } else {
            format!("{resource} {}", crate::model::status::go_quote(&info.name))
        }
    };
    let named = || Some(json!({ "name": info.name, "group": info.group, "kind": info.resource }));
    Injected::Status(match code {
        429 => return Injected::TooManyRequests,
        400 => ApiError::bad_request(text("the server rejected our request for an unknown reason".into())),
        401 => crate::auth::unauthorized(),
        // NewForbidden, NewNotFound, NewConflict
        403 => ApiError::forbidden(&info.group, &info.resource, &info.name, &text("injected fault".into())),
        404 => status("NotFound", text(format!("{} not found", subject())), named()),
        409 => {
            status("Conflict", text(format!("Operation cannot be fulfilled on {}: injected fault", subject())), named())
        }
        // NewInternalError
        500 => ApiError::internal(&text("injected fault".into())),
        // NewServiceUnavailable
        503 => status("ServiceUnavailable", text("the server is currently unable to handle the request".into()), None),
        // NewTimeoutError(msg, 0): details without retryAfterSeconds
        504 => status(
            "Timeout",
            format!(
                "Timeout: {}",
                text("request did not complete within requested timeout - context deadline exceeded".into())
            ),
            Some(json!({})),
        ),
        _ => status("", text(format!("injected fault (HTTP {code})")), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments() {
        let m = Fault::on("post", "/api/v1/namespaces/*/secrets");
        assert!(m.matches("POST", "/api/v1/namespaces/ns/secrets", false));
        assert!(!m.matches("POST", "/api/v1/namespaces/ns/secrets/x", false));
        assert!(!m.matches("GET", "/api/v1/namespaces/ns/secrets", false));
        let any = Fault::on("*", "/apis/apps/**");
        assert!(any.matches("PATCH", "/apis/apps/v1/namespaces/a/statefulsets/b", false));
        assert!(!Fault::watch("/api/v1/pods").matches("GET", "/api/v1/pods", false));
    }

    #[test]
    fn nth_fires_once() {
        let faults = Faults::default();
        faults.inject(Fault::on("POST", "/api/v1/namespaces/*/secrets").nth(2).respond(500));
        let plans: Vec<bool> =
            (0..4).map(|_| faults.plan("POST", "/api/v1/namespaces/a/secrets", false).respond.is_some()).collect();
        assert_eq!(plans, [false, true, false, false]);
    }

    #[test]
    fn injected_bodies_are_real_statuses() {
        let info = RequestInfo {
            resource_request: true,
            verb: "create".into(),
            group: "apps".into(),
            resource: "statefulsets".into(),
            namespace: "ns".into(),
            ..Default::default()
        };
        let Injected::Status(e) = injected(500, None, &info) else { panic!("a Status") };
        assert_eq!(e.status()["message"], "Internal error occurred: injected fault");
        assert_eq!(e.status()["reason"], "InternalError");
        assert_eq!(injected(429, None, &info), Injected::TooManyRequests);
    }
}
