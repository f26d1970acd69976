//! The columns a real API server prints for each kind it serves (Kubernetes'
//! `pkg/printers/internalversion`), computed from the stored JSON. The server always fills every
//! column; kubectl shows those of priority 1 only with `-o wide`. Column types are the ones the
//! real server declares, even where its cells are integers under a `string` column.

mod cells;
mod config;
mod format;
mod network;
mod workloads;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// One column of a Table.
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub priority: u8,
    pub description: &'static str,
}

impl Column {
    pub fn definition(&self) -> Value {
        let format = if self.name == "Name" && self.priority == 0 {
            "name"
        } else {
            ""
        };
        json!({"name": self.name, "type": self.kind, "format": format,
            "description": self.description, "priority": self.priority})
    }
}

/// A kind's columns and how a row's cells are made.
/// A kind's columns and its cells function.
type Parts = (Vec<Column>, fn(&Value, DateTime<Utc>) -> Vec<Value>);

pub struct Printer {
    pub columns: Vec<Column>,
    pub cells: fn(&Value, DateTime<Utc>) -> Vec<Value>,
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn col(name: &'static str, kind: &'static str, priority: u8, description: &'static str) -> Column {
    Column {
        name,
        kind,
        priority,
        description,
    }
}

fn name_col() -> Column {
    col("Name", "string", 0, NAME_DOC)
}

fn age_col() -> Column {
    col("Age", "string", 0, CREATED_DOC)
}

/// The pod template's container names (wide), as every workload prints them.
fn containers_col() -> Column {
    col(
        "Containers",
        "string",
        1,
        "Names of each container in the template.",
    )
}

/// The pod template's images (wide), as every workload prints them.
fn images_col() -> Column {
    col(
        "Images",
        "string",
        1,
        "Images referenced by each container in the template.",
    )
}

fn columns(middle: Vec<Column>) -> Vec<Column> {
    let mut all = vec![name_col()];
    all.extend(middle);
    all
}

/// The printer of `kind`; kinds without one get the default (name and creation time).
pub fn printer(kind: &str) -> Printer {
    let (columns, cells) = match kind {
        "Pod" => workloads::pod(),
        "Deployment" => workloads::deployment(),
        "ReplicaSet" => workloads::replica_set(),
        "StatefulSet" => workloads::stateful_set(),
        "DaemonSet" => workloads::daemon_set(),
        "Service" => network::service(),
        "Endpoints" => network::endpoints(),
        "Namespace" => config::namespace(),
        "ConfigMap" => config::config_map(),
        "Secret" => config::secret(),
        "ServiceAccount" => config::service_account(),
        "Event" => config::event(),
        "Ingress" => network::ingress(),
        "HorizontalPodAutoscaler" => network::horizontal_pod_autoscaler(),
        "PersistentVolumeClaim" => network::persistent_volume_claim(),
        "PodDisruptionBudget" => network::pod_disruption_budget(),
        "Role" | "ClusterRole" => config::role(),
        "RoleBinding" | "ClusterRoleBinding" => config::role_binding(),
        _ => config::default(),
    };
    Printer { columns, cells }
}
