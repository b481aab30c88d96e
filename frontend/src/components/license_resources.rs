//! The resources a license holds, on the license page: release, and allocation (admins).

use yew::prelude::*;

use super::feedback::{Empty, ErrorBanner, Loading};
use super::field::{bind, Field};
use super::resource_pool::{release_on_click, type_label, TypeSelect};
use crate::hooks::{use_app, use_load, Load};
use crate::services::resources::{self, AllocationResult, Resource, ResourceType};
use crate::services::ApiError;

#[derive(Properties, PartialEq)]
pub struct LicenseResourcesProps {
    pub license_id: String,
}

/// The resources a license holds, with release and (admins) allocation of more: all asked for, or
/// none with how many are available.
#[function_component]
pub fn LicenseResources(props: &LicenseResourcesProps) -> Html {
    let app = use_app();
    let (held, reload) =
        use_load(props.license_id.clone(), |id: String| async move { resources::of_license(&id).await });
    let resource_type = use_state(|| ResourceType::Domain);
    let count = use_state(|| "1".to_owned());
    let error = use_state(|| None::<ApiError>);
    let outcome = use_state(|| None::<Result<Vec<String>, String>>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (resource_type, count, error, outcome, busy, reload) =
            (resource_type.clone(), count.clone(), error.clone(), outcome.clone(), busy.clone(), reload.clone());
        let (license_id, not_a_number) = (props.license_id.clone(), app.t("form.number"));
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Ok(n) = count.trim().parse::<i32>() else {
                error.set(Some(ApiError::Invalid { field: Some("count".into()), message: not_a_number.into() }));
                return;
            };
            let (resource_type, error, outcome, busy, reload, license_id) =
                (*resource_type, error.clone(), outcome.clone(), busy.clone(), reload.clone(), license_id.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = resources::allocate(&license_id, resource_type, n).await;
                busy.set(false);
                match result {
                    Ok(AllocationResult::ResourcesAllocated { resources }) => {
                        error.set(None);
                        outcome.set(Some(Ok(resources.into_iter().map(|r| r.value).collect())));
                        reload.emit(());
                    }
                    Ok(AllocationResult::AllocationDenied { message, .. }) => {
                        error.set(None);
                        outcome.set(Some(Err(message)));
                    }
                    Err(err) => {
                        outcome.set(None);
                        error.set(Some(err));
                    }
                }
            });
        })
    };
    let after_release = {
        let (outcome, reload) = (outcome.clone(), reload.clone());
        Callback::from(move |()| {
            outcome.set(None);
            reload.emit(());
        })
    };
    let release = |resource: &Resource| release_on_click(resource, &busy, &error, after_release.clone());
    let count_error = error.as_ref().and_then(|e| e.for_field("count"));

    html! {
        <div data-testid="license-resources">
            if app.is_admin() {
                <form class="toolbar-form allocate-form" {onsubmit} novalidate=true data-testid="allocate-form">
                    <div class="row align-end">
                    <Field label={app.t("pool.type")} id="allocate-type">
                        <TypeSelect id="allocate-type" value={resource_type.clone()} />
                    </Field>
                    <Field label={app.t("pool.count")} id="allocate-count" error={count_error}>
                        <input id="allocate-count" type="number" min="1" value={(*count).clone()} oninput={bind(&count)} />
                    </Field>
                    <button class="btn btn-primary" type="submit" disabled={*busy}>{ app.t("pool.allocate") }</button>
                    </div>
                </form>
            }
            if let Some(err) = error.as_ref().filter(|e| !e.is_field_error()) { <ErrorBanner error={err.clone()} /> }
            { match &*outcome {
                Some(Ok(values)) => html! {
                    <div class="alert alert-success" role="status">
                        { app.t("pool.allocated_now") }{ " " }<span class="mono">{ values.join(", ") }</span>
                    </div>
                },
                Some(Err(message)) => html! {
                    <div class="alert alert-warning" role="alert" data-testid="allocation-denied">{ message.clone() }</div>
                },
                None => html! {},
            } }
            { match &*held {
                Load::Loading => html! { <Loading /> },
                Load::Failed(err) => html! { <ErrorBanner error={err.clone()} /> },
                Load::Loaded(held) if held.is_empty() => html! { <Empty message={app.t("pool.none_allocated")} /> },
                Load::Loaded(held) => html! {
                    <div class="table-wrap">
                    <table class="table" data-testid="allocated-resources">
                        <thead><tr>
                            <th>{ app.t("pool.value") }</th><th>{ app.t("pool.type") }</th><th>{ app.t("pool.updated") }</th>
                            if app.is_admin() { <th class="actions"></th> }
                        </tr></thead>
                        <tbody>
                        { for held.iter().map(|resource| html! {
                            <tr key={resource.id.clone()} data-value={resource.value.clone()}>
                                <td class="mono strong">{ resource.value.clone() }</td>
                                <td>{ type_label(&app, resource.resource_type) }</td>
                                <td>{ app.lang.datetime(&resource.updated_at) }</td>
                                if app.is_admin() {
                                    <td class="actions">
                                        <button class="btn btn-small" onclick={release(resource)} disabled={*busy}>{ app.t("pool.release") }</button>
                                    </td>
                                }
                            </tr>
                        }) }
                        </tbody>
                    </table>
                    </div>
                },
            } }
        </div>
    }
}
