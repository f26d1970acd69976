//! Pods and the workload controllers.

use serde_json::json;

use super::cells::*;
use super::format::*;
use super::{Parts, age_col, col, columns, containers_col, images_col};

pub(super) fn pod() -> Parts {
    (
        columns(vec![
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age_col(),
            col(
                "IP",
                "string",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            col(
                "Node",
                "string",
                1,
                "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.",
            ),
            col(
                "Nominated Node",
                "string",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
            ),
            col(
                "Readiness Gates",
                "string",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
            ),
        ]),
        pod_cells,
    )
}

pub(super) fn deployment() -> Parts {
    (
        columns(vec![
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "string",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age_col(),
            containers_col(),
            images_col(),
            col(
                "Selector",
                "string",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ]),
        |d, now| {
            let s = &d["status"];
            vec![
                name(d),
                json!(format!("{}/{}", int(&s["readyReplicas"]), replicas(d))),
                json!(int(&s["updatedReplicas"])),
                json!(int(&s["availableReplicas"])),
                age(d, now),
                containers(d),
                images(d),
                json!(selector(&d["spec"]["selector"])),
            ]
        },
    )
}

pub(super) fn replica_set() -> Parts {
    (
        columns(vec![
            col(
                "Desired",
                "integer",
                0,
                "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works",
            ),
            col(
                "Current",
                "integer",
                0,
                "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works",
            ),
            col(
                "Ready",
                "integer",
                0,
                "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
            ),
            age_col(),
            containers_col(),
            images_col(),
            col(
                "Selector",
                "string",
                1,
                "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ]),
        |rs, now| {
            let s = &rs["status"];
            vec![
                name(rs),
                json!(replicas(rs)),
                json!(int(&s["replicas"])),
                json!(int(&s["readyReplicas"])),
                age(rs, now),
                containers(rs),
                images(rs),
                json!(selector(&rs["spec"]["selector"])),
            ]
        },
    )
}

pub(super) fn stateful_set() -> Parts {
    (
        columns(vec![
            col("Ready", "string", 0, "Number of the pod with ready state"),
            age_col(),
            containers_col(),
            images_col(),
        ]),
        |s, now| {
            vec![
                name(s),
                json!(format!(
                    "{}/{}",
                    int(&s["status"]["readyReplicas"]),
                    replicas(s)
                )),
                age(s, now),
                containers(s),
                images(s),
            ]
        },
    )
}

pub(super) fn daemon_set() -> Parts {
    (
        columns(vec![
            col(
                "Desired",
                "integer",
                0,
                "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
            ),
            col(
                "Current",
                "integer",
                0,
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
            ),
            col(
                "Ready",
                "integer",
                0,
                "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
            ),
            col(
                "Up-to-date",
                "integer",
                0,
                "The total number of nodes that are running updated daemon pod",
            ),
            col(
                "Available",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            ),
            col(
                "Node Selector",
                "string",
                0,
                "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
            ),
            age_col(),
            containers_col(),
            images_col(),
            col(
                "Selector",
                "string",
                1,
                "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ]),
        |ds, now| {
            let s = &ds["status"];
            vec![
                name(ds),
                json!(int(&s["desiredNumberScheduled"])),
                json!(int(&s["currentNumberScheduled"])),
                json!(int(&s["numberReady"])),
                json!(int(&s["updatedNumberScheduled"])),
                json!(int(&s["numberAvailable"])),
                json!(label_map(&ds["spec"]["template"]["spec"]["nodeSelector"])),
                age(ds, now),
                containers(ds),
                images(ds),
                json!(selector(&ds["spec"]["selector"])),
            ]
        },
    )
}
