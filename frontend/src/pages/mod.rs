//! One module per page.

pub mod api_keys;
pub mod audit;
pub mod backups;
pub mod crm;
pub mod customers;
pub mod enroll;
pub mod institution;
pub mod license_detail;
pub mod license_form;
pub mod licenses;
pub mod live;
pub mod login;
pub mod not_found;
pub mod resources;
pub mod template_form;
pub mod templates;
pub mod users;
