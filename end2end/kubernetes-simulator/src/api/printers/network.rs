//! Services, endpoints, ingresses, autoscalers, claims and disruption budgets.

use serde_json::{Value, json};

use super::format::*;
use super::{Parts, age_col, col, columns};

pub(super) fn service() -> Parts {
    (
        columns(vec![
            col(
                "Type",
                "string",
                0,
                "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
            ),
            col(
                "Cluster-IP",
                "string",
                0,
                "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
            ),
            col(
                "External-IP",
                "string",
                0,
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
            ),
            col(
                "Port(s)",
                "string",
                0,
                "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
            ),
            age_col(),
            col(
                "Selector",
                "string",
                1,
                "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
            ),
        ]),
        |svc, now| {
            let spec = &svc["spec"];
            vec![
                name(svc),
                json!(spec["type"].as_str().unwrap_or("ClusterIP")),
                json!(non_empty(
                    spec["clusterIPs"][0]
                        .as_str()
                        .or(spec["clusterIP"].as_str())
                        .unwrap_or_default()
                )),
                json!(external_ip(svc)),
                json!(service_ports(spec)),
                age(svc, now),
                json!(label_map(&spec["selector"])),
            ]
        },
    )
}

pub(super) fn endpoints() -> Parts {
    (
        columns(vec![
            col("Endpoints", "string", 0, "Endpoints of the service"),
            age_col(),
        ]),
        |e, now| vec![name(e), json!(endpoint_list(e)), age(e, now)],
    )
}

pub(super) fn ingress() -> Parts {
    (
        columns(vec![
            col(
                "Class",
                "string",
                0,
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            col(
                "Hosts",
                "string",
                0,
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            col(
                "Address",
                "string",
                0,
                "Address is a list containing ingress points for the load-balancer",
            ),
            col(
                "Ports",
                "string",
                0,
                "Ports of TLS configurations that open",
            ),
            age_col(),
        ]),
        |ing, now| {
            let spec = &ing["spec"];
            let rules = spec["rules"].as_array().cloned().unwrap_or_default();
            let hosts: Vec<&str> = rules
                .iter()
                .filter_map(|r| r["host"].as_str().filter(|h| !h.is_empty()))
                .take(3)
                .collect();
            let hosts = match (hosts.is_empty(), rules.len()) {
                (true, _) => "*".to_owned(),
                (false, n) if n > 3 => format!("{} + {} more...", hosts.join(","), n - 3),
                _ => hosts.join(","),
            };
            let ports = if spec["tls"].as_array().is_some_and(|t| !t.is_empty()) {
                "80, 443"
            } else {
                "80"
            };
            vec![
                name(ing),
                json!(spec["ingressClassName"].as_str().unwrap_or("<none>")),
                json!(hosts),
                json!(load_balancer(&ing["status"]["loadBalancer"])),
                json!(ports),
                age(ing, now),
            ]
        },
    )
}

pub(super) fn horizontal_pod_autoscaler() -> Parts {
    (
        columns(vec![
            col("Reference", "string", 0, "Reference to the target resource"),
            col("Targets", "string", 0, "Current and target metrics"),
            col(
                "MinPods",
                "string",
                0,
                "Lower limit for the number of pods that can be set by the autoscaler. Default is 1.",
            ),
            col(
                "MaxPods",
                "string",
                0,
                "Upper limit for the number of pods that can be set by the autoscaler. It cannot be smaller than MinReplicas.",
            ),
            col(
                "Replicas",
                "string",
                0,
                "Current number of replicas of pods managed by this autoscaler.",
            ),
            age_col(),
        ]),
        |hpa, now| {
            let spec = &hpa["spec"];
            let target = &spec["scaleTargetRef"];
            vec![
                name(hpa),
                json!(format!(
                    "{}/{}",
                    target["kind"].as_str().unwrap_or_default(),
                    target["name"].as_str().unwrap_or_default()
                )),
                json!(hpa_targets(hpa)),
                json!(
                    spec["minReplicas"]
                        .as_i64()
                        .map_or("<unset>".to_owned(), |n| n.to_string())
                ),
                json!(int(&spec["maxReplicas"])),
                json!(int(&hpa["status"]["currentReplicas"])),
                age(hpa, now),
            ]
        },
    )
}

pub(super) fn persistent_volume_claim() -> Parts {
    (
        columns(vec![
            col(
                "Status",
                "string",
                0,
                "phase represents the current phase of PersistentVolumeClaim.",
            ),
            col(
                "Volume",
                "string",
                0,
                "volumeName is the binding reference to the PersistentVolume backing this claim.",
            ),
            col(
                "Capacity",
                "string",
                0,
                "capacity represents the actual resources of the underlying volume.",
            ),
            col(
                "Access Modes",
                "string",
                0,
                "accessModes contains the desired access modes the volume should have. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
            ),
            col("StorageClass", "string", 0, "StorageClass of the pvc"),
            col(
                "VolumeAttributesClass",
                "string",
                0,
                "VolumeAttributesClass of the pvc",
            ),
            age_col(),
            col(
                "VolumeMode",
                "string",
                1,
                "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
            ),
        ]),
        |pvc, now| {
            let (spec, status) = (&pvc["spec"], &pvc["status"]);
            let bound = status["phase"] == "Bound";
            let modes: Vec<&str> = status["accessModes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str())
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect();
            vec![
                name(pvc),
                json!(status["phase"].as_str().unwrap_or("Pending")),
                json!(spec["volumeName"].as_str().unwrap_or_default()),
                json!(if bound {
                    status["capacity"]["storage"].as_str().unwrap_or_default()
                } else {
                    ""
                }),
                json!(if bound {
                    modes.join(",")
                } else {
                    String::new()
                }),
                json!(spec["storageClassName"].as_str().unwrap_or_default()),
                json!(
                    spec["volumeAttributesClassName"]
                        .as_str()
                        .unwrap_or("<unset>")
                ),
                age(pvc, now),
                json!(spec["volumeMode"].as_str().unwrap_or("<unset>")),
            ]
        },
    )
}

pub(super) fn pod_disruption_budget() -> Parts {
    (
        columns(vec![
            col(
                "Min Available",
                "string",
                0,
                "The minimum number of pods that must be available.",
            ),
            col(
                "Max Unavailable",
                "string",
                0,
                "The maximum number of pods that may be unavailable.",
            ),
            col(
                "Allowed Disruptions",
                "integer",
                0,
                "Calculated number of pods that may be disrupted at this time.",
            ),
            age_col(),
        ]),
        |pdb, now| {
            let spec = &pdb["spec"];
            let either = |v: &Value| match v {
                Value::Null => "N/A".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vec![
                name(pdb),
                json!(either(&spec["minAvailable"])),
                json!(either(&spec["maxUnavailable"])),
                json!(int(&pdb["status"]["disruptionsAllowed"])),
                age(pdb, now),
            ]
        },
    )
}
