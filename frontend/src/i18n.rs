//! Interface text in German and English. The language defaults to the browser's and can be
//! switched; the choice is remembered in `localStorage`.

use chrono::{DateTime, Local, Utc};

use crate::services::models::LicenseType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

const STORAGE_KEY: &str = "license-dashboard.lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The remembered choice, else the browser's language (German for any `de-*`), else English.
    pub fn initial() -> Lang {
        let window = web_sys::window();
        let stored = window
            .as_ref()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
        let preferred = stored.or_else(|| window.as_ref().and_then(|w| w.navigator().language()));
        match preferred {
            Some(code) if code.to_ascii_lowercase().starts_with("de") => Lang::De,
            _ => Lang::En,
        }
    }

    pub fn remember(self) {
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item(STORAGE_KEY, self.code());
        }
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = root.set_attribute("lang", self.code());
        }
    }

    pub fn datetime(self, at: &DateTime<Utc>) -> String {
        let local = at.with_timezone(&Local);
        match self {
            Lang::De => local.format("%d.%m.%Y %H:%M:%S").to_string(),
            Lang::En => local.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }

    pub fn date(self, at: &DateTime<Utc>) -> String {
        let local = at.with_timezone(&Local);
        match self {
            Lang::De => local.format("%d.%m.%Y").to_string(),
            Lang::En => local.format("%Y-%m-%d").to_string(),
        }
    }

    pub fn license_type(self, license_type: LicenseType) -> &'static str {
        self.t(match license_type {
            LicenseType::Trial => "type.trial",
            LicenseType::Subscription => "type.subscription",
            LicenseType::Perpetual => "type.perpetual",
        })
    }

    pub fn end_reason(self, reason: &str) -> &'static str {
        self.t(match reason {
            "CLIENT_ENDED" => "reason.client_ended",
            "TIMEOUT" => "reason.timeout",
            "ADMIN_TERMINATED" => "reason.admin_terminated",
            "DEVICE_DEACTIVATED" => "reason.device_deactivated",
            "LICENSE_REVOKED" => "reason.license_revoked",
            _ => "reason.other",
        })
    }

    /// The text for `key`; a missing key shows itself, so it is noticed.
    pub fn t(self, key: &'static str) -> &'static str {
        match TEXTS.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, de)) => match self {
                Lang::En => en,
                Lang::De => de,
            },
            None => key,
        }
    }
}

