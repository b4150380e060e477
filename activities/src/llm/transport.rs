//! The HTTP layer under async-openai: a tower service around its reqwest service that turns
//! every non-2xx answer into a typed error carrying the status, the OpenAI error message
//! and `Retry-After` (which async-openai's own error type drops), and the mapping from
//! async-openai's errors to [`LlmError`]. Retries are ours (backon, in `mod.rs`), so
//! async-openai's built-in retry layer is not used.

use super::LlmError;
use async_openai::{
    error::{OpenAIError, WrappedError},
    middleware::{HttpRequestFactory, ReqwestService},
};
use chrono::{DateTime, Utc};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

/// A non-2xx answer.
#[derive(Debug)]
pub(crate) struct HttpStatusError {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) message: String,
}

impl std::fmt::Display for HttpStatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpStatusError {}

/// The service async-openai sends through.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    inner: ReqwestService,
}

impl Transport {
    pub(crate) fn new(client: reqwest::Client) -> Transport {
        Transport { inner: ReqwestService::new(client) }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers(), Utc::now());
            let body = response.text().await.unwrap_or_default();
            let message = match serde_json::from_str::<WrappedError>(&body) {
                Ok(w) => w.error.to_string(),
                Err(_) => cut(body.trim(), 300),
            };
            Err(OpenAIError::Boxed(Box::new(HttpStatusError { status, retry_after, message })))
        })
    }
}

/// `Retry-After` as seconds (integer or decimal) or an HTTP date.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Maps what async-openai returned to a typed error.
pub(crate) fn classify(error: OpenAIError, attempt_timeout: Duration) -> LlmError {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpStatusError>() {
            Ok(e) => status_error(e.status, e.retry_after, e.message),
            Err(other) => match other.downcast::<OpenAIError>() {
                Ok(inner) => classify(*inner, attempt_timeout),
                Err(other) => LlmError::Connection(other.to_string()),
            },
        },
        OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(attempt_timeout),
        OpenAIError::Reqwest(e) if e.is_connect() => LlmError::Connection(error_chain(&e)),
        OpenAIError::Reqwest(e) if e.is_decode() || e.is_body() => LlmError::MalformedResponse(error_chain(&e)),
        OpenAIError::Reqwest(e) => LlmError::Connection(error_chain(&e)),
        OpenAIError::ApiError(e) => status_error(e.status_code.as_u16(), None, e.api_error.to_string()),
        OpenAIError::JSONDeserialize(e, body) => {
            LlmError::MalformedResponse(format!("not a chat completion ({e}); body: {:?}", cut(&body, 200)))
        }
        other => LlmError::MalformedResponse(other.to_string()),
    }
}

fn status_error(status: u16, retry_after: Option<Duration>, message: String) -> LlmError {
    match status {
        429 => LlmError::RateLimited { retry_after, message },
        500..=599 => LlmError::Server { status, message },
        _ => LlmError::Http { status, message },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").unwrap().with_timezone(&Utc);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
