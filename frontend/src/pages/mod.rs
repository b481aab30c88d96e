//! One module per page.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod backups;
pub mod crm;
pub mod customer_detail;
pub mod customers;
pub mod devices;
pub mod enroll;
pub mod history;
pub mod institution;
pub mod license_detail;
pub mod license_form;
pub mod licenses;
pub mod live;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod resources;
pub mod template_form;
pub mod templates;
pub mod users;
