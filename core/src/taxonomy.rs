//! The root-cause taxonomy of SCENARIOS.md. Ids are a contract: never rename one.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

macro_rules! taxonomy {
    ($($variant:ident => $id:literal, $meaning:literal;)*) => {
        /// A root-cause id from the taxonomy (SCENARIOS.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
        pub enum RootCause {
            $(
                #[doc = $meaning]
                #[serde(rename = $id)]
                $variant,
            )*
        }

        impl RootCause {
            /// Every id, in taxonomy order.
            pub const ALL: &'static [RootCause] = &[$(RootCause::$variant),*];

            /// The stable kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self { $(RootCause::$variant => $id,)* }
            }

            /// One-line meaning, as in the taxonomy table.
            pub fn meaning(self) -> &'static str {
                match self { $(RootCause::$variant => $meaning,)* }
            }
        }

        impl FromStr for RootCause {
            type Err = UnknownRootCause;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($id => Ok(RootCause::$variant),)*
                    other => Err(UnknownRootCause(other.to_owned())),
                }
            }
        }
    };
}

taxonomy! {
    OomKilled => "oom-killed", "container killed for exceeding its memory limit (OOMKilled, exit 137)";
    CrashloopAppError => "crashloop-app-error", "the application itself fails at runtime (exception, panic, non-zero exit)";
    CrashloopMissingConfig => "crashloop-missing-config", "fails at start: missing or invalid env var, config file, flag or command";
    CrashloopDependencyUnavailable => "crashloop-dependency-unavailable", "fails because a database / service it needs is unreachable";
    ImagePullNotFound => "image-pull-not-found", "image name or tag does not exist (ErrImagePull / ImagePullBackOff, not found)";
    ImagePullAuth => "image-pull-auth", "registry denies access: missing or wrong imagePullSecret";
    ContainerConfigMissingRef => "container-config-missing-ref", "CreateContainerConfigError: referenced ConfigMap/Secret or key missing";
    VolumeMountFailed => "volume-mount-failed", "FailedMount / FailedAttachVolume: volume source missing or cannot attach";
    PendingInsufficientResources => "pending-insufficient-resources", "unschedulable: not enough cpu / memory / gpu / pods on any node";
    PendingNodeSelectorAffinity => "pending-node-selector-affinity", "unschedulable: nodeSelector, node affinity or pod (anti-)affinity cannot be met";
    PendingTaint => "pending-taint", "unschedulable: nodes have taints the pod does not tolerate";
    PendingPvcUnbound => "pending-pvc-unbound", "pod waits for a PVC that stays Pending (no StorageClass, no matching PV, provisioning failed)";
    QuotaExceeded => "quota-exceeded", "ResourceQuota or LimitRange rejects pod creation (FailedCreate on the ReplicaSet/Job)";
    AdmissionDenied => "admission-denied", "an admission webhook or policy rejects pod creation";
    ReadinessProbeFailing => "readiness-probe-failing", "containers run but never become Ready; readiness probe fails";
    LivenessProbeFailing => "liveness-probe-failing", "containers are restarted by a failing liveness probe";
    ServiceNoEndpoints => "service-no-endpoints", "Service selects no ready pods (selector/label mismatch or no ready backends)";
    ServicePortMismatch => "service-port-mismatch", "Service targetPort does not match any container port";
    NodeNotReady => "node-not-ready", "a node is NotReady / Unknown and workloads on it are affected";
    NodePressureEviction => "node-pressure-eviction", "pods evicted for node disk / memory / pid pressure";
    JobFailed => "job-failed", "Job reached backoffLimit or activeDeadlineSeconds";
    HpaMisconfigured => "hpa-misconfigured", "HPA cannot compute or scale (missing resource requests, metrics unavailable, min=max)";
    RbacForbidden => "rbac-forbidden", "the workload's ServiceAccount lacks a permission it needs (403 in its logs)";
    NetworkPolicyBlocked => "network-policy-blocked", "a NetworkPolicy blocks traffic the workload needs";
    DnsFailure => "dns-failure", "name resolution fails (CoreDNS down, wrong service name, dnsPolicy)";
    IngressMisconfigured => "ingress-misconfigured", "Ingress points at a missing class, Service or port";
    CpuThrottling => "cpu-throttling", "container throttled by its CPU limit, causing latency / probe timeouts";
    RolloutStuck => "rollout-stuck", "Deployment exceeded its progress deadline for a reason not listed above";
    NotAnIssue => "not-an-issue", "the alert is expected or informational (Watchdog, already resolved, healthy target)";
    Unknown => "unknown", "the evidence does not support any cause above";
}

impl fmt::Display for RootCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a taxonomy id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown root-cause id {0:?}")]
pub struct UnknownRootCause(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips_through_str_and_serde() {
        for rc in RootCause::ALL {
            assert_eq!(rc.as_str().parse::<RootCause>().unwrap(), *rc);
            let json = serde_json::to_string(rc).unwrap();
            assert_eq!(json, format!("\"{}\"", rc.as_str()));
        }
    }

    #[test]
    fn taxonomy_has_the_thirty_ids_of_the_contract() {
        assert_eq!(RootCause::ALL.len(), 30);
        assert!("crashloop-app-errors".parse::<RootCause>().is_err());
    }
}