/// (key, English, German)
const TEXTS: &[(&str, &str, &str)] = &[
    ("app.title", "License Server", "Lizenzserver"),
    ("loading", "Loading…", "Wird geladen …"),
    ("cancel", "Cancel", "Abbrechen"),
    ("confirm", "Confirm", "Bestätigen"),
    ("save", "Save", "Speichern"),
    ("edit", "Edit", "Bearbeiten"),
    ("search", "Search", "Suchen"),
    ("filter", "Apply filter", "Filtern"),
    ("filter.clear", "Clear filter", "Filter entfernen"),
    ("copy", "Copy", "Kopieren"),
    ("copied", "Copied ✓", "Kopiert ✓"),
    ("never", "never", "nie"),
    ("logout", "Sign out", "Abmelden"),
    ("form.number", "Please enter a whole number.", "Bitte eine ganze Zahl eingeben."),
    ("nav.live", "Live sessions", "Live-Sitzungen"),
    ("nav.licenses", "Licenses", "Lizenzen"),
    ("nav.customers", "Customers", "Kunden"),
    ("nav.api_keys", "API keys", "API-Schlüssel"),
    ("nav.audit", "Audit log", "Audit-Log"),
    ("nav.users", "Users", "Benutzer"),
    ("role.admin", "Admin", "Admin"),
    ("role.analyst", "Analyst", "Analyst"),
    ("scope.admin", "Admin", "Admin"),
    ("scope.analyst", "Analyst (read only)", "Analyst (nur lesen)"),
    ("scope.client", "Client application", "Client-Anwendung"),
    ("pager.total", "in total", "insgesamt"),
    ("pager.previous", "Previous", "Zurück"),
    ("pager.next", "Next", "Weiter"),
    ("error.network", "The server cannot be reached. Check your connection and try again.", "Der Server ist nicht erreichbar. Bitte Verbindung prüfen und erneut versuchen."),
    ("error.unauthenticated", "Your session has ended. Please sign in again.", "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an."),
    ("error.enrollment", "Please set up two-factor authentication first.", "Bitte richten Sie zuerst die Zwei-Faktor-Authentisierung ein."),
    ("error.forbidden", "Your role does not allow this.", "Ihre Rolle erlaubt diese Aktion nicht."),
    ("error.not_found", "This no longer exists. It may have been removed.", "Dieser Eintrag existiert nicht (mehr)."),
    ("error.invalid", "Please check your input:", "Bitte Eingabe prüfen:"),
    ("error.server", "Something went wrong on the server. Please try again.", "Auf dem Server ist ein Fehler aufgetreten. Bitte erneut versuchen."),
    ("login.title", "Sign in", "Anmelden"),
    ("login.subtitle", "Administration of licenses, devices and sessions.", "Verwaltung von Lizenzen, Geräten und Sitzungen."),
    ("login.username", "Username", "Benutzername"),
    ("login.password", "Password", "Passwort"),
    ("login.submit", "Sign in", "Anmelden"),
    ("login.failed", "Username or password is wrong, or the account is locked for a moment.", "Benutzername oder Passwort falsch, oder das Konto ist vorübergehend gesperrt."),
    ("login.code_failed", "This code was not accepted. Wait for the next code and try again.", "Dieser Code wurde nicht akzeptiert. Bitte den nächsten Code abwarten und erneut versuchen."),
    ("login.totp_title", "Two-factor authentication", "Zwei-Faktor-Authentisierung"),
    ("login.totp_help", "Enter the 6-digit code from your authenticator app.", "Geben Sie den 6-stelligen Code aus Ihrer Authenticator-App ein."),
    ("login.code", "Code", "Code"),
    ("login.verify", "Verify", "Bestätigen"),
    ("login.use_recovery", "Use a recovery code instead", "Stattdessen Wiederherstellungscode verwenden"),
    ("login.start_over", "Start over", "Von vorn beginnen"),
    ("login.recovery_title", "Recovery code", "Wiederherstellungscode"),
    ("login.recovery_help", "Each recovery code works once.", "Jeder Wiederherstellungscode funktioniert nur einmal."),
    ("login.recovery_code", "Recovery code", "Wiederherstellungscode"),
    ("enroll.title", "Set up two-factor authentication", "Zwei-Faktor-Authentisierung einrichten"),
    ("enroll.help", "Scan the QR code with an authenticator app (or type the secret), then enter the code it shows.", "Scannen Sie den QR-Code mit einer Authenticator-App (oder geben Sie den Schlüssel ein) und tragen Sie den angezeigten Code ein."),
    ("enroll.secret", "Secret", "Schlüssel"),
    ("enroll.uri", "otpauth URI", "otpauth-URI"),
    ("enroll.confirm", "Turn on two-factor authentication", "Zwei-Faktor-Authentisierung aktivieren"),
    ("enroll.codes_title", "Your recovery codes", "Ihre Wiederherstellungscodes"),
    ("enroll.codes_once", "Store these codes somewhere safe. They are shown only now; each works once if you lose your phone.", "Bewahren Sie diese Codes sicher auf. Sie werden nur jetzt angezeigt; jeder funktioniert einmal, falls Ihr Telefon verloren geht."),
    ("enroll.saved", "I have saved the codes", "Ich habe die Codes gespeichert"),
    ("live.title", "Live sessions", "Live-Sitzungen"),
    ("live.subtitle", "Sessions in use right now, updated in real time.", "Aktuell genutzte Sitzungen, in Echtzeit aktualisiert."),
    ("live.connected", "Live", "Live"),
    ("live.reconnecting", "Connecting…", "Verbinde …"),
    ("live.filter_placeholder", "Filter by license key", "Nach Lizenzschlüssel filtern"),
    ("live.no_such_license", "No license has this key.", "Keine Lizenz hat diesen Schlüssel."),
    ("live.empty", "No live sessions right now.", "Derzeit keine aktiven Sitzungen."),
    ("live.device", "Device", "Gerät"),
    ("live.license", "License", "Lizenz"),
    ("live.customer", "Customer", "Kunde"),
    ("live.started", "Started", "Gestartet"),
    ("live.last_heartbeat", "Last heartbeat", "Letzter Heartbeat"),
    ("live.expires", "Expires", "Läuft ab"),
    ("live.ip", "IP address", "IP-Adresse"),
    ("live.terminate", "Terminate", "Beenden"),
    ("live.terminate_title", "Terminate session?", "Sitzung beenden?"),
    ("live.terminate_message", "The client's next heartbeat will be refused. Device:", "Der nächste Heartbeat des Clients wird abgelehnt. Gerät:"),
    ("licenses.title", "Licenses", "Lizenzen"),
    ("licenses.subtitle", "Search by key, customer name or e-mail.", "Suche nach Schlüssel, Kundenname oder E-Mail."),
    ("licenses.new", "New license", "Neue Lizenz"),
    ("licenses.search", "Key, customer or e-mail", "Schlüssel, Kunde oder E-Mail"),
    ("licenses.status", "Status", "Status"),
    ("licenses.all", "All statuses", "Alle Status"),
    ("licenses.empty", "No licenses match.", "Keine passenden Lizenzen."),
    ("license.key", "License key", "Lizenzschlüssel"),
    ("license.customer", "Customer", "Kunde"),
    ("license.customer_required", "Please choose a customer.", "Bitte einen Kunden wählen."),
    ("license.no_customers", "Create a customer first.", "Bitte zuerst einen Kunden anlegen."),
    ("license.type", "Type", "Typ"),
    ("license.devices", "Devices", "Geräte"),
    ("license.sessions", "Sessions", "Sitzungen"),
    ("license.status", "Status", "Status"),
    ("license.active", "Active", "Aktiv"),
    ("license.inactive", "Inactive", "Inaktiv"),
    ("license.expired", "Expired", "Abgelaufen"),
    ("license.unlimited", "unlimited", "unbegrenzt"),
    ("license.valid_from", "Valid from", "Gültig ab"),
    ("license.valid_until", "Valid until", "Gültig bis"),
    ("license.valid_until_hint", "Empty: no end date.", "Leer: ohne Enddatum."),
    ("license.device_limit", "Device limit", "Geräte-Limit"),
    ("license.device_limit_hint", "1 to 10 devices.", "1 bis 10 Geräte."),
    ("license.concurrent_limit", "Concurrent sessions", "Gleichzeitige Sitzungen"),
    ("license.concurrent_hint", "At least 1, at most the device limit.", "Mindestens 1, höchstens das Geräte-Limit."),
    ("license.notes", "Notes", "Notizen"),
    ("license.edit", "Edit", "Bearbeiten"),
    ("license.activate", "Activate", "Aktivieren"),
    ("license.activate_message", "Devices may start sessions on this license again.", "Geräte können mit dieser Lizenz wieder Sitzungen starten."),
    ("license.deactivate", "Deactivate", "Deaktivieren"),
    ("license.deactivate_title", "Deactivate license?", "Lizenz deaktivieren?"),
    ("license.deactivate_message", "All live sessions of this license end now, and no device can start a new one.", "Alle aktiven Sitzungen dieser Lizenz enden sofort, und kein Gerät kann eine neue starten."),
    ("license.live_sessions", "Live sessions", "Aktive Sitzungen"),
    ("license.devices_title", "Devices", "Geräte"),
    ("license.no_devices", "No devices have been activated yet.", "Noch keine Geräte aktiviert."),
    ("license.history", "Session history", "Sitzungsverlauf"),
    ("license.no_history", "No ended sessions yet.", "Noch keine beendeten Sitzungen."),
    ("type.trial", "Trial", "Testversion"),
    ("type.subscription", "Subscription", "Abonnement"),
    ("type.perpetual", "Perpetual", "Unbefristet"),
    ("device.type", "Type", "Typ"),
    ("device.first_activated", "First activated", "Erstmals aktiviert"),
    ("device.last_seen", "Last seen", "Zuletzt gesehen"),
    ("device.active", "Active", "Aktiv"),
    ("device.inactive", "Deactivated", "Deaktiviert"),
    ("device.deactivate", "Deactivate", "Deaktivieren"),
    ("device.deactivate_title", "Deactivate device?", "Gerät deaktivieren?"),
    ("device.deactivate_message", "This frees its slot and ends its live session. Device:", "Dadurch wird der Platz frei und die aktive Sitzung beendet. Gerät:"),
    ("history.ended", "Ended", "Beendet"),
    ("history.reason", "Reason", "Grund"),
    ("reason.client_ended", "Ended by the client", "Vom Client beendet"),
    ("reason.timeout", "Timed out", "Zeitüberschreitung"),
    ("reason.admin_terminated", "Terminated by an admin", "Von Admin beendet"),
    ("reason.device_deactivated", "Device deactivated", "Gerät deaktiviert"),
    ("reason.license_revoked", "License deactivated", "Lizenz deaktiviert"),
    ("reason.other", "Other", "Sonstiges"),
    ("customers.title", "Customers", "Kunden"),
    ("customers.subtitle", "Who holds licenses.", "Wer Lizenzen hält."),
    ("customers.new", "New customer", "Neuer Kunde"),
    ("customers.edit", "Edit customer", "Kunde bearbeiten"),
    ("customers.search", "Name or e-mail", "Name oder E-Mail"),
    ("customers.empty", "No customers match.", "Keine passenden Kunden."),
    ("customer.name", "Name", "Name"),
    ("customer.email", "E-mail", "E-Mail"),
    ("customer.created", "Created", "Angelegt"),
    ("customer.test", "Test", "Test"),
    ("customer.is_test", "Test customer (not billed)", "Testkunde (keine Abrechnung)"),
    ("keys.title", "API keys", "API-Schlüssel"),
    ("keys.subtitle", "Keys for client applications and integrations. A key is shown once, when it is generated.", "Schlüssel für Client-Anwendungen und Integrationen. Ein Schlüssel wird nur einmal angezeigt, beim Generieren."),
    ("keys.generate", "Generate system API key", "System-API-Key generieren"),
    ("keys.generated", "New key", "Neuer Schlüssel"),
    ("keys.shown_once", "Copy this key now. It will not be shown again; only its fingerprint is stored.", "Kopieren Sie diesen Schlüssel jetzt. Er wird nicht erneut angezeigt; gespeichert wird nur sein Fingerabdruck."),
    ("keys.done", "Done", "Fertig"),
    ("keys.name", "Name", "Name"),
    ("keys.name_placeholder", "e.g. Desktop app 2026", "z. B. Desktop-App 2026"),
    ("keys.scope", "Scope", "Berechtigung"),
    ("keys.prefix", "Prefix", "Präfix"),
    ("keys.created_by", "Created by", "Erstellt von"),
    ("keys.created", "Created", "Erstellt"),
    ("keys.last_used", "Last used", "Zuletzt benutzt"),
    ("keys.active", "Active", "Aktiv"),
    ("keys.revoked", "Revoked", "Widerrufen"),
    ("keys.revoke", "Revoke", "Widerrufen"),
    ("keys.revoke_title", "Revoke API key?", "API-Schlüssel widerrufen?"),
    ("keys.revoke_message", "Requests with this key are refused from now on. Key:", "Anfragen mit diesem Schlüssel werden ab sofort abgelehnt. Schlüssel:"),
    ("keys.empty", "No API keys yet.", "Noch keine API-Schlüssel."),
    ("audit.title", "Audit log", "Audit-Log"),
    ("audit.subtitle", "Every change: who, when, from where, and what changed.", "Jede Änderung: wer, wann, von wo und was sich geändert hat."),
    ("audit.entity", "Entity", "Objekt"),
    ("audit.action", "Action", "Aktion"),
    ("audit.actor", "Actor", "Akteur"),
    ("audit.from", "From", "Von"),
    ("audit.to", "To", "Bis"),
    ("audit.when", "When", "Zeitpunkt"),
    ("audit.ip", "IP address", "IP-Adresse"),
    ("audit.changes", "Changes", "Änderungen"),
    ("audit.hide", "Hide", "Ausblenden"),
    ("audit.old", "Before", "Vorher"),
    ("audit.new", "After", "Nachher"),
    ("audit.empty", "No entries match.", "Keine passenden Einträge."),
    ("users.title", "Users", "Benutzer"),
    ("users.subtitle", "Dashboard accounts. Admins must use two-factor authentication.", "Dashboard-Konten. Admins müssen die Zwei-Faktor-Authentisierung nutzen."),
    ("users.new", "New user", "Neuer Benutzer"),
    ("users.create", "Create user", "Benutzer anlegen"),
    ("users.initial_password", "Initial password", "Anfangspasswort"),
    ("users.role", "Role", "Rolle"),
    ("users.two_factor", "2FA", "2FA"),
    ("users.totp_on", "On", "Aktiv"),
    ("users.totp_off", "Not set up", "Nicht eingerichtet"),
    ("users.enabled", "Enabled", "Aktiv"),
    ("users.disabled", "Disabled", "Gesperrt"),
    ("users.last_login", "Last sign-in", "Letzte Anmeldung"),
    ("users.disable", "Disable", "Sperren"),
    ("users.enable", "Enable", "Entsperren"),
    ("users.reset_totp", "Reset 2FA", "2FA zurücksetzen"),
    ("users.disable_message", "The user is signed out everywhere and cannot sign in. User:", "Der Benutzer wird überall abgemeldet und kann sich nicht mehr anmelden. Benutzer:"),
    ("users.enable_message", "The user can sign in again. User:", "Der Benutzer kann sich wieder anmelden. Benutzer:"),
    ("users.reset_message", "The user must set up 2FA again at the next sign-in. User:", "Der Benutzer muss die 2FA bei der nächsten Anmeldung neu einrichten. Benutzer:"),
    ("nav.backups", "Backups", "Backups"),
    ("backups.title", "Backups", "Backups"),
    ("backups.subtitle", "Database backups, newest first: taken daily and on demand, each with its size and SHA-256 checksum.", "Datenbank-Backups, neueste zuerst: täglich und auf Wunsch erstellt, jeweils mit Größe und SHA-256-Prüfsumme."),
    ("backups.create", "Create backup now", "Backup jetzt erstellen"),
    ("backups.working", "Working…", "Wird ausgeführt…"),
    ("backups.created", "Backup created:", "Backup erstellt:"),
    ("backups.empty", "No backups yet.", "Noch keine Backups."),
    ("backups.created_at", "Created", "Erstellt"),
    ("backups.kind", "Kind", "Art"),
    ("backups.manual", "Manual", "Manuell"),
    ("backups.scheduled", "Scheduled", "Geplant"),
    ("backups.status", "Status", "Status"),
    ("backups.completed", "Completed", "Fertig"),
    ("backups.running", "Running", "Läuft"),
    ("backups.failed", "Failed", "Fehlgeschlagen"),
    ("backups.size", "Size", "Größe"),
    ("backups.created_by", "Created by", "Erstellt von"),
    ("backups.remote", "Git remote", "Git-Remote"),
    ("backups.pushed", "Pushed", "Übertragen"),
    ("backups.push_pending", "Waiting", "Ausstehend"),
    ("backups.push_failed", "Push failed, retrying", "Übertragung fehlgeschlagen, wird wiederholt"),
    ("backups.no_remote", "No remote configured", "Kein Remote eingerichtet"),
    ("backups.verify", "Verify", "Prüfen"),
    ("backups.verified", "Checksum and archive are fine:", "Prüfsumme und Archiv sind in Ordnung:"),
    ("backups.verify_failed", "Verification failed for", "Prüfung fehlgeschlagen für"),
    ("backups.restore", "Restore", "Wiederherstellen"),
    ("backups.restore_confirm", "Restore this backup", "Dieses Backup wiederherstellen"),
    ("backups.restore_message", "Every table is replaced by its contents in this backup; changes made since are lost. Backup:", "Jede Tabelle wird durch ihren Inhalt in diesem Backup ersetzt; spätere Änderungen gehen verloren. Backup:"),
    ("backups.restored", "Restored:", "Wiederhergestellt:"),
    ("not_found.title", "Page not found", "Seite nicht gefunden"),
    ("not_found.back", "Back to live sessions", "Zurück zu den Live-Sitzungen"),
];
