//! Suggestions for fields that name something configured: Kubernetes accounts and namespaces
//! (from the accounts Topsail has and the application's deploy targets), Jenkins masters and
//! their jobs, registry accounts and their repositories. They are `<datalist>`s, so free text
//! (an expression) stays allowed.
//!
//! Filled in the browser once the page is interactive (the health check behind them may take
//! seconds); the server renders them empty, as the browser does while hydrating.

use leptos::prelude::*;

/// The suggestion list a form field with this key uses, if any.
pub(crate) fn picker_for(key: &str) -> Option<&'static str> {
    match key {
        "account" | "credentials" => Some("picker-accounts"),
        "location" | "namespace" | "namespaceOverride" => Some("picker-namespaces"),
        "master" => Some("picker-masters"),
        "job" => Some("picker-jobs"),
        "registry" => Some("picker-registries"),
        "repository" => Some("picker-repositories"),
        _ => None,
    }
}

/// What the lists hold.
#[derive(Clone, Debug, Default, PartialEq)]
struct Suggestions {
    accounts: Vec<String>,
    namespaces: Vec<String>,
    masters: Vec<String>,
    registries: Vec<String>,
    /// Every master's jobs (full names, through folders).
    jobs: Vec<String>,
    /// Every registry's repositories.
    repositories: Vec<String>,
}

// Filled only in the browser (and in the tests).
#[cfg_attr(not(any(feature = "hydrate", test)), allow(dead_code))]
impl Suggestions {
    fn from(
        health: &[crate::model::integrations::IntegrationHealth],
        targets: &[crate::model::DeployTarget],
    ) -> Self {
        let mut s = Self::default();
        for i in health {
            match i.kind.as_str() {
                "kubernetes" => {
                    s.accounts.push(i.name.clone());
                    s.namespaces.extend(i.namespaces.iter().cloned());
                }
                "jenkins" => s.masters.push(i.name.clone()),
                "registry" => s.registries.push(i.name.clone()),
                _ => {}
            }
        }
        for t in targets {
            s.accounts.push(t.account.clone());
            s.namespaces.push(t.namespace.clone());
        }
        s.tidy();
        s
    }

    /// Sorted, without repeats.
    fn tidy(&mut self) {
        for list in [
            &mut self.accounts,
            &mut self.namespaces,
            &mut self.masters,
            &mut self.registries,
            &mut self.jobs,
            &mut self.repositories,
        ] {
            list.sort();
            list.dedup();
        }
    }
}

/// The names a listing answers (`GET` of a JSON list of strings); none when it fails: a
/// suggestion list is a convenience, the field still takes free text.
#[cfg(feature = "hydrate")]
async fn names(url: String) -> Vec<String> {
    match gloo_net::http::Request::get(&url).send().await {
        Ok(r) if r.ok() => r.json::<Vec<String>>().await.unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The `<datalist>`s that [`picker_for`] names, for the page's forms.
#[component]
pub(crate) fn PickerLists() -> impl IntoView {
    let lists = RwSignal::new(Suggestions::default());
    #[cfg(feature = "hydrate")]
    {
        let current = use_context::<super::application_page::CurrentApplication>();
        Effect::new(move |_| {
            let targets = current
                .and_then(|c| c.0.get_untracked())
                .and_then(Result::ok)
                .map(|a| a.deploy_targets)
                .unwrap_or_default();
            leptos::task::spawn_local(async move {
                let health = crate::api::integrations_health().await.unwrap_or_default();
                let mut s = Suggestions::from(&health, &targets);
                lists.set(s.clone());
                let encode = |n: &str| String::from(js_sys::encode_uri_component(n));
                for master in s.masters.clone() {
                    s.jobs
                        .extend(names(format!("/gate/v2/builds/{}/jobs", encode(&master))).await);
                }
                for registry in s.registries.clone() {
                    let url = format!("/api/registries/{}/repositories", encode(&registry));
                    s.repositories.extend(names(url).await);
                }
                s.tidy();
                lists.set(s);
            });
        });
    }
    let list = |id: &'static str, pick: fn(&Suggestions) -> Vec<String>| {
        view! {
            <datalist id=id>
                {move || lists.with(pick).into_iter().map(|v| view! { <option value=v /> }).collect_view()}
            </datalist>
        }
    };
    view! {
        {list("picker-accounts", |s| s.accounts.clone())}
        {list("picker-namespaces", |s| s.namespaces.clone())}
        {list("picker-masters", |s| s.masters.clone())}
        {list("picker-registries", |s| s.registries.clone())}
        {list("picker-jobs", |s| s.jobs.clone())}
        {list("picker-repositories", |s| s.repositories.clone())}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeployTarget;
    use crate::model::integrations::IntegrationHealth;

    fn health(kind: &str, name: &str, namespaces: &[&str]) -> IntegrationHealth {
        IntegrationHealth {
            kind: kind.into(),
            name: name.into(),
            address: String::new(),
            healthy: true,
            detail: String::new(),
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn fields_that_name_configured_things_get_a_list() {
        assert_eq!(picker_for("account"), Some("picker-accounts"));
        assert_eq!(picker_for("location"), Some("picker-namespaces"));
        assert_eq!(picker_for("namespaceOverride"), Some("picker-namespaces"));
        assert_eq!(picker_for("master"), Some("picker-masters"));
        assert_eq!(picker_for("job"), Some("picker-jobs"));
        assert_eq!(picker_for("repository"), Some("picker-repositories"));
        assert_eq!(picker_for("name"), None);
    }

    #[test]
    fn suggestions_merge_accounts_and_deploy_targets_without_repeats() {
        let s = Suggestions::from(
            &[
                health("kubernetes", "sim-1", &["default"]),
                health("jenkins", "ci", &[]),
                health("registry", "hub", &[]),
            ],
            &[
                DeployTarget {
                    account: "sim-1".into(),
                    namespace: "shop-test".into(),
                    environment: String::new(),
                },
                DeployTarget {
                    account: "prod".into(),
                    namespace: "shop".into(),
                    environment: "prod".into(),
                },
            ],
        );
        assert_eq!(s.accounts, ["prod", "sim-1"]);
        assert_eq!(s.namespaces, ["default", "shop", "shop-test"]);
        assert_eq!(s.masters, ["ci"]);
        assert_eq!(s.registries, ["hub"]);
    }
}
