//! The Infrastructure tab: what the application runs, per account and namespace, live.
//!
//! Clusters (Deployments, StatefulSets, DaemonSets) with their server groups (ReplicaSets, one
//! per revision) and pods drawn as health squares; load balancers (Services, Ingresses) with the
//! pods they route to. A details panel reads an object live (YAML, conditions, events, logs).
//! Scale, undo, restart and delete are confirmed first and then shown as tasks with their result.
//! The view arrives rendered on the server, then follows server-sent events.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use super::ErrorBanner;
use crate::api::ApiError;
use crate::api::{infrastructure, infrastructure_details, run_infrastructure_action};
use crate::model::infrastructure::{
    AccountView, ClusterView, InfrastructureAction, InfrastructureView, LoadBalancerView,
    NamespaceView, ObjectRef, PodView, ServerGroupView,
};

/// One action the user started, and how it ended.
#[derive(Clone, Debug, PartialEq)]
struct Task {
    id: u32,
    description: String,
    /// None while running.
    outcome: Option<Result<String, String>>,
}

/// What the tab shares with everything drawn inside it.
#[derive(Clone, Copy)]
struct Tab {
    selected: RwSignal<Option<ObjectRef>>,
    pending: RwSignal<Option<InfrastructureAction>>,
    tasks: RwSignal<Vec<Task>>,
}

impl Tab {
    fn select(self, object: ObjectRef) {
        self.selected.set(Some(object));
    }

    fn confirm(self, action: InfrastructureAction) {
        self.pending.set(Some(action));
    }

    fn run(self, action: InfrastructureAction) {
        let id = self
            .tasks
            .with_untracked(|t| t.iter().map(|t| t.id).max().unwrap_or(0) + 1);
        self.tasks.update(|t| {
            t.insert(
                0,
                Task {
                    id,
                    description: action.describe(),
                    outcome: None,
                },
            )
        });
        let tasks = self.tasks;
        spawn_local(async move {
            let outcome = run_infrastructure_action(action)
                .await
                .map_err(|e| e.to_string());
            tasks.update(|t| {
                if let Some(task) = t.iter_mut().find(|t| t.id == id) {
                    task.outcome = Some(outcome);
                }
            });
        });
    }
}

#[component]
pub fn InfrastructureTab() -> impl IntoView {
    let params = use_params_map();
    let application = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let initial = Resource::new(move || application.get(), infrastructure);
    let live: RwSignal<Option<InfrastructureView>> = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    super::follow_events(
        move || {
            format!(
                "/api/infrastructure/stream?application={}",
                application.get()
            )
        },
        "view",
        live,
        connected,
    );
    // The selected object is in the address:
    // `?account=prod&namespace=shop&kind=Deployment&object=web`.
    let selected = super::url_state::url_state(
        &["account", "namespace", "kind", "object"],
        |q| match (
            q.get("account"),
            q.get("namespace"),
            q.get("kind"),
            q.get("object"),
        ) {
            (Some(a), Some(ns), Some(k), Some(n)) => Some(object(&a, &ns, &k, &n)),
            _ => None,
        },
        |o| match o {
            Some(o) => vec![
                ("account", o.account.clone()),
                ("namespace", o.namespace.clone()),
                ("kind", o.kind.clone()),
                ("object", o.name.clone()),
            ],
            None => Vec::new(),
        },
    );
    let tab = Tab {
        selected,
        pending: RwSignal::new(None),
        tasks: RwSignal::new(Vec::new()),
    };
    provide_context(tab);

    view! {
        <div class="infrastructure" data-testid="tab-infrastructure" data-live=move || connected.get().to_string()>
            <ConfirmBar />
            <TaskList />
            <Transition fallback=|| view! { <p class="muted">"Loading infrastructure…"</p> }>
                {move || {
                    let current: Option<Result<InfrastructureView, ApiError>> = match live.get() {
                        Some(view) if view.application == application.get() => Some(Ok(view)),
                        _ => initial.get(),
                    };
                    current.map(|result| match result {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(view) => view! { <Accounts view /> }.into_any(),
                    })
                }}
            </Transition>
            <DetailsPanel />
        </div>
    }
}

#[component]
fn Accounts(view: InfrastructureView) -> impl IntoView {
    if view.accounts.is_empty() {
        return view! {
            <div class="empty-state small">
                <h2>"No Kubernetes accounts"</h2>
                <p>
                    "Topsail has no Kubernetes account configured. Name kubeconfig contexts under "
                    <code>"[[kubernetes.accounts]]"</code>" in the configuration file (or set "
                    <code>"TOPSAIL_KUBECONFIG"</code>"), and what "{view.application.clone()}" runs there appears here, live."
                </p>
            </div>
        }
        .into_any();
    }
    let application = view.application.clone();
    view.accounts
        .into_iter()
        .map(|account| view! { <Account account application=application.clone() /> })
        .collect_view()
        .into_any()
}

