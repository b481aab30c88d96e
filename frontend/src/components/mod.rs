//! Building blocks shared by the pages.

pub mod bar_chart;
pub mod clipboard;
pub mod confirm;
pub mod customer_picker;
pub mod device_cells;
pub mod feedback;
pub mod field;
pub mod institution;
pub mod layout;
pub mod license_resources;
pub mod license_status;
pub mod license_terms;
pub mod modal;
pub mod offline_lease;
pub mod paged_table;
pub mod pager;
pub mod recovery_codes;
pub mod remote_backups;
pub mod resource_pool;
pub mod search_toolbar;
pub mod sessions_table;
pub mod signing_keys;
