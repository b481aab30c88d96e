// No imports and no inner attributes here: `tests/api/dashboard_contract.rs` includes this file.

/// One operation with its fragments, as sent to `/graphql` or `/ws`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Document(&'static str);

impl Document {
    pub const fn text(self) -> &'static str {
        self.0
    }
}

/// `NAME = "operation.graphql" + "fragment.graphql" …;` (paths below `graphql/`) makes the
/// constant `NAME`; under test also `ALL` (every document by name) and `FILES` (every file used).
macro_rules! documents {
    ($($name:ident = $operation:literal $(+ $fragment:literal)*;)*) => {
        $(pub const $name: Document =
            Document(concat!(include_str!(concat!("graphql/", $operation)) $(, include_str!(concat!("graphql/", $fragment)))*));)*

        #[cfg(test)]
        pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $name.text())),*];

        #[cfg(test)]
        pub const FILES: &[&str] = &[$($operation $(, $fragment)*),*];
    };
}

documents! {
    ME = "auth/me.graphql" + "users/admin_user.graphql";
    LOGIN = "auth/login.graphql" + "auth/login_result.graphql" + "users/admin_user.graphql";
    VERIFY_TOTP = "auth/verify_totp.graphql" + "auth/login_result.graphql" + "users/admin_user.graphql";
    USE_RECOVERY_CODE = "auth/use_recovery_code.graphql" + "auth/login_result.graphql" + "users/admin_user.graphql";
    LOGOUT = "auth/logout.graphql";
    ENROLL_TOTP = "auth/enroll_totp.graphql";
    CONFIRM_TOTP = "auth/confirm_totp.graphql";

    PASSWORD_POLICY = "account/password_policy.graphql";
    MY_DASHBOARD_SESSIONS = "account/my_dashboard_sessions.graphql";
    END_DASHBOARD_SESSION = "account/end_dashboard_session.graphql";
    END_OTHER_DASHBOARD_SESSIONS = "account/end_other_dashboard_sessions.graphql";
    CHANGE_PASSWORD = "account/change_password.graphql";
    REGENERATE_RECOVERY_CODES = "account/regenerate_recovery_codes.graphql";
    DISABLE_TOTP = "account/disable_totp.graphql" + "users/admin_user.graphql";

    ADMIN_USERS = "users/admin_users.graphql" + "users/admin_user.graphql";
    CREATE_ADMIN_USER = "users/create_admin_user.graphql" + "users/admin_user.graphql";
    DISABLE_ADMIN_USER = "users/disable_admin_user.graphql" + "users/admin_user.graphql";
    ENABLE_ADMIN_USER = "users/enable_admin_user.graphql" + "users/admin_user.graphql";
    RESET_ADMIN_USER_TOTP = "users/reset_admin_user_totp.graphql" + "users/admin_user.graphql";
    SET_ADMIN_USER_ROLE = "users/set_admin_user_role.graphql" + "users/admin_user.graphql";

    API_KEYS = "api_keys/api_keys.graphql" + "api_keys/api_key.graphql";
    GENERATE_API_KEY = "api_keys/generate_api_key.graphql" + "api_keys/api_key.graphql";
    REVOKE_API_KEY = "api_keys/revoke_api_key.graphql" + "api_keys/api_key.graphql";
    SET_API_KEY_RATE_LIMIT = "api_keys/set_api_key_rate_limit.graphql" + "api_keys/api_key.graphql";
    CLEAR_API_KEY_RATE_LIMIT = "api_keys/clear_api_key_rate_limit.graphql" + "api_keys/api_key.graphql";

    SIGNING_KEYS = "leases/signing_keys.graphql" + "leases/signing_key.graphql";
    ROTATE_SIGNING_KEY = "leases/rotate_signing_key.graphql" + "leases/signing_key.graphql";
    ISSUE_OFFLINE_LEASE = "leases/issue_offline_lease.graphql";

    AUDIT_LOG = "audit/audit_log.graphql" + "page_info.graphql";

    BACKUPS = "backups/backups.graphql" + "backups/backup.graphql" + "page_info.graphql";
    CREATE_BACKUP = "backups/create_backup.graphql" + "backups/backup.graphql";
    VERIFY_BACKUP = "backups/verify_backup.graphql" + "backups/backup.graphql";
    RESTORE_BACKUP = "backups/restore_backup.graphql" + "backups/backup.graphql";
    BACKUP_SCHEDULE = "backups/backup_schedule.graphql";
    REMOTE_BACKUPS = "backups/remote_backups.graphql";
    RESTORE_REMOTE_BACKUP = "backups/restore_remote_backup.graphql";

    CUSTOMERS = "customers/customers.graphql" + "customers/customer.graphql" + "page_info.graphql";
    CREATE_CUSTOMER = "customers/create_customer.graphql" + "customers/customer.graphql";
    UPDATE_CUSTOMER = "customers/update_customer.graphql" + "customers/customer.graphql";
    CUSTOMER_DETAIL = "customers/customer_detail.graphql" + "customers/customer.graphql" + "licenses/license_fields.graphql";

    LICENSES = "licenses/licenses.graphql" + "licenses/license_fields.graphql" + "page_info.graphql";
    LICENSE = "licenses/license.graphql" + "licenses/license_fields.graphql";
    LICENSE_BY_KEY = "licenses/license_by_key.graphql";
    CREATE_LICENSE = "licenses/create_license.graphql" + "licenses/license_fields.graphql";
    UPDATE_LICENSE = "licenses/update_license.graphql" + "licenses/license_fields.graphql";
    ACTIVATE_LICENSE = "licenses/activate_license.graphql" + "licenses/license_fields.graphql";
    DEACTIVATE_LICENSE = "licenses/deactivate_license.graphql" + "licenses/license_fields.graphql";

    LICENSE_TEMPLATES = "license_templates/license_templates.graphql" + "license_templates/license_template.graphql" + "page_info.graphql";
    LICENSE_TEMPLATE_CHOICES = "license_templates/license_template_choices.graphql" + "license_templates/license_template.graphql";
    LICENSE_TEMPLATE = "license_templates/get_license_template.graphql" + "license_templates/license_template.graphql";
    CREATE_LICENSE_TEMPLATE = "license_templates/create_license_template.graphql" + "license_templates/license_template.graphql";
    UPDATE_LICENSE_TEMPLATE = "license_templates/update_license_template.graphql" + "license_templates/license_template.graphql";
    DELETE_LICENSE_TEMPLATE = "license_templates/delete_license_template.graphql";

    LICENSE_DEVICES = "devices/license_devices.graphql" + "devices/device.graphql";
    DEACTIVATE_DEVICE = "devices/deactivate_device.graphql" + "devices/device.graphql";
    DEVICES = "devices/devices.graphql" + "devices/device.graphql" + "page_info.graphql";

    LIVE_SESSIONS = "sessions/live_sessions.graphql";
    TERMINATE_SESSION = "sessions/terminate_session.graphql";
    SESSION_HISTORY = "sessions/session_history.graphql" + "page_info.graphql";
    ALL_SESSION_HISTORY = "sessions/all_session_history.graphql" + "page_info.graphql";

    RESOURCE_POOL_COUNTS = "resources/pool_counts.graphql";
    RESOURCES = "resources/resources.graphql" + "resources/resource.graphql" + "page_info.graphql";
    RESOURCE_HISTORY = "resources/resource_history.graphql";
    LICENSE_RESOURCES = "resources/license_resources.graphql" + "resources/resource.graphql";
    IMPORT_RESOURCES = "resources/import_resources.graphql";
    ALLOCATE_RESOURCES = "resources/allocate_resources.graphql" + "resources/resource.graphql";
    RELEASE_RESOURCE = "resources/release_resource.graphql" + "resources/resource.graphql";
    QUARANTINE_RESOURCE = "resources/quarantine_resource.graphql" + "resources/resource.graphql";

    INSTITUTIONS = "crm/institutions.graphql" + "crm/institution_fields.graphql" + "page_info.graphql";
    INSTITUTION = "crm/institution.graphql" + "crm/institution_fields.graphql" + "crm/contact.graphql" + "crm/note.graphql";
    SEARCH_CRM = "crm/search_crm.graphql";
    CREATE_INSTITUTION = "crm/create_institution.graphql" + "crm/institution_fields.graphql";
    UPDATE_INSTITUTION = "crm/update_institution.graphql" + "crm/institution_fields.graphql";
    CREATE_CONTACT = "crm/create_contact.graphql" + "crm/contact.graphql" + "crm/note.graphql";
    UPDATE_CONTACT = "crm/update_contact.graphql" + "crm/contact.graphql" + "crm/note.graphql";
    ADD_NOTE = "crm/add_note.graphql" + "crm/note.graphql";
    EDIT_NOTE = "crm/edit_note.graphql" + "crm/note.graphql";
    LINK_INSTITUTION_TO_CUSTOMER = "crm/link_institution_to_customer.graphql" + "crm/institution_fields.graphql";
    UNLINK_INSTITUTION_FROM_CUSTOMER = "crm/unlink_institution_from_customer.graphql" + "crm/institution_fields.graphql";
    CONVERT_INSTITUTION_TO_CUSTOMER = "crm/convert_institution_to_customer.graphql" + "crm/institution_fields.graphql";

    LICENSE_COUNTS = "analytics/license_counts.graphql";
    LICENSE_USAGE = "analytics/license_usage.graphql";
    SESSIONS_PER_DAY = "analytics/sessions_per_day.graphql";
    HEARTBEAT_COUNTS = "analytics/heartbeat_counts.graphql";
    PEAK_CONCURRENT_SESSIONS = "analytics/peak_concurrent_sessions.graphql";
    EXPIRING_LICENSES = "licenses/expiring_licenses.graphql" + "licenses/license_fields.graphql" + "page_info.graphql";
}
