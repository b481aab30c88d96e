//! Interface text in German and English. The language defaults to the browser's and can be
//! switched; the choice is remembered in `localStorage`.

use std::fmt;

use chrono::{DateTime, Datelike, Local, NaiveDate, Timelike, Utc};

use crate::services::licenses::LicenseType;
use crate::services::sessions::EndReason;

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

    // Dates are written with `format!`, not chrono's `format`: its strftime interpreter would be
    // the largest part of chrono in the wasm module, for four fixed patterns.

    /// A moment in the browser's time zone: "05.12.2026 14:03:09" or "2026-12-05 14:03:09".
    pub fn datetime(self, at: &DateTime<Utc>) -> String {
        let local = at.with_timezone(&Local);
        format!("{} {:02}:{:02}:{:02}", self.day(local.date_naive()), local.hour(), local.minute(), local.second())
    }

    /// A moment's day in the browser's time zone.
    pub fn date(self, at: &DateTime<Utc>) -> String {
        self.day(at.with_timezone(&Local).date_naive())
    }

    /// A day in full: "05.12.2026" or "2026-12-05".
    pub fn day(self, day: NaiveDate) -> String {
        match self {
            Lang::De => format!("{:02}.{:02}.{}", day.day(), day.month(), day.year()),
            Lang::En => day.to_string(),
        }
    }

    /// A day as a short axis label: "5.12." or "Dec 5".
    pub fn short_day(self, day: NaiveDate) -> String {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        match self {
            Lang::De => format!("{}.{}.", day.day(), day.month()),
            Lang::En => format!("{} {}", MONTHS[day.month0() as usize], day.day()),
        }
    }

    /// A whole number with the language's thousands separator: "12.345" or "12,345".
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let separator = match self {
            Lang::De => '.',
            Lang::En => ',',
        };
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if n < 0 {
            grouped.push('-');
        }
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(separator);
            }
            grouped.push(digit);
        }
        grouped
    }

    /// A share (0–1) in whole percent: "75 %" or "75%".
    pub fn percent(self, share: f64) -> String {
        let percent = Fixed(share * 100.0, 0);
        match self {
            Lang::De => format!("{percent} %"),
            Lang::En => format!("{percent}%"),
        }
    }

    pub fn license_type(self, license_type: LicenseType) -> &'static str {
        self.t(match license_type {
            LicenseType::Trial => "type.trial",
            LicenseType::Subscription => "type.subscription",
            LicenseType::Perpetual => "type.perpetual",
        })
    }

    pub fn end_reason(self, reason: EndReason) -> &'static str {
        self.t(match reason {
            EndReason::ClientEnded => "reason.client_ended",
            EndReason::Timeout => "reason.timeout",
            EndReason::AdminTerminated => "reason.admin_terminated",
            EndReason::DeviceDeactivated => "reason.device_deactivated",
            EndReason::LicenseRevoked => "reason.license_revoked",
            EndReason::LicenseExpired => "reason.license_expired",
        })
    }

    /// An offline grace as a person reads it: "online only", "7 days", "12 h", "90 min".
    pub fn offline_grace(self, seconds: i32) -> String {
        let (days, hours, minutes) = (self.t("unit.days"), self.t("unit.hours"), self.t("unit.minutes"));
        match seconds {
            s if s <= 0 => self.t("terms.online_only").to_owned(),
            s if s % 86_400 == 0 => format!("{} {days}", s / 86_400),
            s if s % 3600 == 0 => format!("{} {hours}", s / 3600),
            s => format!("{} {minutes}", (s + 59) / 60),
        }
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

/// `.0` rounded to `.1` digits after the point ("0.50", "17"), written with integers, so the
/// dashboard's own code needs none of Rust's float formatting (`{:.1}`, `{}` of an `f64`: its
/// shortest-digits and exact-digits machinery with their tables; today a dependency still links it
/// in, for the error messages of gloo-history's serde-wasm-bindgen).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fixed(pub f64, pub u32);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10_u64.pow(self.1);
        let scaled = (self.0 * scale as f64).round();
        let sign = if scaled < 0.0 { "-" } else { "" };
        let scaled = scaled.abs() as u64;
        let (whole, fraction) = (scaled / scale, scaled % scale);
        if self.1 == 0 {
            write!(f, "{sign}{whole}")
        } else {
            write!(f, "{sign}{whole}.{fraction:0width$}", width = self.1 as usize)
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
    ("nav.overview", "Overview", "Übersicht"),
    ("nav.live", "Live sessions", "Live-Sitzungen"),
    ("nav.devices", "Devices", "Geräte"),
    ("nav.history", "Session history", "Sitzungsverlauf"),
    ("nav.account", "My account", "Mein Konto"),
    ("nav.group.licensing", "Licensing", "Lizenzierung"),
    ("nav.group.sales", "Sales", "Vertrieb"),
    ("nav.group.administration", "License server administration", "Lizenzserver Administration"),
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
    ("error.conflict", "Someone else changed this in the meantime, so your change was not saved. Reload the page to see the current version, then repeat your change.", "Jemand anderes hat dies inzwischen geändert, daher wurde Ihre Änderung nicht gespeichert. Laden Sie die Seite neu, um den aktuellen Stand zu sehen, und wiederholen Sie dann Ihre Änderung."),
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
    ("enroll.qr", "QR code of the authenticator secret", "QR-Code des Authenticator-Geheimnisses"),
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
    ("license.template", "Start from template", "Vorlage verwenden"),
    ("license.no_template", "No template", "Keine Vorlage"),
    ("license.template_hint", "Fills in the form; every field can still be changed.", "Füllt das Formular aus; jedes Feld bleibt änderbar."),
    ("terms.features", "Features", "Funktionen"),
    ("terms.features_hint", "Comma-separated, e.g. pro, export.pdf. Letters are stored in lower case, each name once.", "Durch Kommas getrennt, z. B. pro, export.pdf. Buchstaben werden klein gespeichert, jeder Name einmal."),
    ("terms.no_features", "none", "keine"),
    ("terms.grace_hours", "Offline grace (hours)", "Offline-Kulanz (Stunden)"),
    ("terms.grace_hint", "How long a client stays licensed without reaching the server: 0 = online only, at most 720 h (30 days).", "Wie lange ein Client ohne Serververbindung lizenziert bleibt: 0 = nur online, höchstens 720 Std. (30 Tage)."),
    ("terms.grace_is", "That is", "Das sind"),
    ("terms.offline_grace", "Offline grace", "Offline-Kulanz"),
    ("terms.online_only", "online only", "nur online"),
    ("terms.releases", "Device releases per 30 days", "Gerätefreigaben pro 30 Tage"),
    ("terms.releases_hint", "How often the customer's own application may free a device slot (0 to 1000).", "Wie oft die Anwendung des Kunden selbst einen Geräteplatz freigeben darf (0 bis 1000)."),
    ("unit.days", "days", "Tage"),
    ("unit.hours", "h", "Std."),
    ("unit.minutes", "min", "Min."),
    ("nav.templates", "Templates", "Vorlagen"),
    ("templates.title", "License templates", "Lizenzvorlagen"),
    ("templates.subtitle", "Reusable terms a new license can start from. Changing a template does not change licenses made from it.", "Wiederverwendbare Bedingungen als Ausgangspunkt neuer Lizenzen. Eine geänderte Vorlage ändert keine daraus erstellten Lizenzen."),
    ("templates.new", "New template", "Neue Vorlage"),
    ("templates.edit", "Edit template", "Vorlage bearbeiten"),
    ("templates.search", "Template name", "Name der Vorlage"),
    ("templates.empty", "No templates yet.", "Noch keine Vorlagen."),
    ("template.name", "Name", "Name"),
    ("template.duration", "Duration (days)", "Laufzeit (Tage)"),
    ("template.duration_hint", "Empty: licenses made from it have no end date.", "Leer: daraus erstellte Lizenzen haben kein Enddatum."),
    ("template.open_ended", "open-ended", "unbefristet"),
    ("template.delete", "Delete", "Löschen"),
    ("template.delete_title", "Delete template?", "Vorlage löschen?"),
    ("template.delete_message", "Licenses made from it keep their terms. Template:", "Daraus erstellte Lizenzen behalten ihre Bedingungen. Vorlage:"),
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
    ("reason.license_expired", "License expired", "Lizenz abgelaufen"),
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
    ("signing.title", "Lease signing keys", "Schlüssel für signierte Leases"),
    ("signing.subtitle", "The key that signs clients' leases, and retired keys still published for the leases they signed. Private keys never leave the server.", "Der Schlüssel, der die Leases der Clients signiert, und ausgemusterte Schlüssel, die für ihre Leases noch veröffentlicht sind. Private Schlüssel verlassen den Server nie."),
    ("signing.kid", "Key ID", "Schlüssel-ID"),
    ("signing.retired", "Retired", "Ausgemustert"),
    ("signing.published_until", "Published until", "Veröffentlicht bis"),
    ("signing.current", "Current", "Aktuell"),
    ("signing.retired_badge", "Retired", "Ausgemustert"),
    ("signing.rotate", "Rotate", "Rotieren"),
    ("signing.rotate_title", "Rotate the signing key?", "Signaturschlüssel rotieren?"),
    ("signing.rotate_message", "A new key signs every lease from now on. The current key stays published until the leases it signed have expired.", "Ab jetzt signiert ein neuer Schlüssel alle Leases. Der bisherige bleibt veröffentlicht, bis die mit ihm signierten Leases abgelaufen sind."),
    ("offline.button", "Offline activation", "Offline-Aktivierung"),
    ("offline.title", "Offline activation", "Offline-Aktivierung"),
    ("offline.help", "A signed lease for a machine without network access. The machine is registered on this license and takes one of its device slots.", "Ein signiertes Lease für einen Rechner ohne Netzzugang. Der Rechner wird bei dieser Lizenz registriert und belegt einen ihrer Geräteplätze."),
    ("offline.fingerprint", "Hardware fingerprint", "Hardware-Fingerabdruck"),
    ("offline.days", "Valid for (days, 1–3650)", "Gültig für (Tage, 1–3650)"),
    ("offline.issue", "Issue lease", "Lease ausstellen"),
    ("offline.issued", "Offline lease issued", "Offline-Lease ausgestellt"),
    ("offline.issued_help", "Download the file or copy the lease and install it on the machine. It is valid until its expiry, at most until the license ends.", "Laden Sie die Datei herunter oder kopieren Sie das Lease und installieren Sie es auf dem Rechner. Es gilt bis zu seinem Ablauf, höchstens bis zum Ende der Lizenz."),
    ("offline.download", "Download lease file", "Lease-Datei herunterladen"),
    ("offline.done", "Done", "Fertig"),
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
    ("keys.rate_limit", "Rate limit", "Ratenlimit"),
    ("keys.rate_default", "default", "Standard"),
    ("keys.rate_custom", "custom", "eigenes"),
    ("keys.edit_rate", "Limit…", "Limit…"),
    ("keys.rate_title", "Rate limit of", "Ratenlimit von"),
    ("keys.rate_help", "Units of cost per second and per server instance; an ordinary client call or a heartbeat costs 1, a query its complexity in tens. The burst is how many units may be spent at once.", "Kosteneinheiten pro Sekunde und Server-Instanz; ein gewöhnlicher Client-Aufruf oder ein Heartbeat kostet 1, eine Abfrage ihre Komplexität in Zehnern. Die Spitze ist, wie viele Einheiten auf einmal verbraucht werden dürfen."),
    ("keys.per_second", "Units per second", "Einheiten pro Sekunde"),
    ("keys.burst", "Burst", "Spitze"),
    ("keys.rate_save", "Save limit", "Limit speichern"),
    ("keys.rate_reset", "Use scope default", "Standard der Berechtigung verwenden"),
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
    ("backups.restored", "Restored:", "Wiederhergestellt:"),
    ("backups.restore_message", "Every table is replaced by its contents in this backup; changes made since are lost. Backup:", "Jede Tabelle wird durch ihren Inhalt in diesem Backup ersetzt; spätere Änderungen gehen verloren. Backup:"),
    ("backups.setup_title", "Schedule and storage", "Zeitplan und Ablage"),
    ("backups.schedule", "Daily backup", "Tägliches Backup"),
    ("backups.daily_at", "Daily at", "Täglich um"),
    ("backups.schedule_off", "Off", "Aus"),
    ("backups.next_run", "Next run", "Nächster Lauf"),
    ("backups.retention", "Kept locally", "Lokal aufbewahrt"),
    ("backups.newest", "the newest", "die neuesten"),
    ("backups.at_most", "at most", "höchstens"),
    ("backups.days_old", "days old", "Tage alt"),
    ("backups.branch", "branch", "Branch"),
    ("backups.last_push", "Last push", "Letzte Übertragung"),
    ("backups.never_pushed", "Not pushed yet", "Noch nicht übertragen"),
    ("backups.unpushed", "Waiting for the remote", "Warten auf das Remote"),
    ("backups.pruned", "Local copy pruned", "Lokale Kopie gelöscht"),
    ("backups.not_restorable", "Archive no longer on this server", "Archiv nicht mehr auf diesem Server"),
    ("backups.remote_title", "Restore from the remote", "Aus dem Remote wiederherstellen"),
    ("backups.remote_subtitle", "The archives on the git remote, newest first. Each is checked against the .sha256 file beside it before it is restored, also when this server has never seen it.", "Die Archive im Git-Remote, neueste zuerst. Jedes wird vor der Wiederherstellung mit der .sha256-Datei daneben geprüft, auch wenn dieser Server es nie gesehen hat."),
    ("backups.remote_refresh", "Fetch again", "Erneut abrufen"),
    ("backups.remote_empty", "No archives on the remote yet.", "Noch keine Archive im Remote."),
    ("backups.file", "Archive", "Archiv"),
    ("backups.not_in_catalog", "Not in this server's list", "Nicht in der Liste dieses Servers"),
    ("backups.no_checksum", "No .sha256 on the remote", "Keine .sha256 im Remote"),
    ("backups.pre_migration", "Before migration", "Vor Migration"),
    ("backups.started", "Backup started:", "Backup gestartet:"),
    ("backups.restore_started", "Restore started:", "Wiederherstellung gestartet:"),
    ("backups.job_running", "A backup or restore is running; this page follows it by itself.", "Ein Backup oder eine Wiederherstellung läuft; diese Seite verfolgt es selbst."),
    ("backups.restoring", "Restoring…", "Wird wiederhergestellt…"),
    ("backups.restore_failed", "Restore failed", "Wiederherstellung fehlgeschlagen"),
    ("backups.last_restored", "Restored", "Wiederhergestellt"),
    ("not_found.title", "Page not found", "Seite nicht gefunden"),
    ("not_found.back", "Back to live sessions", "Zurück zu den Live-Sitzungen"),
    // Resource pools
    ("nav.resources", "Resource pools", "Ressourcen"),
    ("pool.title", "Resource pools", "Ressourcen-Pools"),
    ("pool.subtitle", "Domains, IPv4 addresses and phone numbers, allocated to licenses.", "Domains, IPv4-Adressen und Telefonnummern, die Lizenzen zugeteilt werden."),
    ("pool.domain", "Domains", "Domains"),
    ("pool.ipv4", "IPv4 addresses", "IPv4-Adressen"),
    ("pool.phone", "Phone numbers", "Telefonnummern"),
    ("pool.available", "Available", "Verfügbar"),
    ("pool.allocated", "Allocated", "Zugeteilt"),
    ("pool.quarantined", "Quarantined", "In Quarantäne"),
    ("pool.list", "Resources", "Ressourcen"),
    ("pool.type", "Type", "Typ"),
    ("pool.state", "State", "Status"),
    ("pool.all_types", "All types", "Alle Typen"),
    ("pool.all_states", "All states", "Alle Status"),
    ("pool.value", "Value", "Wert"),
    ("pool.value_search", "Value contains", "Wert enthält"),
    ("pool.license", "License", "Lizenz"),
    ("pool.updated", "Last change", "Letzte Änderung"),
    ("pool.empty", "No resources match.", "Keine passenden Ressourcen."),
    ("pool.history", "History", "Verlauf"),
    ("pool.release", "Release", "Freigeben"),
    ("pool.quarantine", "Quarantine", "Quarantäne"),
    ("pool.quarantine_title", "Put into quarantine?", "In Quarantäne stellen?"),
    ("pool.quarantine_message", "It cannot be allocated until it is released. Resource:", "Sie kann erst nach der Freigabe wieder zugeteilt werden. Ressource:"),
    ("pool.quarantine_allocated", "It is taken from its license and cannot be allocated until it is released. Resource:", "Sie wird der Lizenz entzogen und kann erst nach der Freigabe wieder zugeteilt werden. Ressource:"),
    ("pool.reason", "Reason", "Grund"),
    ("pool.import", "Import", "Importieren"),
    ("pool.import_help", "One value per line (or separated by commas). Values are checked and normalised; the report lists what was added, what was already there and what is invalid.", "Ein Wert pro Zeile (oder durch Kommas getrennt). Werte werden geprüft und normalisiert; der Bericht zeigt, was hinzugefügt wurde, was schon vorhanden war und was ungültig ist."),
    ("pool.values", "Values", "Werte"),
    ("pool.import_submit", "Import values", "Werte importieren"),
    ("pool.added", "added", "hinzugefügt"),
    ("pool.duplicates", "already there", "bereits vorhanden"),
    ("pool.invalid", "invalid", "ungültig"),
    ("pool.of_license", "Resources", "Ressourcen"),
    ("pool.none_allocated", "No resources are allocated to this license.", "Dieser Lizenz sind keine Ressourcen zugeteilt."),
    ("pool.allocate", "Allocate", "Zuteilen"),
    ("pool.count", "Count", "Anzahl"),
    ("pool.allocated_now", "Allocated:", "Zugeteilt:"),
    // CRM
    ("nav.crm", "Leads", "Interessenten"),
    ("crm.unlink", "Unlink", "Verknüpfung lösen"),
    ("crm.unlink_title", "Unlink the customer?", "Verknüpfung zum Kunden lösen?"),
    ("crm.unlink_message", "The institution becomes a lead again; the customer and its licenses stay. Customer:", "Die Einrichtung wird wieder ein Interessent; der Kunde und seine Lizenzen bleiben bestehen. Kunde:"),
    ("crm.title", "Leads", "Interessenten"),
    ("crm.subtitle", "Institutions that may become customers, their contacts and notes.", "Einrichtungen, die Kunden werden könnten, mit ihren Ansprechpartnern und Notizen."),
    ("crm.search", "Institution, type or contact name", "Einrichtung, Art oder Name eines Ansprechpartners"),
    ("crm.empty", "No institutions match.", "Keine passenden Einrichtungen."),
    ("crm.new_institution", "New institution", "Neue Einrichtung"),
    ("crm.edit_institution", "Edit institution", "Einrichtung bearbeiten"),
    ("crm.name", "Name", "Name"),
    ("crm.type", "Type", "Art"),
    ("crm.type_hint", "E.g. hospital, university, municipality.", "Z. B. Klinik, Universität, Gemeinde."),
    ("crm.address", "Address", "Adresse"),
    ("crm.website", "Website", "Website"),
    ("crm.website_hint", "A web address such as https://example.org.", "Eine Webadresse wie https://example.org."),
    ("crm.created", "Created", "Angelegt"),
    ("crm.status", "Status", "Status"),
    ("crm.customer", "Customer", "Kunde"),
    ("crm.lead", "Lead", "Interessent"),
    ("crm.is_customer", "Customer", "Kunde"),
    ("crm.not_customer", "Not a customer yet.", "Noch kein Kunde."),
    ("crm.link_customer", "Link to customer", "Mit Kunde verknüpfen"),
    ("crm.link", "Link", "Verknüpfen"),
    ("crm.convert", "Convert to customer", "In Kunden umwandeln"),
    ("crm.convert_help", "Creates a customer with this name and e-mail and links the institution to it.", "Legt einen Kunden mit diesem Namen und dieser E-Mail an und verknüpft die Einrichtung mit ihm."),
    ("crm.matching_contacts", "Contacts matching", "Ansprechpartner passend zu"),
    ("crm.no_contacts_match", "No contacts match.", "Keine passenden Ansprechpartner."),
    ("crm.contacts", "Contacts", "Ansprechpartner"),
    ("crm.no_contacts", "No contacts yet.", "Noch keine Ansprechpartner."),
    ("crm.add_contact", "Add contact", "Ansprechpartner hinzufügen"),
    ("crm.contact_name", "Name", "Name"),
    ("crm.position", "Position", "Funktion"),
    ("crm.kind", "Kind", "Art"),
    ("crm.kind.work", "Work", "Dienstlich"),
    ("crm.kind.mobile", "Mobile", "Mobil"),
    ("crm.kind.home", "Home", "Privat"),
    ("crm.kind.fax", "Fax", "Fax"),
    ("crm.kind.personal", "Personal", "Privat"),
    ("crm.kind.other", "Other", "Sonstige"),
    ("crm.phone", "Phone", "Telefon"),
    ("crm.phone_hint", "International, with + and country code.", "International, mit + und Ländervorwahl."),
    ("crm.phones", "Phones", "Telefon"),
    ("crm.email", "E-mail", "E-Mail"),
    ("crm.emails", "E-mail addresses", "E-Mail-Adressen"),
    ("crm.none", "None yet.", "Noch keine."),
    ("crm.add", "Add", "Hinzufügen"),
    ("crm.add_phone", "Add phone", "Telefon hinzufügen"),
    ("crm.add_email", "Add e-mail", "E-Mail hinzufügen"),
    ("crm.remove", "Remove", "Entfernen"),
    ("crm.remove_phone", "Remove phone number?", "Telefonnummer entfernen?"),
    ("crm.remove_email", "Remove e-mail address?", "E-Mail-Adresse entfernen?"),
    ("crm.remove_message", "This is removed from the contact:", "Dies wird beim Ansprechpartner entfernt:"),
    ("crm.notes", "Notes", "Notizen"),
    ("crm.no_notes", "No notes yet.", "Noch keine Notizen."),
    ("crm.new_note", "New note", "Neue Notiz"),
    ("crm.add_note", "Add note", "Notiz hinzufügen"),
    ("crm.edit_note", "Edit note", "Notiz bearbeiten"),
    ("crm.edit_note_hint", "Saving adds a new version; the earlier text stays readable.", "Speichern legt eine neue Version an; der frühere Text bleibt lesbar."),
    ("crm.version", "Version", "Version"),
    ("crm.show_versions", "Earlier versions", "Frühere Versionen"),
    ("crm.hide_versions", "Hide earlier versions", "Frühere Versionen ausblenden"),
    // Devices, session history and the customer page
    ("devices.title", "Devices", "Geräte"),
    ("devices.subtitle", "The devices of all licenses. Search by fingerprint, name or license key.", "Die Geräte aller Lizenzen. Suche nach Fingerabdruck, Name oder Lizenzschlüssel."),
    ("devices.search", "Fingerprint, name or license key", "Fingerabdruck, Name oder Lizenzschlüssel"),
    ("devices.status", "Status", "Status"),
    ("devices.all", "All devices", "Alle Geräte"),
    ("devices.type_filter", "Device type", "Gerätetyp"),
    ("devices.seen", "Last seen", "Zuletzt gesehen"),
    ("devices.seen_any", "Seen any time", "Beliebig zuletzt gesehen"),
    ("devices.seen_hour", "Seen in the last hour", "In der letzten Stunde gesehen"),
    ("devices.seen_day", "Seen in the last 24 hours", "In den letzten 24 Stunden gesehen"),
    ("devices.seen_week", "Seen in the last 7 days", "In den letzten 7 Tagen gesehen"),
    ("devices.seen_month", "Seen in the last 30 days", "In den letzten 30 Tagen gesehen"),
    ("devices.empty", "No devices match.", "Keine passenden Geräte."),
    ("history.title", "Session history", "Sitzungsverlauf"),
    ("history.subtitle", "Ended sessions of all licenses, most recently ended first.", "Beendete Sitzungen aller Lizenzen, zuletzt beendete zuerst."),
    ("history.all_reasons", "All reasons", "Alle Gründe"),
    ("history.license", "License key", "Lizenzschlüssel"),
    ("history.device", "Name or fingerprint", "Name oder Fingerabdruck"),
    ("history.from", "Ended from", "Beendet ab"),
    ("history.to", "Ended until", "Beendet bis"),
    ("history.duration", "Duration", "Dauer"),
    ("history.empty", "No ended sessions match.", "Keine passenden beendeten Sitzungen."),
    ("unit.seconds", "s", "Sek."),
    ("customer.licenses", "Licenses", "Lizenzen"),
    ("customer.license_count", "Licenses", "Lizenzen"),
    ("customer.no_licenses", "This customer holds no licenses yet.", "Dieser Kunde hat noch keine Lizenzen."),
    ("customer.kind", "Kind", "Art"),
    ("customer.regular", "Customer", "Kunde"),
    ("customer.new_license", "New license", "Neue Lizenz"),
    ("picker.hint", "Type part of a name or e-mail, then choose with the arrow keys and Enter.", "Teil eines Namens oder einer E-Mail eingeben, dann mit den Pfeiltasten und Enter wählen."),
    ("picker.chosen", "Chosen:", "Gewählt:"),
    ("picker.none", "No customers match.", "Keine passenden Kunden."),
    ("picker.results", "Matching customers", "Passende Kunden"),
    // Overview
    ("overview.subtitle", "How the product is used: live sessions, activity over time, and the licenses that need attention.", "Wie das Produkt genutzt wird: aktive Sitzungen, Aktivität im Zeitverlauf und Lizenzen, die Aufmerksamkeit brauchen."),
    ("overview.range", "Time range", "Zeitraum"),
    ("overview.range_7", "Last 7 days", "Letzte 7 Tage"),
    ("overview.range_30", "Last 30 days", "Letzte 30 Tage"),
    ("overview.range_90", "Last 90 days", "Letzte 90 Tage"),
    ("overview.live_now", "Live sessions now", "Aktive Sitzungen jetzt"),
    ("overview.open_live", "Show live sessions", "Live-Sitzungen anzeigen"),
    ("overview.active_licenses", "Active licenses", "Aktive Lizenzen"),
    ("overview.of_total", "of", "von"),
    ("overview.peak", "Highest concurrency of one license", "Höchste Gleichzeitigkeit einer Lizenz"),
    ("overview.peak_none", "No sessions in this range.", "Keine Sitzungen in diesem Zeitraum."),
    ("overview.peak_at", "sessions at once, first on", "Sitzungen gleichzeitig, erstmals am"),
    ("overview.open_license", "Open license", "Lizenz öffnen"),
    ("overview.sessions_title", "Sessions started and ended per day", "Gestartete und beendete Sitzungen pro Tag"),
    ("overview.heartbeats_title_hour", "Heartbeats per hour", "Heartbeats pro Stunde"),
    ("overview.heartbeats_title_day", "Heartbeats per day", "Heartbeats pro Tag"),
    ("overview.axis_day", "Day (UTC)", "Tag (UTC)"),
    ("overview.axis_hour", "Time (UTC), one bar per hour", "Zeit (UTC), ein Balken pro Stunde"),
    ("overview.axis_sessions", "Sessions", "Sitzungen"),
    ("overview.axis_heartbeats", "Heartbeats", "Heartbeats"),
    ("overview.started", "Started", "Gestartet"),
    ("overview.ended", "Ended", "Beendet"),
    ("overview.ended_as", "Ended:", "Beendet:"),
    ("overview.no_sessions", "No sessions started or ended in this range.", "In diesem Zeitraum wurden keine Sitzungen gestartet oder beendet."),
    ("overview.no_heartbeats", "No heartbeats in this range.", "Keine Heartbeats in diesem Zeitraum."),
    ("overview.chart_numbers", "Show the numbers as a table", "Zahlen als Tabelle anzeigen"),
    ("overview.total", "Total", "Gesamt"),
    ("overview.licenses_title", "Licenses by state and type", "Lizenzen nach Status und Typ"),
    ("overview.no_licenses", "No licenses yet.", "Noch keine Lizenzen."),
    ("overview.state.pending", "Not yet valid", "Noch nicht gültig"),
    ("overview.usage_title", "Closest to their limits", "Am nächsten an ihren Limits"),
    ("overview.usage_help", "Licenses by the larger share of their device or session limit in use.", "Lizenzen nach dem größeren genutzten Anteil ihres Geräte- oder Sitzungslimits."),
    ("overview.usage_share", "Used", "Genutzt"),
    ("overview.usage_none", "No license has devices or sessions in use.", "Keine Lizenz hat Geräte oder Sitzungen in Nutzung."),
    ("overview.expiring_title", "Expiring in the next 30 days", "Laufen in den nächsten 30 Tagen ab"),
    ("overview.expiring_none", "No active license expires in the next 30 days.", "Keine aktive Lizenz läuft in den nächsten 30 Tagen ab."),
    ("overview.days_left", "Days left", "Resttage"),
    // My account
    ("account.password_title", "Change password", "Passwort ändern"),
    ("account.password_help", "When your password changes, all your other sessions are signed out.", "Wenn sich Ihr Passwort ändert, werden alle Ihre anderen Sitzungen abgemeldet."),
    ("account.password_length", "Length", "Länge"),
    ("account.characters", "characters", "Zeichen"),
    ("account.password_changed", "Password changed. Your other sessions have been signed out.", "Passwort geändert. Ihre anderen Sitzungen wurden abgemeldet."),
    ("account.current_password", "Current password", "Aktuelles Passwort"),
    ("account.current_wrong", "The current password is wrong.", "Das aktuelle Passwort ist falsch."),
    ("account.new_password", "New password", "Neues Passwort"),
    ("account.repeat_password", "Repeat the new password", "Neues Passwort wiederholen"),
    ("account.repeat_mismatch", "The two new passwords differ.", "Die beiden neuen Passwörter stimmen nicht überein."),
    ("account.totp_on_help", "Signing in needs a code from your authenticator app.", "Die Anmeldung erfordert einen Code aus Ihrer Authenticator-App."),
    ("account.totp_off_help", "Two-factor authentication is off. Set it up with an authenticator app to protect your account.", "Die Zwei-Faktor-Authentisierung ist aus. Richten Sie sie mit einer Authenticator-App ein, um Ihr Konto zu schützen."),
    ("account.totp_code", "Current code", "Aktueller Code"),
    ("account.reauth_failed", "The password or the code is wrong, or the code was used already. Wait for the next code and try again.", "Passwort oder Code falsch, oder der Code wurde schon verwendet. Bitte den nächsten Code abwarten und erneut versuchen."),
    ("account.regenerate_title", "New recovery codes", "Neue Wiederherstellungscodes"),
    ("account.regenerate_help", "Ten new codes replace your recovery codes; the old ones stop working. Confirm with your password and a current code.", "Zehn neue Codes ersetzen Ihre Wiederherstellungscodes; die alten funktionieren nicht mehr. Bestätigen Sie mit Ihrem Passwort und einem aktuellen Code."),
    ("account.regenerate", "Generate new recovery codes", "Neue Wiederherstellungscodes erzeugen"),
    ("account.disable_title", "Turn off two-factor authentication", "Zwei-Faktor-Authentisierung ausschalten"),
    ("account.disable_help", "Your other sessions are signed out. Admins must set up two-factor authentication again right away.", "Ihre anderen Sitzungen werden abgemeldet. Admins müssen die Zwei-Faktor-Authentisierung sofort neu einrichten."),
    ("account.disable", "Turn off", "Ausschalten"),
    ("account.sessions_title", "Your dashboard sessions", "Ihre Dashboard-Sitzungen"),
    ("account.sessions_help", "Everywhere you are signed in to the dashboard. End any session you do not recognise.", "Überall, wo Sie im Dashboard angemeldet sind. Beenden Sie jede Sitzung, die Sie nicht kennen."),
    ("account.browser", "Browser", "Browser"),
    ("account.address", "Address", "Adresse"),
    ("account.signed_in_at", "Signed in", "Angemeldet"),
    ("account.last_seen", "Last active", "Zuletzt aktiv"),
    ("account.unknown", "unknown", "unbekannt"),
    ("account.this_session", "This session", "Diese Sitzung"),
    ("account.end_session", "End session", "Sitzung beenden"),
    ("account.end_session_message", "The browser of this session is signed out at its next request:", "Der Browser dieser Sitzung wird bei seiner nächsten Anfrage abgemeldet:"),
    ("account.end_others", "Sign out everywhere else", "Überall sonst abmelden"),
    ("account.end_others_message", "All your other dashboard sessions end; this one stays signed in.", "Alle Ihre anderen Dashboard-Sitzungen werden beendet; diese bleibt angemeldet."),
];
