//! Server-side printing: the `Table` (meta.k8s.io) the API server returns when a client
//! (kubectl) asks for `application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Columns and cells follow k8s.io/kubernetes `pkg/printers/internalversion/printers.go`
//! (generated with `Wide: true`, as the server does; kubectl hides `priority: 1` columns
//! unless `-o wide`). Kinds without a printer get what the server gives them: built-in
//! kinds the default convertor's NAME / CREATED AT, custom resources NAME / AGE. Every age
//! is computed against the scenario's `now`, never the wall clock.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// What a Table row carries besides its cells (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object (`"object": null`).
    None,
    /// The object's metadata as a `PartialObjectMetadata` (the server's default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter (absent or unknown: `Metadata`).
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// One column definition of a Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Header as the server names it (kubectl upper-cases it).
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `boolean`, `date`.
    pub ty: &'static str,
    /// 0: always shown; 1: shown with `-o wide` only.
    pub priority: u8,
    /// Column description.
    pub description: &'static str,
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

const fn col(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column { name, ty, priority: 0, description }
}
const fn wide(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column { name, ty, priority: 1, description }
}
const NAME: Column = col("Name", "string", NAME_DOC);
const AGE: Column = col("Age", "string", AGE_DOC);
const CONTAINERS: Column = wide("Containers", "string", "Names of each container in the template.");
const IMAGES: Column = wide("Images", "string", "Images referenced by each container in the template.");
const SELECTOR: Column = wide("Selector", "string", "A label query over pods.");

/// The printer the API server uses for a (group, kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printer {
    /// core/v1 Pod.
    Pod,
    /// core/v1 ReplicationController.
    ReplicationController,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// batch/v1 Job.
    Job,
    /// batch/v1 CronJob.
    CronJob,
    /// core/v1 Service.
    Service,
    /// core/v1 Endpoints.
    Endpoints,
    /// discovery.k8s.io EndpointSlice.
    EndpointSlice,
    /// core/v1 Node.
    Node,
    /// core/v1 Event.
    Event,
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 Secret.
    Secret,
    /// core/v1 ServiceAccount.
    ServiceAccount,
    /// core/v1 PersistentVolume.
    PersistentVolume,
    /// core/v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 ResourceQuota.
    ResourceQuota,
    /// autoscaling HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// networking.k8s.io Ingress.
    Ingress,
    /// networking.k8s.io IngressClass.
    IngressClass,
    /// networking.k8s.io NetworkPolicy.
    NetworkPolicy,
    /// storage.k8s.io StorageClass.
    StorageClass,
    /// policy PodDisruptionBudget.
    PodDisruptionBudget,
    /// rbac RoleBinding and ClusterRoleBinding.
    RoleBinding,
    /// coordination.k8s.io Lease.
    Lease,
    /// A built-in kind without a printer: the default convertor (NAME, CREATED AT).
    Default,
    /// A custom resource without printer columns (NAME, AGE).
    Custom,
}

/// API groups the API server itself serves, from typed Go structs (everything else is a
/// custom resource or an aggregated API; metrics-server's group is typed too).
pub(crate) const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "metrics.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

impl Printer {
    /// The printer for objects of `kind` in API group `group`.
    pub fn for_kind(group: &str, kind: &str) -> Printer {
        match (group, kind) {
            ("", "Pod") => Printer::Pod,
            ("", "ReplicationController") => Printer::ReplicationController,
            ("apps", "ReplicaSet") => Printer::ReplicaSet,
            ("apps", "Deployment") => Printer::Deployment,
            ("apps", "StatefulSet") => Printer::StatefulSet,
            ("apps", "DaemonSet") => Printer::DaemonSet,
            ("batch", "Job") => Printer::Job,
            ("batch", "CronJob") => Printer::CronJob,
            ("", "Service") => Printer::Service,
            ("", "Endpoints") => Printer::Endpoints,
            ("discovery.k8s.io", "EndpointSlice") => Printer::EndpointSlice,
            ("", "Node") => Printer::Node,
            ("" | "events.k8s.io", "Event") => Printer::Event,
            ("", "Namespace") => Printer::Namespace,
            ("", "Secret") => Printer::Secret,
            ("", "ServiceAccount") => Printer::ServiceAccount,
            ("", "PersistentVolume") => Printer::PersistentVolume,
            ("", "PersistentVolumeClaim") => Printer::PersistentVolumeClaim,
            ("", "ConfigMap") => Printer::ConfigMap,
            ("", "ResourceQuota") => Printer::ResourceQuota,
            ("autoscaling", "HorizontalPodAutoscaler") => Printer::HorizontalPodAutoscaler,
            ("networking.k8s.io", "Ingress") => Printer::Ingress,
            ("networking.k8s.io", "IngressClass") => Printer::IngressClass,
            ("networking.k8s.io", "NetworkPolicy") => Printer::NetworkPolicy,
            ("storage.k8s.io", "StorageClass") => Printer::StorageClass,
            ("policy", "PodDisruptionBudget") => Printer::PodDisruptionBudget,
            ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => Printer::RoleBinding,
            ("coordination.k8s.io", "Lease") => Printer::Lease,
            (g, _) if BUILTIN_GROUPS.contains(&g) => Printer::Default,
            _ => Printer::Custom,
        }
    }

