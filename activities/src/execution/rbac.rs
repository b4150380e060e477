//! Layer 4, RBAC: before each call, a SelfSubjectAccessReview asks the cluster whether the
//! identity Aetherius runs as may perform exactly this verb on this resource in this
//! namespace. A "no" is a rejection naming the layer and the review's reason; the call is
//! never attempted. Answers are cached briefly per cluster, since a diagnosis asks the same
//! questions many times in a few seconds.

use aetherius_core::safety::{Layer, RbacAttributes, Rejection};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::{Api, Client, api::PostParams};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How long an answer is reused.
pub(crate) const ANSWER_TTL: Duration = Duration::from_secs(60);

type Key = (String, RbacAttributes);
/// An answer (`Err`: why not) and when it was given.
type Answer = (Result<(), String>, Instant);

/// Cached access reviews, shared by the execution activities of one worker.
#[derive(Clone, Default)]
pub(crate) struct AccessReviews {
    answers: Arc<Mutex<HashMap<Key, Answer>>>,
}

impl AccessReviews {
    /// Checks every attribute set of a command on `cluster`, in order. `Ok(Err(..))` is a
    /// rejection; `Err` is a failure to ask (transport, 429, 5xx), never cached, which the
    /// caller retries.
    pub(crate) async fn check(
        &self,
        client: &Client,
        cluster: &str,
        attributes: &[RbacAttributes],
    ) -> Result<Result<(), Rejection>, kube::Error> {
        for attrs in attributes {
            let key = (cluster.to_owned(), attrs.clone());
            let cached = self.answers.lock().expect("rbac cache lock").get(&key).and_then(|(answer, at)| {
                (at.elapsed() < ANSWER_TTL).then(|| answer.clone())
            });
            let answer = match cached {
                Some(a) => a,
                None => {
                    let a = review(client, attrs).await?;
                    self.answers.lock().expect("rbac cache lock").insert(key, (a.clone(), Instant::now()));
                    a
                }
            };
            if let Err(reason) = answer {
                return Ok(Err(Rejection::new(Layer::Rbac, reason)));
            }
        }
        Ok(Ok(()))
    }
}

/// One SelfSubjectAccessReview.
async fn review(client: &Client, attrs: &RbacAttributes) -> Result<Result<(), String>, kube::Error> {
    let spec = SelfSubjectAccessReviewSpec {
        resource_attributes: Some(ResourceAttributes {
            verb: Some(attrs.verb.clone()),
            group: Some(attrs.group.clone()),
            resource: Some(attrs.resource.clone()),
            subresource: attrs.subresource.clone(),
            namespace: attrs.namespace.clone(),
            name: attrs.name.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let review = SelfSubjectAccessReview { spec, ..Default::default() };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = match api.create(&PostParams::default(), &review).await {
        Ok(a) => a,
        // The API server is overloaded or failing: not an answer; the step is retried and
        // nothing is cached.
        Err(kube::Error::Api(status)) if aetherius_core::failure::transient_status(status.code) => {
            return Err(kube::Error::Api(status));
        }
        // The review itself was refused or is not served: fail closed, say why.
        Err(kube::Error::Api(status)) => {
            return Ok(Err(format!("the access review could not be made ({}: {})", status.code, status.message)));
        }
        Err(e) => return Err(e),
    };
    let status = answer.status.unwrap_or_default();
    if status.allowed && !status.denied.unwrap_or(false) {
        return Ok(Ok(()));
    }
    let resource = match &attrs.subresource {
        Some(sub) => format!("{}/{sub}", attrs.resource),
        None => attrs.resource.clone(),
    };
    let group = if attrs.group.is_empty() { String::new() } else { format!(" in API group {:?}", attrs.group) };
    let scope = match &attrs.namespace {
        Some(ns) => format!(" in namespace {ns:?}"),
        None => " cluster-wide".to_owned(),
    };
    let why = status.reason.filter(|r| !r.is_empty()).map(|r| format!(": {r}")).unwrap_or_default();
    Ok(Err(format!("this identity may not {} {resource}{group}{scope}{why}", attrs.verb)))
}
