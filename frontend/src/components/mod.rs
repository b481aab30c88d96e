//! Building blocks shared by the pages.

pub mod confirm;
pub mod feedback;
pub mod field;
pub mod layout;
pub mod pager;
pub mod sessions_table;