    /// The column definitions, wide ones included.
    pub fn columns(self) -> Vec<Column> {
        let status = |d| col("Status", "string", d);
        match self {
            Printer::Pod => vec![
                NAME,
                col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
                status("The aggregate status of the containers in this pod."),
                col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                AGE,
                wide("IP", "string", "podIP address allocated to the pod."),
                wide("Node", "string", "NodeName indicates in which node this pod is scheduled."),
                wide("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node."),
                wide("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness."),
            ],
            Printer::ReplicationController | Printer::ReplicaSet => vec![
                NAME,
                col("Desired", "integer", "Replicas is the number of desired replicas."),
                col("Current", "integer", "Replicas is the most recently observed number of replicas."),
                col("Ready", "integer", "The number of ready replicas for this replica set."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::Deployment => vec![
                NAME,
                col("Ready", "string", "Number of the pod with ready state"),
                col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::StatefulSet => {
                vec![NAME, col("Ready", "string", "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES]
            }
            Printer::DaemonSet => vec![
                NAME,
                col("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
                col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
                col("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
                col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
                col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
                col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::Job => vec![
                NAME,
                status("Status of the job."),
                col("Completions", "string", "The number of pods which reached phase Succeeded."),
                col("Duration", "string", "Time required to complete the job."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::CronJob => vec![
                NAME,
                col("Schedule", "string", "The schedule in Cron format."),
                col("Timezone", "string", "The time zone name for the given schedule."),
                col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
                col("Active", "integer", "A list of pointers to currently running jobs."),
                col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
                AGE,
                CONTAINERS,
                IMAGES,
                SELECTOR,
            ],
            Printer::Service => vec![
                NAME,
                col("Type", "string", "type determines how the Service is exposed."),
                col("Cluster-IP", "string", "clusterIP is the IP address of the service."),
                col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                col("Port(s)", "string", "The list of ports that are exposed by this service."),
                AGE,
                wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
            ],
            Printer::Endpoints => vec![
                NAME,
                col("Endpoints", "string", "The set of all endpoints is the union of all subsets."),
                AGE,
            ],
            Printer::EndpointSlice => vec![
                NAME,
                col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice."),
                col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
                col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
                AGE,
            ],
            Printer::Node => vec![
                NAME,
                status("The status of the node"),
                col("Roles", "string", "The roles of the node"),
                AGE,
                col("Version", "string", "Kubelet Version reported by the node."),
                wide("Internal-IP", "string", "List of addresses reachable to the node."),
                wide("External-IP", "string", "List of addresses reachable to the node."),
                wide("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
                wide("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
                wide("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
            ],
            Printer::Event => vec![
                col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
                col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
                col("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
                col("Object", "string", "The object that this event is about."),
                wide("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement."),
                wide("Source", "string", "The component reporting this event."),
                col("Message", "string", "A human-readable description of the status of this operation."),
                wide("First Seen", "string", "The time at which the event was first recorded."),
                wide("Count", "string", "The number of times this event has occurred."),
                wide("Name", "string", NAME_DOC),
            ],
            Printer::Namespace => vec![NAME, status("The status of the namespace"), AGE],
            Printer::Secret => vec![
                NAME,
                col("Type", "string", "Used to facilitate programmatic handling of secret data."),
                col("Data", "string", "Data contains the secret data."),
                AGE,
            ],
            Printer::ServiceAccount => vec![
                NAME,
                col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
                AGE,
            ],
            Printer::PersistentVolume => vec![
                NAME,
                col("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity."),
                col("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
                col("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
                status("phase indicates if a volume is available, bound to a claim, or released by a claim."),
                col("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
                col("StorageClass", "string", "StorageClass of the pv"),
                col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
                col("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
                AGE,
                wide("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
            ],
            Printer::PersistentVolumeClaim => vec![
                NAME,
                status("phase represents the current phase of PersistentVolumeClaim."),
                col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
                col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
                col("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has."),
                col("StorageClass", "string", "StorageClass of the pvc"),
                col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
                AGE,
                wide("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim."),
            ],
            Printer::ConfigMap => vec![NAME, col("Data", "string", "Data contains the configuration data."), AGE],
            Printer::ResourceQuota => vec![
                NAME,
                col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
                col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
                AGE,
            ],
            Printer::HorizontalPodAutoscaler => vec![
                NAME,
                col("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource."),
                col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count."),
                col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
                col("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
                col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler."),
                AGE,
            ],
            Printer::Ingress => vec![
                NAME,
                col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
                col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
                col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
                col("Ports", "string", "Ports of TLS configurations that open"),
                AGE,
            ],
            Printer::IngressClass => vec![
                NAME,
                col("Controller", "string", "Controller that is responsible for handling this class"),
                col("Parameters", "string", "A reference to a resource with additional parameters"),
                AGE,
            ],
            Printer::NetworkPolicy => vec![
                NAME,
                col("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies."),
                AGE,
            ],
            Printer::StorageClass => vec![
                NAME,
                col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
                col("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."),
                col("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
                col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
                AGE,
            ],
            Printer::PodDisruptionBudget => vec![
                NAME,
                col("Min Available", "string", "The minimum number of pods that must be available."),
                col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
                col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
                AGE,
            ],
            Printer::RoleBinding => vec![
                NAME,
                col("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
                AGE,
                wide("Users", "string", "Users in the roleBinding"),
                wide("Groups", "string", "Groups in the roleBinding"),
                wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
            ],
            Printer::Lease => vec![
                NAME,
                col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."),
                AGE,
            ],
            Printer::Default => vec![NAME, col("Created At", "date", AGE_DOC)],
            Printer::Custom => vec![NAME, col("Age", "date", AGE_DOC)],
        }
    }

    /// The cells of one object's row, wide ones included, and the row's conditions.
    pub fn row(self, o: &Value, now: DateTime<Utc>) -> (Vec<Value>, Option<Value>) {
        let name = json!(s(o, "/metadata/name"));
        let age = json!(since(ts(o, "/metadata/creationTimestamp"), now));
        let cells = match self {
            Printer::Pod => return pod_row(o, now),
            Printer::ReplicationController => {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name,
                    json!(int_or(o, "/spec/replicas", 1)),
                    json!(int(o, "/status/replicas")),
                    json!(int(o, "/status/readyReplicas")),
                    age,
                    json!(names),
                    json!(images),
                    json!(format_labels(o.pointer("/spec/selector"))),
                ]
            }
            Printer::ReplicaSet => {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name,
                    json!(int_or(o, "/spec/replicas", 1)),
                    json!(int(o, "/status/replicas")),
                    json!(int(o, "/status/readyReplicas")),
                    age,
                    json!(names),
                    json!(images),
                    json!(format_label_selector(o.pointer("/spec/selector"))),
                ]
            }
            Printer::Deployment => {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name,
                    json!(format!("{}/{}", int(o, "/status/readyReplicas"), int_or(o, "/spec/replicas", 1))),
                    json!(int(o, "/status/updatedReplicas")),
                    json!(int(o, "/status/availableReplicas")),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector_string(o.pointer("/spec/selector")).unwrap_or_else(|| "<invalid>".into())),
                ]
            }
            Printer::StatefulSet => {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                let ready = format!("{}/{}", int(o, "/status/readyReplicas"), int_or(o, "/spec/replicas", 1));
                vec![name, json!(ready), age, json!(names), json!(images)]
            }
            Printer::DaemonSet => {
                let (names, images) = containers(o, "/spec/template/spec/containers");
                vec![
                    name,
                    json!(int(o, "/status/desiredNumberScheduled")),
                    json!(int(o, "/status/currentNumberScheduled")),
                    json!(int(o, "/status/numberReady")),
                    json!(int(o, "/status/updatedNumberScheduled")),
                    json!(int(o, "/status/numberAvailable")),
                    json!(format_labels(o.pointer("/spec/template/spec/nodeSelector"))),
                    age,
                    json!(names),
                    json!(images),
                    json!(format_label_selector(o.pointer("/spec/selector"))),
                ]
            }
            Printer::Job => job_row(o, now, name, age),
            Printer::CronJob => {
                let (names, images) = containers(o, "/spec/jobTemplate/spec/template/spec/containers");
                let last = match ts(o, "/status/lastScheduleTime") {
                    Some(t) => since(Some(t), now),
                    None => "<none>".into(),
                };
                let suspend = match o.pointer("/spec/suspend").and_then(Value::as_bool) {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                vec![
                    name,
                    json!(s(o, "/spec/schedule")),
                    json!(nonempty(o, "/spec/timeZone").unwrap_or("<none>")),
                    json!(suspend),
                    json!(arr(o, "/status/active").len()),
                    json!(last),
                    age,
                    json!(names),
                    json!(images),
                    json!(format_label_selector(o.pointer("/spec/jobTemplate/spec/selector"))),
                ]
            }
            Printer::Service => service_row(o, name, age),
            Printer::Endpoints => vec![name, json!(format_endpoints(o)), age],
            Printer::EndpointSlice => {
                let ports: Vec<String> = arr(o, "/ports")
                    .iter()
                    .map(|p| match (p.get("port").and_then(Value::as_i64), nonempty(p, "/name")) {
                        (Some(n), _) => n.to_string(),
                        (None, Some(n)) => n.to_owned(),
                        (None, None) => "*".into(),
                    })
                    .collect();
                let addresses: Vec<String> = arr(o, "/endpoints")
                    .iter()
                    .flat_map(|e| arr(e, "/addresses").iter().map(|a| a.as_str().unwrap_or_default().to_owned()))
                    .collect();
                vec![
                    name,
                    json!(s(o, "/addressType")),
                    json!(list_with_more(&ports, 3)),
                    json!(list_with_more(&addresses, 3)),
                    age,
                ]
            }
            Printer::Node => node_row(o, name, age),
            Printer::Event => event_row(o, now),
            Printer::Namespace => vec![name, json!(s(o, "/status/phase")), age],
            Printer::Secret => {
                vec![name, json!(s(o, "/type")), json!(map_len(o, "/data")), age]
            }
            Printer::ServiceAccount => vec![name, json!(arr(o, "/secrets").len()), age],
            Printer::PersistentVolume => {
                let claim = match o.pointer("/spec/claimRef").filter(|c| c.is_object()) {
                    Some(c) => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
                    None => String::new(),
                };
                let phase = if deleting(o) { "Terminating" } else { s(o, "/status/phase") };
                vec![
                    name,
                    json!(quantity_or(o.pointer("/spec/capacity/storage"), "0")),
                    json!(access_modes(arr(o, "/spec/accessModes"))),
                    json!(s(o, "/spec/persistentVolumeReclaimPolicy")),
                    json!(phase),
                    json!(claim),
                    json!(storage_class(o, "/spec/storageClassName")),
                    json!(nonempty(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
                    json!(s(o, "/status/reason")),
                    age,
                    json!(nonempty(o, "/spec/volumeMode").unwrap_or("<unset>")),
                ]
            }
            Printer::PersistentVolumeClaim => {
                let phase = if deleting(o) { "Terminating" } else { s(o, "/status/phase") };
                let volume = s(o, "/spec/volumeName");
                let (capacity, modes) = if volume.is_empty() {
                    (String::new(), String::new())
                } else {
                    (
                        quantity_or(o.pointer("/status/capacity/storage"), "0"),
                        access_modes(arr(o, "/status/accessModes")),
                    )
                };
                vec![
                    name,
                    json!(phase),
                    json!(volume),
                    json!(capacity),
                    json!(modes),
                    json!(storage_class(o, "/spec/storageClassName")),
                    json!(nonempty(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
                    age,
                    json!(nonempty(o, "/spec/volumeMode").unwrap_or("<unset>")),
                ]
            }
            Printer::ConfigMap => vec![name, json!(map_len(o, "/data") + map_len(o, "/binaryData")), age],
            Printer::ResourceQuota => {
                let hard = o.pointer("/status/hard").and_then(Value::as_object);
                let mut keys: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
                keys.sort();
                let (mut requests, mut limits) = (vec![], vec![]);
                for k in keys {
                    let used = quantity_or(o.pointer("/status/used").and_then(|u| u.get(k.as_str())), "0");
                    let max = quantity_or(hard.and_then(|h| h.get(k.as_str())), "0");
                    let entry = format!("{k}: {used}/{max}");
                    let pieces: Vec<&str> = k.split('.').collect();
                    if pieces.len() > 1 && pieces[0] == "limits" {
                        limits.push(entry);
                    } else {
                        requests.push(entry);
                    }
                }
                vec![name, json!(requests.join(", ")), json!(limits.join(", ")), age]
            }
            Printer::HorizontalPodAutoscaler => {
                let reference = format!("{}/{}", s(o, "/spec/scaleTargetRef/kind"), s(o, "/spec/scaleTargetRef/name"));
                let min = match o.pointer("/spec/minReplicas").and_then(Value::as_i64) {
                    Some(m) => m.to_string(),
                    None => "<unset>".into(),
                };
                vec![
                    name,
                    json!(reference),
                    json!(hpa_metrics(o)),
                    json!(min),
                    json!(int(o, "/spec/maxReplicas")),
                    json!(int(o, "/status/currentReplicas")),
                    age,
                ]
            }
            Printer::Ingress => {
                let rules = arr(o, "/spec/rules");
                let mut hosts: Vec<&str> = vec![];
                let mut more = false;
                for rule in rules {
                    if hosts.len() == 3 {
                        more = true;
                    }
                    if let Some(h) = nonempty(rule, "/host").filter(|_| !more) {
                        hosts.push(h);
                    }
                }
                let hosts = match (hosts.is_empty(), more) {
                    (true, _) => "*".to_owned(),
                    (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
                    (false, false) => hosts.join(","),
                };
                let ports = if arr(o, "/spec/tls").is_empty() { "80" } else { "80, 443" };
                vec![
                    name,
                    json!(nonempty(o, "/spec/ingressClassName").unwrap_or("<none>")),
                    json!(hosts),
                    json!(load_balancer_addresses(o.pointer("/status/loadBalancer/ingress"))),
                    json!(ports),
                    age,
                ]
            }
            Printer::IngressClass => {
                let parameters = match o.pointer("/spec/parameters").filter(|p| p.is_object()) {
                    Some(p) => {
                        let mut out = s(p, "/kind").to_owned();
                        if let Some(g) = p.get("apiGroup").and_then(Value::as_str) {
                            out = format!("{out}.{g}");
                        }
                        format!("{out}/{}", s(p, "/name"))
                    }
                    None => "<none>".into(),
                };
                vec![name, json!(s(o, "/spec/controller")), json!(parameters), age]
            }
            Printer::NetworkPolicy => {
                // podSelector is a struct, never nil: an absent one is the empty selector.
                let selector = o.pointer("/spec/podSelector").cloned().unwrap_or_else(|| json!({}));
                vec![name, json!(format_label_selector(Some(&selector))), age]
            }
            Printer::StorageClass => {
                let default = ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
                    .iter()
                    .any(|a| o.pointer("/metadata/annotations").and_then(|m| m.get(*a)).and_then(Value::as_str) == Some("true"));
                let shown = if default { format!("{} (default)", s(o, "/metadata/name")) } else { s(o, "/metadata/name").to_owned() };
                vec![
                    json!(shown),
                    json!(s(o, "/provisioner")),
                    json!(nonempty(o, "/reclaimPolicy").unwrap_or("Delete")),
                    json!(nonempty(o, "/volumeBindingMode").unwrap_or("Immediate")),
                    json!(o.get("allowVolumeExpansion").and_then(Value::as_bool).unwrap_or(false)),
                    age,
                ]
            }
            Printer::PodDisruptionBudget => {
                let int_or_string = |p: &str| match o.pointer(p) {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(v)) => v.clone(),
                    _ => "N/A".into(),
                };
                vec![
                    name,
                    json!(int_or_string("/spec/minAvailable")),
                    json!(int_or_string("/spec/maxUnavailable")),
                    json!(int(o, "/status/disruptionsAllowed")),
                    age,
                ]
            }
            Printer::RoleBinding => {
                let (mut users, mut groups, mut sas) = (vec![], vec![], vec![]);
                for subject in arr(o, "/subjects") {
                    match s(subject, "/kind") {
                        "User" => users.push(s(subject, "/name").to_owned()),
                        "Group" => groups.push(s(subject, "/name").to_owned()),
                        "ServiceAccount" => sas.push(format!("{}/{}", s(subject, "/namespace"), s(subject, "/name"))),
                        _ => {}
                    }
                }
                vec![
                    name,
                    json!(format!("{}/{}", s(o, "/roleRef/kind"), s(o, "/roleRef/name"))),
                    age,
                    json!(users.join(", ")),
                    json!(groups.join(", ")),
                    json!(sas.join(", ")),
                ]
            }
            Printer::Lease => vec![name, json!(s(o, "/spec/holderIdentity")), age],
            Printer::Default => {
                // The default convertor prints the timestamp itself (Go's zero time when unset).
                let created = ts(o, "/metadata/creationTimestamp")
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
                vec![name, json!(created)]
            }
            Printer::Custom => vec![name, age],
        };
        (cells, None)
    }
}

/// A `Table` of `items` (all of one kind) as the API server returns it.
pub fn table(
    printer: Printer,
    items: &[&Value],
    now: DateTime<Utc>,
    include: IncludeObject,
    meta_version: &str,
    list_metadata: Value,
) -> Value {
    let columns: Vec<Value> = printer
        .columns()
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "type": c.ty, "format": if c.name == "Name" { "name" } else { "" },
                "description": c.description, "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let (cells, conditions) = printer.row(o, now);
            let object = match include {
                IncludeObject::None => Value::Null,
                IncludeObject::Metadata => partial_object_metadata(o, meta_version),
                IncludeObject::Object => (*o).clone(),
            };
            let mut row = json!({"cells": cells, "object": object});
            if let Some(c) = conditions {
                row["conditions"] = c;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": list_metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// An object reduced to its metadata (`PartialObjectMetadata`).
pub fn partial_object_metadata(o: &Value, meta_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": o.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// READY, STATUS and RESTARTS of a pod, as `kubectl get pods` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// `ready/total` containers (restartable init containers count).
    pub ready: String,
    /// The aggregate status (`Running`, `CrashLoopBackOff`, `Init:0/1`, `Terminating`, ...).
    pub status: String,
    /// Restart count, with `(<age> ago)` of the last restart when there was one.
    pub restarts: String,
}

/// The pod printer's READY / STATUS / RESTARTS logic (printPod in printers.go).
pub fn pod_summary(pod: &Value, now: DateTime<Utc>) -> PodSummary {
    let init_specs = arr(pod, "/spec/initContainers");
    let restartable =
        |name: &str| init_specs.iter().any(|c| s(c, "/name") == name && s(c, "/restartPolicy") == "Always");
    let total = arr(pod, "/spec/containers").len()
        + init_specs.iter().filter(|c| s(c, "/restartPolicy") == "Always").count();
    let phase = s(pod, "/status/phase");
    let mut reason = nonempty(pod, "/status/reason").unwrap_or(phase).to_owned();
    if arr(pod, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut ready = 0usize;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_restartable_restart: Option<DateTime<Utc>> = None;
    let later = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let mut initializing = false;
    for (i, c) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        let count = int(c, "/restartCount");
        let finished = ts(c, "/lastState/terminated/finishedAt");
        restarts += count;
        last_restart = later(last_restart, finished);
        let is_restartable = restartable(s(c, "/name"));
        if is_restartable {
            restartable_restarts += count;
            last_restartable_restart = later(last_restartable_restart, finished);
        }
        let terminated = object(c, "/state/terminated");
        let waiting = object(c, "/state/waiting");
        if terminated.is_some_and(|t| int(t, "/exitCode") == 0) {
            continue;
        }
        if is_restartable && c.get("started").and_then(Value::as_bool) == Some(true) {
            if c.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match nonempty(t, "/reason") {
                Some(r) => format!("Init:{r}"),
                None if int(t, "/signal") != 0 => format!("Init:Signal:{}", int(t, "/signal")),
                None => format!("Init:ExitCode:{}", int(t, "/exitCode")),
            }
        } else if let Some(r) = waiting.and_then(|w| nonempty(w, "/reason")).filter(|r| *r != "PodInitializing") {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    let initialized = arr(pod, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "Initialized" && s(c, "/status") == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for c in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += int(c, "/restartCount");
            last_restart = later(last_restart, ts(c, "/lastState/terminated/finishedAt"));
            let terminated = object(c, "/state/terminated");
            if let Some(r) = object(c, "/state/waiting").and_then(|w| nonempty(w, "/reason")) {
                reason = r.to_owned();
            } else if let Some(t) = terminated {
                reason = match nonempty(t, "/reason") {
                    Some(r) => r.to_owned(),
                    None if int(t, "/signal") != 0 => format!("Signal:{}", int(t, "/signal")),
                    None => format!("ExitCode:{}", int(t, "/exitCode")),
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true) && object(c, "/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready =
                arr(pod, "/status/conditions").iter().any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }

    if deleting(pod) && s(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting(pod) && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };
    PodSummary { ready: format!("{ready}/{total}"), status: reason, restarts }
}

fn pod_row(pod: &Value, now: DateTime<Utc>) -> (Vec<Value>, Option<Value>) {
    let summary = pod_summary(pod, now);
    let conditions = match s(pod, "/status/phase") {
        "Succeeded" => Some(json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])),
        "Failed" => Some(json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}])),
        _ => None,
    };
    // The v1 → internal conversion fills podIPs from podIP.
    let ip = arr(pod, "/status/podIPs")
        .first()
        .and_then(|p| nonempty(p, "/ip"))
        .or_else(|| nonempty(pod, "/status/podIP"))
        .unwrap_or("<none>");
    let gates = arr(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conditions = arr(pod, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|g| {
                let ty = s(g, "/conditionType");
                conditions.iter().find(|c| s(c, "/type") == ty).is_some_and(|c| s(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let cells = vec![
        json!(s(pod, "/metadata/name")),
        json!(summary.ready),
        json!(summary.status),
        json!(summary.restarts),
        json!(since(ts(pod, "/metadata/creationTimestamp"), now)),
        json!(ip),
        json!(nonempty(pod, "/spec/nodeName").unwrap_or("<none>")),
        json!(nonempty(pod, "/status/nominatedNodeName").unwrap_or("<none>")),
        json!(readiness_gates),
    ];
    (cells, conditions)
}

fn job_row(o: &Value, now: DateTime<Utc>, name: Value, age: Value) -> Vec<Value> {
    let succeeded = int(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(o, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (ts(o, "/status/startTime"), ts(o, "/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    // hasJobCondition: the first condition of that type decides.
    let has = |ty: &str| {
        arr(o, "/status/conditions").iter().find(|c| s(c, "/type") == ty).is_some_and(|c| s(c, "/status") == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if deleting(o) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        name,
        json!(status),
        json!(completions),
        json!(duration),
        age,
        json!(names),
        json!(images),
        json!(format_label_selector(o.pointer("/spec/selector"))),
    ]
}

fn service_row(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let ty = nonempty(o, "/spec/type").unwrap_or("ClusterIP");
    // The v1 → internal conversion fills clusterIPs from clusterIP.
    let cluster_ip = arr(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .or_else(|| nonempty(o, "/spec/clusterIP"))
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = arr(o, "/spec/externalIPs").iter().filter_map(Value::as_str).collect();
    let external = match ty {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let lb = load_balancer_addresses(o.pointer("/status/loadBalancer/ingress"));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = if lb.is_empty() { vec![] } else { lb.split(',').collect() };
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => s(o, "/spec/externalName").to_owned(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = nonempty(p, "/protocol").unwrap_or("TCP");
            match int(p, "/nodePort") {
                n if n > 0 => format!("{}:{n}/{protocol}", int(p, "/port")),
                _ => format!("{}/{protocol}", int(p, "/port")),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") };
    vec![
        name,
        json!(ty),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        age,
        json!(format_labels(o.pointer("/spec/selector"))),
    ]
}

fn node_row(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let mut status = match arr(o, "/status/conditions").iter().rev().find(|c| s(c, "/type") == "Ready") {
        Some(c) if s(c, "/status") == "True" => vec!["Ready"],
        Some(_) => vec!["NotReady"],
        None => vec!["Unknown"],
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = o.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/").filter(|r| !r.is_empty()) {
                roles.insert(role.to_owned());
            } else if k == "kubernetes.io/role" && v.as_str().is_some_and(|v| !v.is_empty()) {
                roles.insert(v.as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let roles = if roles.is_empty() { "<none>".to_owned() } else { roles.into_iter().collect::<Vec<_>>().join(",") };
    let address = |ty: &str| {
        arr(o, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map(|a| s(a, "/address"))
            .unwrap_or("<none>")
            .to_owned()
    };
    let info = |f: &str| nonempty(o, &format!("/status/nodeInfo/{f}")).unwrap_or("<unknown>").to_owned();
    vec![
        name,
        json!(status.join(",")),
        json!(roles),
        age,
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn event_row(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let first = match ts(o, "/firstTimestamp") {
        Some(t) => since(Some(t), now),
        None => since(ts(o, "/eventTime"), now),
    };
    let mut last = match ts(o, "/lastTimestamp") {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int(o, "/count");
    if let Some(series) = object(o, "/series") {
        last = since(ts(series, "/lastObservedTime"), now);
        count = int(series, "/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = s(o, "/involvedObject/kind").to_ascii_lowercase();
    let target = match nonempty(o, "/involvedObject/name") {
        Some(n) => format!("{kind}/{n}"),
        None => kind,
    };
    let component = nonempty(o, "/source/component").or_else(|| nonempty(o, "/reportingComponent")).unwrap_or("");
    let source = match nonempty(o, "/source/host").or_else(|| nonempty(o, "/reportingInstance")) {
        Some(instance) => format!("{component}, {instance}"),
        None => component.to_owned(),
    };
    vec![
        json!(last),
        json!(s(o, "/type")),
        json!(s(o, "/reason")),
        json!(target),
        json!(s(o, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(o, "/message").trim()),
        json!(first),
        json!(count),
        json!(s(o, "/metadata/name")),
    ]
}

/// Endpoints column: up to three `ip:port`, then `+ N more...` (formatEndpoints).
fn format_endpoints(o: &Value) -> String {
    let subsets = arr(o, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::<String>::new(), false, 0usize);
    for ss in subsets {
        let addresses = arr(ss, "/addresses");
        let ports = arr(ss, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(s(a, "/ip").to_owned());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = s(a, "/ip");
                let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_owned() };
                list.push(format!("{host}:{}", int(port, "/port")));
            }
        }
    }
    let joined = list.join(",");
    if more { format!("{joined} + {} more...", count - MAX) } else { joined }
}

/// listWithMoreString: up to `max` items, `<unset>` when none.
fn list_with_more(items: &[String], max: usize) -> String {
    let shown = &items[..items.len().min(max)];
    let joined = shown.join(",");
    if items.len() > max {
        format!("{joined} + {} more...", items.len() - max)
    } else if joined.is_empty() {
        "<unset>".into()
    } else {
        joined
    }
}

/// IPs / hostnames of a load balancer status, sorted and deduplicated.
fn load_balancer_addresses(ingress: Option<&Value>) -> String {
    let set: BTreeSet<&str> = ingress
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| nonempty(i, "/ip").or_else(|| nonempty(i, "/hostname")))
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// TARGETS of an HPA (formatHPAMetrics), from autoscaling/v2 or v1 fields.
fn hpa_metrics(o: &Value) -> String {
    let mut specs = arr(o, "/spec/metrics").to_vec();
    let mut statuses = arr(o, "/status/currentMetrics").to_vec();
    if specs.is_empty() {
        // autoscaling/v1: the conversion turns targetCPUUtilizationPercentage into a metric.
        if let Some(target) = o.pointer("/spec/targetCPUUtilizationPercentage").and_then(Value::as_i64) {
            specs.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}));
            if let Some(current) = o.pointer("/status/currentCPUUtilizationPercentage").and_then(Value::as_i64) {
                statuses.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}));
            }
        }
    }
    if specs.is_empty() {
        return "<none>".into();
    }
    let q = |v: Option<&Value>| quantity_or(v, "<nil>");
    let mut list: Vec<String> = vec![];
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let current_of = |field: &str, p: &str| status.and_then(|st| object(st, field)).and_then(|m| m.pointer(p));
        let entry = match s(spec, "/type") {
            "External" | "Object" => {
                let field = if s(spec, "/type") == "External" { "/external" } else { "/object" };
                let target = spec.pointer(field).and_then(|f| object(f, "/target"));
                match target.and_then(|t| t.get("averageValue")).filter(|v| !v.is_null()) {
                    Some(avg) => {
                        let current = current_of(field, "/current/averageValue").filter(|v| !v.is_null());
                        let current = current.map_or("<unknown>".into(), |c| q(Some(c)));
                        format!("{current}/{} (avg)", q(Some(avg)))
                    }
                    None => {
                        let current = match status.and_then(|st| object(st, field)) {
                            Some(m) => q(m.pointer("/current/value")),
                            None => "<unknown>".into(),
                        };
                        format!("{current}/{}", q(target.and_then(|t| t.get("value"))))
                    }
                }
            }
            "Pods" => {
                let current = match status.and_then(|st| object(st, "/pods")) {
                    Some(m) => q(m.pointer("/current/averageValue")),
                    None => "<unknown>".into(),
                };
                format!("{current}/{}", q(spec.pointer("/pods/target/averageValue")))
            }
            ty @ ("Resource" | "ContainerResource") => {
                let field = if ty == "Resource" { "/resource" } else { "/containerResource" };
                let metric = spec.pointer(field).cloned().unwrap_or(Value::Null);
                let resource = s(&metric, "/name");
                match metric.pointer("/target/averageValue").filter(|v| !v.is_null()) {
                    Some(avg) => {
                        let current = match status.and_then(|st| object(st, field)) {
                            Some(m) => q(m.pointer("/current/averageValue")),
                            None => "<unknown>".into(),
                        };
                        format!("{resource}: {current}/{}", q(Some(avg)))
                    }
                    None => {
                        let current = current_of(field, "/current/averageUtilization")
                            .and_then(Value::as_i64)
                            .map_or("<unknown>".into(), |u| format!("{u}%"));
                        let target = metric
                            .pointer("/target/averageUtilization")
                            .and_then(Value::as_i64)
                            .map_or("<auto>".into(), |u| format!("{u}%"));
                        format!("{resource}: {current}/{target}")
                    }
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > 2 {
        list.truncate(2);
        format!("{} + {} more...", list.join(", "), count - 2)
    } else {
        list.join(", ")
    }
}

/// GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, deduplicated.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(m, _)| has(m))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// Storage class of a PV/PVC: the beta annotation first, then the field.
fn storage_class<'a>(o: &'a Value, field: &str) -> &'a str {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(o, field))
}

/// labels.FormatLabels: `k=v,...` sorted by key, `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| format!("{k}={}", m[k].as_str().unwrap_or_default())).collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() { "<none>".into() } else { pairs.join(",") }
}

/// metav1.FormatLabelSelector: the selector's string, `<none>` when it selects all or
/// nothing, `<error>` when it has an unknown operator.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// LabelSelectorAsSelector(...).String(); None for an invalid operator.
fn label_selector_string(selector: Option<&Value>) -> Option<String> {
    let Some(sel) = selector.filter(|s| s.is_object()) else {
        return Some(String::new());
    };
    let mut reqs: Vec<(String, String)> = vec![];
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in arr(sel, "/matchExpressions") {
        let key = s(e, "/key");
        let mut values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Some(reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(","))
}

/// Container names and images of a pod template, comma-separated.
fn containers(o: &Value, pointer: &str) -> (String, String) {
    let cs = arr(o, pointer);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// translateTimestampSince against `now`; `<unknown>` for an unset time.
fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

/// k8s.io/apimachinery/pkg/util/duration.HumanDuration.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

fn deleting(o: &Value) -> bool {
    o.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// A quantity as written (YAML may have parsed `2` as a number), or `default` when unset.
fn quantity_or(v: Option<&Value>, default: &str) -> String {
    match v {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => default.into(),
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn nonempty<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn int(v: &Value, pointer: &str) -> i64 {
    int_or(v, pointer, 0)
}

fn int_or(v: &Value, pointer: &str, default: i64) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(default)
}

fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn map_len(v: &Value, pointer: &str) -> usize {
    v.pointer(pointer).and_then(Value::as_object).map_or(0, Map::len)
}

/// A set (non-null) sub-object.
fn object<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    v.pointer(pointer).filter(|o| o.is_object())
}

fn ts(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-20T10:06:00Z".parse().unwrap()
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": "2026-11-20T09:00:00Z"}, "spec": spec, "status": status})
    }

    fn one(name: &str) -> Value {
        json!({"containers": [{"name": name}]})
    }

    fn summary(p: &Value) -> (String, String, String) {
        let s = pod_summary(p, now());
        (s.ready, s.status, s.restarts)
    }

    fn t(ready: &str, status: &str, restarts: &str) -> (String, String, String) {
        (ready.into(), status.into(), restarts.into())
    }

    #[test]
    fn crash_looping_pod_shows_the_waiting_reason_and_the_last_restart() {
        let p = pod(
            one("api"),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "api", "ready": false, "restartCount": 8,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-20T10:03:12Z"}},
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}
            }]}),
        );
        assert_eq!(summary(&p), t("0/1", "CrashLoopBackOff", "8 (2m48s ago)"));
    }

    #[test]
    fn running_ready_pod_counts_ready_containers_in_reverse_order() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-20T09:00:05Z"}}},
                {"name": "b", "ready": false, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-11-18T10:06:00Z"}}}
            ]}),
        );
        assert_eq!(summary(&p), t("1/2", "Running", "2 (2d ago)"));
    }

    #[test]
    fn unscheduled_pod_is_its_phase() {
        let p = pod(one("a"), json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
        ]}));
        assert_eq!(summary(&p), t("0/1", "Pending", "0"));
        let gated = pod(one("a"), json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
        ]}));
        assert_eq!(summary(&gated).1, "SchedulingGated");
    }

    #[test]
    fn init_containers_give_init_statuses() {
        let spec = json!({"initContainers": [{"name": "migrate"}, {"name": "warm"}], "containers": [{"name": "app"}]});
        let waiting = |state: Value| {
            pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "migrate", "restartCount": 3, "state": state,
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-20T10:05:00Z"}}},
                    {"name": "warm", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
                ], "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            )
        };
        assert_eq!(
            summary(&waiting(json!({"waiting": {"reason": "CrashLoopBackOff"}}))),
            t("0/1", "Init:CrashLoopBackOff", "3 (60s ago)")
        );
        assert_eq!(summary(&waiting(json!({"running": {}}))).1, "Init:0/2");
        assert_eq!(summary(&waiting(json!({"terminated": {"exitCode": 2}}))).1, "Init:ExitCode:2");
        assert_eq!(summary(&waiting(json!({"terminated": {"exitCode": 2, "signal": 9}}))).1, "Init:Signal:9");
        assert_eq!(summary(&waiting(json!({"terminated": {"exitCode": 1, "reason": "Error"}}))).1, "Init:Error");
        // The first init container done: the second one is counted.
        assert_eq!(summary(&waiting(json!({"terminated": {"exitCode": 0, "reason": "Completed"}}))).1, "Init:1/2");
    }

    #[test]
    fn restartable_init_containers_count_as_containers() {
        let p = pod(
            json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
            json!({"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                    "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-20T10:00:00Z"}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
        );
        assert_eq!(summary(&p), t("2/2", "Running", "1 (6m ago)"));
    }

    #[test]
    fn completed_and_terminated_reasons() {
        let done = pod(one("a"), json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}));
        assert_eq!(summary(&done), t("0/1", "Completed", "0"));
        let (_, conditions) = Printer::Pod.row(&done, now());
        assert_eq!(conditions.unwrap()[0]["reason"], "Succeeded");

        let killed = pod(one("a"), json!({"phase": "Failed", "containerStatuses": [
            {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ]}));
        assert_eq!(summary(&killed).1, "Signal:9");
        let exited = pod(one("a"), json!({"phase": "Failed", "containerStatuses": [
            {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}
        ]}));
        assert_eq!(summary(&exited).1, "ExitCode:3");

        // One container completed, another still running: Running when the pod is Ready.
        let partial = |ready: &str| {
            pod(
                json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": ready}], "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                    {"name": "b", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                ]}),
            )
        };
        assert_eq!(summary(&partial("True")), t("1/2", "Running", "0"));
        assert_eq!(summary(&partial("False")).1, "NotReady");
    }

    #[test]
    fn evicted_terminating_and_node_lost() {
        let evicted = pod(one("a"), json!({"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory."}));
        assert_eq!(summary(&evicted), t("0/1", "Evicted", "0"));

        let mut deleting = pod(one("a"), json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}}
        ]}));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-20T10:05:00Z");
        assert_eq!(summary(&deleting), t("1/1", "Terminating", "0"));
        deleting["status"]["reason"] = json!("NodeLost");
        assert_eq!(summary(&deleting).1, "Unknown");

        // A pod that already reached a terminal phase keeps its status while deleted.
        let mut done = evicted.clone();
        done["metadata"]["deletionTimestamp"] = json!("2026-11-20T10:05:00Z");
        assert_eq!(summary(&done).1, "Evicted");
    }

    #[test]
    fn pod_wide_cells() {
        let mut p = pod(json!({"containers": [{"name": "a"}], "nodeName": "n1", "readinessGates": [{"conditionType": "lb/ready"}]}),
            json!({"phase": "Running", "podIP": "10.0.0.7", "conditions": [{"type": "lb/ready", "status": "True"}]}));
        let (cells, _) = Printer::Pod.row(&p, now());
        assert_eq!(cells[4], "66m");
        assert_eq!(&cells[5..], &[json!("10.0.0.7"), json!("n1"), json!("<none>"), json!("1/1")]);
        p["status"]["podIPs"] = json!([{"ip": "10.0.0.8"}]);
        assert_eq!(Printer::Pod.row(&p, now()).0[5], "10.0.0.8");
    }

    #[test]
    fn human_durations_match_apimachinery() {
        let d = |s: i64| human_duration(Duration::seconds(s));
        assert_eq!(d(-5), "<invalid>");
        assert_eq!(d(0), "0s");
        assert_eq!(d(119), "119s");
        assert_eq!(d(120), "2m");
        assert_eq!(d(330), "5m30s");
        assert_eq!(d(600), "10m");
        assert_eq!(d(179 * 60), "179m");
        assert_eq!(d(3 * 3600), "3h");
        assert_eq!(d(7 * 3600 + 59 * 60), "7h59m");
        assert_eq!(d(8 * 3600), "8h");
        assert_eq!(d(47 * 3600), "47h");
        assert_eq!(d(48 * 3600), "2d");
        assert_eq!(d(51 * 3600), "2d3h");
        assert_eq!(d(10 * 86400), "10d");
        assert_eq!(d(730 * 86400), "2y");
        assert_eq!(d(800 * 86400), "2y70d");
        assert_eq!(d(9 * 365 * 86400), "9y");
    }

    #[test]
    fn node_status_roles_and_version() {
        let node = json!({
            "metadata": {"name": "n1", "creationTimestamp": "2026-11-10T10:06:00Z",
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "", "kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "Unknown"}],
                "nodeInfo": {"kubeletVersion": "v1.31.2"}, "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
        });
        let (cells, _) = Printer::Node.row(&node, now());
        assert_eq!(
            &cells[..8],
            &[json!("n1"), json!("NotReady,SchedulingDisabled"), json!("control-plane,worker"), json!("10d"),
              json!("v1.31.2"), json!("10.0.0.1"), json!("<none>"), json!("<unknown>")]
        );
        let bare = json!({"metadata": {"name": "n2"}});
        assert_eq!(Printer::Node.row(&bare, now()).0[1..4], [json!("Unknown"), json!("<none>"), json!("<unknown>")]);
    }

    #[test]
    fn events_use_the_newest_timestamp_shape_available() {
        let legacy = json!({"metadata": {"name": "e1"}, "type": "Warning", "reason": "BackOff", "count": 40,
            "firstTimestamp": "2026-11-20T09:32:00Z", "lastTimestamp": "2026-11-20T10:05:30Z",
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
            "source": {"component": "kubelet", "host": "n1"}, "message": "Back-off restarting failed container\n"});
        let (cells, _) = Printer::Event.row(&legacy, now());
        assert_eq!(
            cells,
            vec![json!("30s"), json!("Warning"), json!("BackOff"), json!("pod/p"), json!("spec.containers{a}"),
                 json!("kubelet, n1"), json!("Back-off restarting failed container"), json!("34m"), json!(40), json!("e1")]
        );
        let series = json!({"metadata": {"name": "e2"}, "type": "Normal", "reason": "Scheduled",
            "eventTime": "2026-11-20T10:00:00.123456Z", "firstTimestamp": null, "lastTimestamp": null,
            "series": {"count": 3, "lastObservedTime": "2026-11-20T10:05:00.000000Z"},
            "reportingComponent": "default-scheduler", "involvedObject": {"kind": "Pod", "name": "p"}, "message": "ok"});
        let (cells, _) = Printer::Event.row(&series, now());
        assert_eq!(cells[0], "60s");
        assert_eq!(cells[5], "default-scheduler");
        assert_eq!(cells[7], "5m59s");
        assert_eq!(cells[8], 3);
    }

    #[test]
    fn selectors_and_labels_format_like_apimachinery() {
        let sel = json!({"matchLabels": {"tier": "web", "app": "x"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}, {"key": "legacy", "operator": "DoesNotExist"}]});
        assert_eq!(format_label_selector(Some(&sel)), "app=x,env in (dev,prod),!legacy,tier=web");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn services_deployments_and_fallbacks() {
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2026-11-20T10:00:00Z"},
            "spec": {"type": "LoadBalancer", "clusterIP": "172.20.0.10", "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 443, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}}});
        assert_eq!(
            Printer::Service.row(&svc, now()).0,
            vec![json!("web"), json!("LoadBalancer"), json!("172.20.0.10"), json!("<pending>"),
                 json!("80:30080/TCP,443/TCP"), json!("6m"), json!("app=web")]
        );
        let deploy = json!({"metadata": {"name": "d"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
            "template": {"spec": {"containers": [{"name": "a", "image": "i:1"}, {"name": "b", "image": "j:2"}]}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 3, "availableReplicas": 1}});
        assert_eq!(
            Printer::Deployment.row(&deploy, now()).0,
            vec![json!("d"), json!("1/3"), json!(3), json!(1), json!("<unknown>"), json!("a,b"), json!("i:1,j:2"), json!("app=d")]
        );
        assert_eq!(Printer::for_kind("rbac.authorization.k8s.io", "Role"), Printer::Default);
        assert_eq!(Printer::for_kind("cert-manager.io", "Certificate"), Printer::Custom);
        assert_eq!(Printer::for_kind("cert-manager.io", "Service"), Printer::Custom);
        let role = json!({"metadata": {"name": "r", "creationTimestamp": "2026-11-20T10:00:00Z"}});
        assert_eq!(Printer::Default.row(&role, now()).0, vec![json!("r"), json!("2026-11-20T10:00:00Z")]);
        assert_eq!(Printer::Custom.row(&role, now()).0, vec![json!("r"), json!("6m")]);
    }

    #[test]
    fn table_carries_metadata_rows_by_default() {
        let p = pod(one("a"), json!({"phase": "Running"}));
        let t = table(Printer::Pod, &[&p], now(), IncludeObject::Metadata, "v1", json!({"resourceVersion": "1"}));
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["name"], "p");
        let t = table(Printer::Pod, &[&p], now(), IncludeObject::None, "v1beta1", json!({}));
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
        assert!(t["rows"][0]["object"].is_null());
    }
}