#[component]
fn Account(account: AccountView, application: String) -> impl IntoView {
    let empty = account.namespaces.is_empty();
    let name = account.name.clone();
    view! {
        <section class="account" data-account=account.name.clone()>
            <header class="account-header">
                <h2>{account.name.clone()}</h2>
                <span class=format!("health health-{}", account.health) title=account.health_detail.clone()>
                    {account.health.clone()}
                </span>
                {(account.health != "healthy").then(|| view! { <span class="muted small">{account.health_detail.clone()}</span> })}
            </header>
            {empty.then(|| view! { <p class="muted">{format!("Nothing of {application} runs in {name}.")}</p> })}
            {account
                .namespaces
                .into_iter()
                .map(|namespace| view! { <Namespace account=account.name.clone() namespace /> })
                .collect_view()}
        </section>
    }
    .into_any()
}

#[component]
fn Namespace(account: String, namespace: NamespaceView) -> impl IntoView {
    let ns = namespace.name.clone();
    view! {
        <div class="namespace" data-namespace=ns.clone()>
            <h3><span class="muted small">"namespace "</span>{ns.clone()}</h3>
            <div class="clusters">
                {namespace
                    .clusters
                    .into_iter()
                    .map(|cluster| view! { <Cluster account=account.clone() namespace=ns.clone() cluster /> })
                    .collect_view()}
            </div>
            {(!namespace.load_balancers.is_empty()).then(|| view! {
                <h4 class="muted small">"Load balancers"</h4>
                <div class="load-balancers">
                    {namespace
                        .load_balancers
                        .into_iter()
                        .map(|lb| view! { <LoadBalancer account=account.clone() namespace=ns.clone() lb /> })
                        .collect_view()}
                </div>
            })}
        </div>
    }
    .into_any()
}

