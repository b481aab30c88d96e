//! Pieces of the resource pools shared by the pool page and the license page: type labels, the
//! choice of a type, and the release button.

use yew::prelude::*;

use crate::dom::input_value;
use crate::hooks::use_app;
use crate::services::resources::{self, Resource, ResourceType};
use crate::services::ApiError;
use crate::state::AppContext;

pub fn type_label(app: &AppContext, resource_type: ResourceType) -> &'static str {
    app.t(match resource_type {
        ResourceType::Domain => "pool.domain",
        ResourceType::Ipv4 => "pool.ipv4",
        ResourceType::Phone => "pool.phone",
    })
}

/// A Release button's action: returns the resource to the pool, shows a failure in `error`, then
/// runs `after` (reloading what shows the resource) either way.
pub fn release_on_click(
    resource: &Resource,
    busy: &UseStateHandle<bool>,
    error: &UseStateHandle<Option<ApiError>>,
    after: Callback<()>,
) -> Callback<MouseEvent> {
    let (busy, error, id) = (busy.clone(), error.clone(), resource.id.clone());
    Callback::from(move |_: MouseEvent| {
        let (busy, error, after, id) = (busy.clone(), error.clone(), after.clone(), id.clone());
        busy.set(true);
        wasm_bindgen_futures::spawn_local(async move {
            let result = resources::release(&id).await;
            busy.set(false);
            error.set(result.err());
            after.emit(());
        });
    })
}

#[derive(Properties, PartialEq)]
pub struct TypeSelectProps {
    pub id: AttrValue,
    pub value: UseStateHandle<ResourceType>,
}

/// A choice of one resource type, kept in `value`.
#[function_component]
pub fn TypeSelect(props: &TypeSelectProps) -> Html {
    let app = use_app();
    let onchange = {
        let value = props.value.clone();
        Callback::from(move |event: Event| {
            if let Some(t) = ResourceType::parse(&input_value(&event)) {
                value.set(t);
            }
        })
    };
    html! {
        <select id={props.id.clone()} {onchange}>
            { for ResourceType::ALL.into_iter().map(|t| html! {
                <option value={t.as_str()} selected={*props.value == t}>{ type_label(&app, t) }</option>
            }) }
        </select>
    }
}
