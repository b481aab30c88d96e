//! The admin dashboard: a Yew single-page application served by the license server at `/`.

mod app;
mod components;
mod dom;
mod hooks;
mod i18n;
mod pages;
mod route;
mod services;
mod state;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
