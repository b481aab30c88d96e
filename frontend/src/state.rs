//! Application state shared by every page: who is signed in, and the interface language.

use std::rc::Rc;

use yew::prelude::*;

use crate::i18n::Lang;
use crate::services::users::{AdminUser, Role};

#[derive(Clone, Debug, PartialEq)]
pub struct AppState {
    /// `None` until the first `me` answered.
    pub session: Option<SessionState>,
    pub lang: Lang,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SessionState {
    SignedOut,
    SignedIn {
        user: AdminUser,
        /// The user must set up two-factor authentication before anything else.
        enrollment_required: bool,
    },
}

impl AppState {
    pub fn user(&self) -> Option<&AdminUser> {
        match &self.session {
            Some(SessionState::SignedIn { user, .. }) => Some(user),
            _ => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user().is_some_and(|u| u.role == Role::Admin)
    }

    pub fn t(&self, key: &'static str) -> &'static str {
        self.lang.t(key)
    }
}

pub enum Action {
    SignedIn {
        user: AdminUser,
        enrollment_required: bool,
    },
    /// The server says this session may only set up 2FA.
    EnrollmentRequired,
    EnrollmentCompleted,
    SignedOut,
    SetLang(Lang),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::SignedIn { user, enrollment_required } => {
                next.session = Some(SessionState::SignedIn { user, enrollment_required });
            }
            Action::EnrollmentRequired => {
                if let Some(SessionState::SignedIn { enrollment_required, .. }) = &mut next.session {
                    *enrollment_required = true;
                }
            }
            Action::EnrollmentCompleted => {
                if let Some(SessionState::SignedIn { enrollment_required, user }) = &mut next.session {
                    *enrollment_required = false;
                    user.totp_enabled = true;
                }
            }
            Action::SignedOut => next.session = Some(SessionState::SignedOut),
            Action::SetLang(lang) => {
                lang.remember();
                next.lang = lang;
            }
        }
        Rc::new(next)
    }
}

pub type AppContext = UseReducerHandle<AppState>;

#[derive(Properties, PartialEq)]
pub struct AppProviderProps {
    pub children: Children,
}

#[function_component]
pub fn AppProvider(props: &AppProviderProps) -> Html {
    let state = use_reducer(|| AppState { session: None, lang: Lang::initial() });
    html! { <ContextProvider<AppContext> context={state}>{ props.children.clone() }</ContextProvider<AppContext>> }
}