/// An object of the application this tab shows (its name is in the route).
fn object(account: &str, namespace: &str, kind: &str, name: &str) -> ObjectRef {
    let application = leptos_router::hooks::use_params_map()
        .read_untracked()
        .get("name")
        .unwrap_or_default();
    ObjectRef {
        application,
        account: account.to_owned(),
        namespace: namespace.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

#[component]
fn Cluster(account: String, namespace: String, cluster: ClusterView) -> impl IntoView {
    let tab: Tab = expect_context();
    let may_write = super::session::may(crate::model::Access::Write);
    let target = object(&account, &namespace, &cluster.kind, &cluster.name);
    let replicas = RwSignal::new(cluster.desired.to_string());
    let older: Vec<i64> = cluster
        .server_groups
        .iter()
        .skip(1)
        .filter_map(|g| g.revision)
        .collect();
    let undo_to = RwSignal::new(older.first().map(|r| r.to_string()).unwrap_or_default());
    let can_scale = cluster.kind != "DaemonSet";
    let is_deployment = cluster.kind == "Deployment";
    let restartable = matches!(
        cluster.kind.as_str(),
        "Deployment" | "StatefulSet" | "DaemonSet"
    );
    let open = {
        let target = target.clone();
        move |_| tab.select(target.clone())
    };
    let scale = {
        let target = target.clone();
        move |_| {
            if let Ok(n) = replicas.get_untracked().trim().parse::<i32>() {
                tab.confirm(InfrastructureAction::Scale {
                    target: target.clone(),
                    replicas: n,
                });
            }
        }
    };
    let undo = {
        let target = target.clone();
        move |_| {
            let revision = undo_to.get_untracked().parse::<i64>().ok();
            tab.confirm(InfrastructureAction::Undo {
                target: target.clone(),
                revision,
            });
        }
    };
    let restart = {
        let target = target.clone();
        move |_| {
            tab.confirm(InfrastructureAction::Restart {
                target: target.clone(),
            })
        }
    };
    let delete = {
        let target = target.clone();
        move |_| {
            tab.confirm(InfrastructureAction::Delete {
                target: target.clone(),
            })
        }
    };
    let direct_pods = cluster.pods.clone();
    view! {
        <article class=format!("cluster cluster-{}", cluster.state) data-cluster=cluster.name.clone() data-state=cluster.state.clone()>
            <header>
                <span class="kind">{cluster.kind.clone()}</span>
                <button class="link name" on:click=open>{cluster.name.clone()}</button>
                <span class=format!("state state-{}", cluster.state)>{cluster.state.clone()}</span>
                <span class="counts" data-testid="counts">{format!("{}/{} ready", cluster.ready, cluster.desired)}</span>
                {cluster.revision.map(|r| view! { <span class="muted small">{format!("revision {r}")}</span> })}
            </header>
            <p class="images muted small">{cluster.images.join(", ")}</p>
            {(!cluster.message.is_empty()).then(|| view! { <p class="cluster-message">{cluster.message.clone()}</p> })}
            <div class="server-groups">
                {cluster
                    .server_groups
                    .into_iter()
                    .map(|group| view! { <ServerGroup account=account.clone() namespace=namespace.clone() group /> })
                    .collect_view()}
            </div>
            {(!direct_pods.is_empty()).then(|| view! {
                <Pods account=account.clone() namespace=namespace.clone() pods=direct_pods.clone() />
            })}
            // Acting on what runs needs WRITE access to the application.
            {move || may_write.get().then(|| view! {
                <div class="cluster-actions">
                    {can_scale.then(|| view! {
                        <label class="inline">
                            "Replicas "
                            <input type="number" min="0" class="replicas" aria-label="Replicas" prop:value=move || replicas.get()
                                on:input=move |ev| replicas.set(event_target_value(&ev)) />
                        </label>
                        <button class="button small-button" on:click=scale.clone()>"Scale"</button>
                    })}
                    {(is_deployment && !older.is_empty()).then(|| view! {
                        <select class="undo-revision" aria-label="Revision to go back to" on:change=move |ev| undo_to.set(event_target_value(&ev))>
                            {older.iter().map(|r| view! { <option value=r.to_string()>{format!("revision {r}")}</option> }).collect_view()}
                        </select>
                        <button class="button small-button" on:click=undo.clone()>"Undo rollout"</button>
                    })}
                    {restartable.then(|| view! { <button class="button small-button" on:click=restart.clone()>"Restart"</button> })}
                    <button class="button small-button danger" on:click=delete.clone()>"Delete"</button>
                </div>
            })}
        </article>
    }
    .into_any()
}

#[component]
fn ServerGroup(account: String, namespace: String, group: ServerGroupView) -> impl IntoView {
    let tab: Tab = expect_context();
    let target = object(&account, &namespace, "ReplicaSet", &group.name);
    view! {
        <div class="server-group" data-server-group=group.name.clone() data-revision=group.revision.map(|r| r.to_string()).unwrap_or_default()>
            <div class="server-group-header">
                <button class="link" on:click=move |_| tab.select(target.clone())>
                    {group.revision.map(|r| format!("v{r}")).unwrap_or_else(|| group.name.clone())}
                </button>
                <span class="muted small">{group.images.join(", ")}</span>
                <span class="muted small">{format!("{}/{}", group.ready, group.desired)}</span>
            </div>
            <Pods account namespace pods=group.pods />
        </div>
    }
    .into_any()
}

#[component]
fn Pods(account: String, namespace: String, pods: Vec<PodView>) -> impl IntoView {
    let tab: Tab = expect_context();
    view! {
        <div class="pods">
            {pods
                .into_iter()
                .map(|pod| {
                    let target = object(&account, &namespace, "Pod", &pod.name);
                    let title = match &pod.reason {
                        Some(reason) => format!("{} — {reason} ({} restarts)", pod.name, pod.restarts),
                        None => format!("{} — {} on {}", pod.name, pod.phase, pod.node),
                    };
                    let health = match pod.health {
                        crate::model::infrastructure::PodHealth::Up => "up",
                        crate::model::infrastructure::PodHealth::Down => "down",
                        crate::model::infrastructure::PodHealth::Starting => "starting",
                    };
                    view! {
                        <button class=pod.health.css() title=title.clone() aria-label=title data-pod=pod.name.clone() data-health=health
                            on:click=move |_| tab.select(target.clone())></button>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn LoadBalancer(account: String, namespace: String, lb: LoadBalancerView) -> impl IntoView {
    let tab: Tab = expect_context();
    let target = object(&account, &namespace, &lb.kind, &lb.name);
    view! {
        <article class="load-balancer" data-load-balancer=lb.name.clone()>
            <header>
                <span class="kind">{lb.kind.clone()}</span>
                <button class="link name" on:click=move |_| tab.select(target.clone())>{lb.name.clone()}</button>
                <span class="muted small">{lb.detail.clone()}</span>
            </header>
            <Pods account namespace pods=lb.pods />
        </article>
    }
    .into_any()
}

/// "Scale deployment web to 4?" with Confirm and Cancel, while an action waits for confirmation.
#[component]
fn ConfirmBar() -> impl IntoView {
    let tab: Tab = expect_context();
    move || {
        tab.pending.get().map(|action| {
            let question = format!("{}?", action.describe());
            let dangerous = matches!(action, InfrastructureAction::Delete { .. });
            view! {
                <div class="confirm-bar" role="alertdialog" aria-label="Confirm action">
                    <span>{question}</span>
                    <button class=if dangerous { "button danger" } else { "button primary" }
                        on:click=move |_| {
                            tab.pending.set(None);
                            tab.run(action.clone());
                        }>"Confirm"</button>
                    <button class="button" on:click=move |_| tab.pending.set(None)>"Cancel"</button>
                </div>
            }
        })
    }
}

#[component]
fn TaskList() -> impl IntoView {
    let tab: Tab = expect_context();
    view! {
        <ul class="tasks" aria-label="Tasks">
            {move || {
                tab.tasks
                    .get()
                    .into_iter()
                    .map(|task| {
                        let (state, text) = match &task.outcome {
                            None => ("running", format!("{} …", task.description)),
                            Some(Ok(message)) => ("succeeded", message.clone()),
                            Some(Err(message)) => ("failed", format!("{}: {message}", task.description)),
                        };
                        view! { <li class=format!("task task-{state}") data-state=state>{text}</li> }
                    })
                    .collect_view()
            }}
        </ul>
    }
}

#[component]
fn DetailsPanel() -> impl IntoView {
    let tab: Tab = expect_context();
    // Whether the selected object is open in the manifest editor.
    let editing = RwSignal::new(false);
    Effect::new(move |_| {
        tab.selected.track();
        editing.set(false);
    });
    let details = Resource::new(
        move || tab.selected.get(),
        |selected| async move {
            match selected {
                Some(object) => Some(infrastructure_details(object).await),
                None => None,
            }
        },
    );
    view! {
        <Show when=move || tab.selected.get().is_some()>
            <aside class="details" data-testid="details" aria-label="Details">
                <header>
                    <h3>{move || tab.selected.get().map(|o| format!("{} {}", o.kind, o.name)).unwrap_or_default()}</h3>
                    <button class="button small-button" on:click=move |_| tab.selected.set(None)>"Close"</button>
                </header>
                <Transition fallback=|| view! { <p class="muted">"Reading from the cluster…"</p> }>
                    {move || details.get().flatten().map(|result| match result {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(d) => {
                            let is_pod = d.object.kind == "Pod";
                            let edit = (!is_pod && d.manifest.is_object()).then(|| {
                                let (object, manifest) = (d.object.clone(), d.manifest.clone());
                                let target = object.clone();
                                let on_apply = Callback::new(move |manifest| {
                                    editing.set(false);
                                    tab.confirm(InfrastructureAction::Apply { target: target.clone(), manifest });
                                });
                                move || if editing.get() {
                                    view! {
                                        <super::manifest_editor::LazyManifestEditor opening=super::manifest_editor::Opening::Object {
                                            object: object.clone(), manifest: manifest.clone(), on_apply,
                                            on_close: Callback::new(move |_| editing.set(false)),
                                        } />
                                    }.into_any()
                                } else {
                                    view! {
                                        <button class="button small-button" data-testid="edit-object-button" on:click=move |_| editing.set(true)>"Edit"</button>
                                    }.into_any()
                                }
                            });
                            let pod = d.object.clone();
                            let containers = d.containers.clone();
                            view! {
                                <dl class="facts">
                                    <dt>"Account"</dt><dd>{d.object.account.clone()}</dd>
                                    <dt>"Namespace"</dt><dd>{d.object.namespace.clone()}</dd>
                                    <dt>"Images"</dt><dd class="images">{d.images.join(", ")}</dd>
                                </dl>
                                {(!d.conditions.is_empty()).then(|| view! {
                                    <h4>"Conditions"</h4>
                                    <table class="list conditions">
                                        <tbody>
                                            {d.conditions.iter().map(|c| view! {
                                                <tr><td>{c.kind.clone()}</td><td>{c.status.clone()}</td><td>{c.reason.clone()}</td><td>{c.message.clone()}</td></tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                })}
                                <h4>"Events"</h4>
                                {if d.events.is_empty() {
                                    view! { <p class="muted small">"No events."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="list events">
                                            <tbody>
                                                {d.events.iter().map(|e| view! {
                                                    <tr class=format!("event-{}", e.kind.to_ascii_lowercase())>
                                                        <td>{e.reason.clone()}</td><td>{e.message.clone()}</td>
                                                        <td class="muted small">{format!("×{}", e.count)}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                {edit}
                                {is_pod.then(|| view! { <super::pod_logs::PodLogs pod=pod.clone() containers=containers.clone() /> })}
                                <h4>"Manifest"</h4>
                                <pre class="yaml" data-testid="yaml">{d.yaml.clone()}</pre>
                            }.into_any()
                        }
                    })}
                </Transition>
            </aside>
        </Show>
    }
}
