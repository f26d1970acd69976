//! Namespaces, configuration, events, RBAC and the default (name and creation time).

use serde_json::json;

use super::cells::*;
use super::format::*;
use super::{CREATED_DOC, NAME_DOC, Parts, age_col, col, columns, name_col};

pub(super) fn namespace() -> Parts {
    (
        columns(vec![
            col("Status", "string", 0, "The status of the namespace"),
            age_col(),
        ]),
        |ns, now| {
            vec![
                name(ns),
                json!(ns["status"]["phase"].as_str().unwrap_or_default()),
                age(ns, now),
            ]
        },
    )
}

pub(super) fn config_map() -> Parts {
    (
        columns(vec![
            col(
                "Data",
                "string",
                0,
                "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
            ),
            age_col(),
        ]),
        |cm, now| {
            let n = count(&cm["data"]) + count(&cm["binaryData"]);
            vec![name(cm), json!(n), age(cm, now)]
        },
    )
}

pub(super) fn secret() -> Parts {
    (
        columns(vec![
            col(
                "Type",
                "string",
                0,
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            col(
                "Data",
                "string",
                0,
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            age_col(),
        ]),
        |s, now| {
            vec![
                name(s),
                json!(s["type"].as_str().unwrap_or("Opaque")),
                json!(count(&s["data"])),
                age(s, now),
            ]
        },
    )
}

pub(super) fn service_account() -> Parts {
    (
        columns(vec![
            col(
                "Secrets",
                "string",
                0,
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
            ),
            age_col(),
        ]),
        |sa, now| {
            vec![
                name(sa),
                json!(sa["secrets"].as_array().map_or(0, Vec::len)),
                age(sa, now),
            ]
        },
    )
}

pub(super) fn event() -> Parts {
    (
        vec![
            col(
                "Last Seen",
                "string",
                0,
                "Time when this Event was last observed.",
            ),
            col(
                "Type",
                "string",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            col(
                "Reason",
                "string",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            col(
                "Object",
                "string",
                0,
                "The object that this event is about.",
            ),
            col(
                "Subobject",
                "string",
                1,
                "The subobject that this event is about, if any.",
            ),
            col(
                "Source",
                "string",
                1,
                "The component reporting this event. Should be a short machine understandable string.",
            ),
            col(
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
            col(
                "First Seen",
                "string",
                1,
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            col(
                "Count",
                "string",
                1,
                "The number of times this event has occurred.",
            ),
            col("Name", "string", 1, NAME_DOC),
        ],
        event_cells,
    )
}

pub(super) fn role() -> Parts {
    (
        columns(vec![col("Created At", "date", 0, CREATED_DOC)]),
        |r, _| vec![name(r), r["metadata"]["creationTimestamp"].clone()],
    )
}

pub(super) fn role_binding() -> Parts {
    (
        columns(vec![
            col(
                "Role",
                "string",
                0,
                "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. This field is immutable.",
            ),
            age_col(),
            col("Users", "string", 1, "Users in the roleBinding"),
            col("Groups", "string", 1, "Groups in the roleBinding"),
            col(
                "ServiceAccounts",
                "string",
                1,
                "ServiceAccounts in the roleBinding",
            ),
        ]),
        binding_cells,
    )
}

pub(super) fn default() -> Parts {
    (
        vec![name_col(), col("Created At", "date", 0, CREATED_DOC)],
        |o, _| vec![name(o), o["metadata"]["creationTimestamp"].clone()],
    )
}
