//! The repository's `nginx.conf`, run by a real nginx with a throwaway certificate in front of
//! two server instances: queries and mutations over HTTPS, the HTTP redirect (to the configured
//! name, whatever Host the request names), the security headers, modern TLS only, failover,
//! /metrics kept private, and the sign-in rate limit per address; and read as a configuration:
//! rate and connection limits per client address on /graphql and /ws, answered with 429.
//!
//! Needs `nginx`, `openssl` and `curl` (scripts/setup.sh installs them for `make test`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use license_server::admin::AuthSettings;
use license_server::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{eventually, spawn_app_with, Options};

fn nginx_binary() -> PathBuf {
    let mut candidates: Vec<PathBuf> = vec!["/usr/sbin/nginx".into()];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("nginx")));
    }
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .expect("nginx is not installed: run scripts/setup.sh test (apt-get install nginx)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// nginx running in the foreground; stopped when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
    http: u16,
    https: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master stops its workers before it exits, where a killed
        // master would leave them running after the test.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `nginx.conf` with its deployment-specific lines replaced; each must be found, so that the
/// test notices when the configuration changes shape.
fn test_config(dir: &Path, upstreams: &[&str], http: u16, https: u16) -> String {
    let config = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../nginx.conf")).unwrap();
    let servers: String =
        upstreams.iter().map(|a| format!("        server {a} max_fails=3 fail_timeout=10s;\n")).collect();
    let d = dir.display();
    let replacements = [
        ("        server 127.0.0.1:8080 max_fails=3 fail_timeout=10s;\n", servers),
        ("        listen 80;\n", format!("        listen 127.0.0.1:{http};\n")),
        ("        listen [::]:80;\n", String::new()),
        ("        listen 443 ssl;\n", format!("        listen 127.0.0.1:{https} ssl;\n")),
        ("        listen [::]:443 ssl;\n", String::new()),
        ("/etc/nginx/tls/fullchain.pem", format!("{d}/cert.pem")),
        ("/etc/nginx/tls/privkey.pem", format!("{d}/key.pem")),
        ("pid /run/nginx.pid;", format!("pid {d}/nginx.pid;")),
        ("error_log /var/log/nginx/error.log warn;", format!("error_log {d}/error.log warn;")),
        ("access_log /var/log/nginx/access.log;", format!("access_log {d}/access.log;")),
        (
            "http {\n",
            format!(
                "http {{\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
                 fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n"
            ),
        ),
    ];
    let mut config = config;
    for (from, to) in replacements {
        assert_eq!(config.matches(from).count(), 1, "nginx.conf should contain {from:?} exactly once");
        config = config.replace(from, &to);
    }
    config
}

async fn start_nginx(upstreams: &[&str]) -> Nginx {
    let dir = std::env::temp_dir().join(format!("license-server-nginx-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // The temporary directory must be reachable by nginx's unprivileged workers.
    run(Command::new("chmod").arg("755").arg(&dir));
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem")));
    let (http, https) = (free_port(), free_port());
    std::fs::write(dir.join("nginx.conf"), test_config(&dir, upstreams, http, https)).unwrap();
    let nginx = nginx_binary();
    run(Command::new(&nginx).arg("-t").arg("-p").arg(&dir).arg("-c").arg(dir.join("nginx.conf")));
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Nginx { child, dir, http, https };
    let up =
        eventually(Duration::from_secs(10), || async { std::net::TcpStream::connect(("127.0.0.1", https)).is_ok() })
            .await;
    assert!(up, "nginx did not start: {}", std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default());
    nginx
}

/// A response through curl: status, headers (lower-case names) and body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

fn curl(args: &[&str]) -> Reply {
    let output = Command::new("curl").args(["-sS", "-k", "-i", "--max-time", "10"]).args(args).output().unwrap();
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Reply { status, headers, body: body.to_owned() }
}

fn graphql(nginx: &Nginx, key: &str, query: &str, variables: Value) -> Reply {
    graphql_from(nginx, "127.0.0.1", key, query, variables)
}

/// A GraphQL POST from the client address `from` (any address of the loopback range).
fn graphql_from(nginx: &Nginx, from: &str, key: &str, query: &str, variables: Value) -> Reply {
    post_graphql(nginx, from, &[&format!("X-API-Key: {key}")], query, variables)
}

/// A GraphQL POST from `from` with these extra headers only (none: an anonymous request).
fn post_graphql(nginx: &Nginx, from: &str, headers: &[&str], query: &str, variables: Value) -> Reply {
    let body = json!({"query": query, "variables": variables}).to_string();
    let url = format!("https://127.0.0.1:{}/graphql", nginx.https);
    let mut args = vec![url.as_str(), "--interface", from, "-H", "Content-Type: application/json"];
    for header in headers {
        args.extend(["-H", header]);
    }
    args.extend(["--data-binary", &body]);
    curl(&args)
}

fn assert_security_headers(reply: &Reply) {
    let hsts = reply.header("strict-transport-security").expect("HSTS header");
    assert!(hsts.contains("max-age=63072000"), "{hsts}");
    let csp = reply.header("content-security-policy").expect("CSP header");
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert!(reply.header("server").is_none_or(|s| !s.contains('/')), "no version in the Server header");
}

#[sqlx::test(migrations = "../migrations")]
async fn nginx_terminates_tls_in_front_of_two_instances(pool: PgPool) {
    // The instances trust nginx (on 127.0.0.1) to tell them the client's address.
    let options = Options {
        auth: AuthSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..AuthSettings::default() },
        ..Options::default()
    };
    // A stand-in dashboard build: what matters here is that nginx routes `/` to the instances.
    let frontend = std::env::temp_dir().join(format!("license-nginx-dashboard-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&frontend).unwrap();
    std::fs::write(frontend.join("index.html"), "<!doctype html><title>dashboard through nginx</title>").unwrap();
    let options = Options { frontend_dir: Some(frontend.clone()), ..options };
    let first = spawn_app_with(&pool, options.clone()).await;
    let second = spawn_app_with(&pool, options).await;
    let (admin, client) = (first.key(Scope::Admin).await, first.key(Scope::Client).await);
    let upstreams = [first.address.trim_start_matches("http://"), second.address.trim_start_matches("http://")];
    let nginx = start_nginx(&upstreams).await;

    // A mutation and a query over HTTPS, with the security headers on each response. The client
    // connects from 127.0.0.2: X-Forwarded-For carries that address to the audit log.
    let customer = graphql_from(
        &nginx,
        "127.0.0.2",
        &admin,
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        json!({"i": {"name": "Through nginx", "email": "nginx@example.com"}}),
    );
    assert_eq!(customer.status, 200, "{}", customer.body);
    let customer_id = customer.json()["data"]["createCustomer"]["id"].as_str().unwrap().to_owned();
    assert_security_headers(&customer);
    let audited_ip: Option<String> =
        sqlx::query_scalar("SELECT host(client_ip) FROM audit_log WHERE action = 'customer.created'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audited_ip.as_deref(), Some("127.0.0.2"), "the client's address, not nginx's");
    let license = graphql(
        &nginx,
        &admin,
        "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { licenseKey } }",
        json!({"i": {"customerId": customer_id, "deviceLimit": 2, "concurrentSessionsLimit": 2}}),
    );
    let license_key = license.json()["data"]["createLicense"]["licenseKey"].as_str().unwrap().to_owned();

    // A subscription over wss:// through nginx: the current list first, then the list after the
    // activation below.
    let mut subscriber = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/api/wss_subscribe.py"))
        .args(["127.0.0.1", &nginx.https.to_string(), &admin, "subscription { liveSessions { id } }", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the WebSocket client");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(subscriber.stdout.take().unwrap()));
    let initial: Value = serde_json::from_str(&lines.next().expect("no first message").unwrap()).unwrap();
    assert_eq!(initial["data"]["liveSessions"], json!([]), "{initial}");

    let activated = graphql(
        &nginx,
        &client,
        "mutation($i: ActivateInput!) { activate(input: $i) { __typename } }",
        json!({"i": {"licenseKey": license_key, "hardwareFingerprint": "behind-nginx"}}),
    );
    assert_eq!(activated.json()["data"]["activate"]["__typename"], "SessionGranted", "{}", activated.body);
    let changed: Value = serde_json::from_str(&lines.next().expect("no second message").unwrap()).unwrap();
    assert_eq!(changed["data"]["liveSessions"].as_array().unwrap().len(), 1, "{changed}");
    assert!(subscriber.wait().unwrap().success());

    // The dashboard, with the headers it runs under.
    let dashboard = curl(&[&format!("https://127.0.0.1:{}/", nginx.https)]);
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("dashboard through nginx"), "{}", dashboard.body);
    assert_security_headers(&dashboard);
    let listed = graphql(&nginx, &admin, "{ customers { totalCount } }", json!({}));
    assert_eq!(listed.json()["data"]["customers"]["totalCount"], 1);
    assert_security_headers(&listed);

    // Error responses carry the headers too.
    let unauthenticated = graphql(&nginx, "AF-0000-NOPE", "{ customers { totalCount } }", json!({}));
    assert_eq!(unauthenticated.status, 401);
    assert_security_headers(&unauthenticated);

    // Plain HTTP is redirected to HTTPS on the configured name, path and query kept, whatever
    // Host the request names.
    let redirect = curl(&[&format!("http://127.0.0.1:{}/graphql?query=%7B__typename%7D", nginx.http)]);
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("https://license.example.com/graphql?query=%7B__typename%7D"));
    let hostile = curl(&["-H", "Host: attacker.example", &format!("http://127.0.0.1:{}/login?next=1", nginx.http)]);
    assert_eq!(hostile.status, 301);
    assert_eq!(hostile.header("location"), Some("https://license.example.com/login?next=1"));

    // Requests without credentials (the sign-in path) are limited per address: a burst of them
    // passes, then nginx answers 429 as the server's own limits do, with the security headers.
    let me = "{ me { id } }";
    let anonymous: Vec<Reply> = (0..20).map(|_| post_graphql(&nginx, "127.0.0.3", &[], me, json!({}))).collect();
    for reply in &anonymous[..10] {
        assert_eq!(reply.status, 200, "within the burst: {}", reply.body);
    }
    let limited = anonymous[10..].iter().find(|reply| reply.status == 429).expect("no anonymous request was limited");
    assert_eq!(limited.json()["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{}", limited.body);
    assert_eq!(limited.header("retry-after"), Some("2"));
    assert_security_headers(limited);
    // Requests with credentials from the same address, and other addresses, are not held back.
    let with_key = graphql_from(&nginx, "127.0.0.3", &admin, "{ customers { totalCount } }", json!({}));
    assert_eq!(with_key.status, 200, "{}", with_key.body);
    assert!(with_key.header("retry-after").is_none());
    assert_eq!(post_graphql(&nginx, "127.0.0.4", &[], me, json!({})).status, 200);

    // TLS 1.2 and 1.3 only.
    let health = format!("https://127.0.0.1:{}/healthz", nginx.https);
    assert_eq!(curl(&["--tlsv1.2", "--tls-max", "1.2", &health]).status, 200);
    assert_eq!(curl(&["--tlsv1.3", &health]).status, 200);
    // The client is made willing (security level 0), so only nginx can be the one refusing.
    let old = Command::new("curl")
        .args(["-sk", "--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0", &health])
        .output()
        .unwrap();
    assert!(!old.status.success(), "TLS 1.1 must be refused");

    // Metrics stay private.
    assert_eq!(curl(&[&format!("https://127.0.0.1:{}/metrics", nginx.https)]).status, 404);

    // With one instance gone, the other serves every request.
    drop(first);
    for _ in 0..4 {
        let reply = graphql(&nginx, &admin, "{ customers { totalCount } }", json!({}));
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    drop(second);
    let _ = std::fs::remove_dir_all(frontend);
}

/// One directive of an nginx configuration: its name, its arguments (quotes removed) and, for
/// a block such as `server { … }`, the directives inside.
#[derive(Debug)]
struct Directive {
    name: String,
    args: Vec<String>,
    block: Vec<Directive>,
}

impl Directive {
    fn all(&self, name: &str) -> impl Iterator<Item = &Directive> {
        let name = name.to_owned();
        self.block.iter().filter(move |d| d.name == name)
    }

    fn one(&self, name: &str) -> &Directive {
        let found: Vec<_> = self.all(name).collect();
        assert_eq!(found.len(), 1, "expected one {name} in {} {:?}", self.name, self.args);
        found[0]
    }
}

/// Parses nginx's configuration syntax: words and quoted strings, `;` ending a directive, `{ }`
/// around a block, `#` starting a comment.
fn parse_nginx(text: &str) -> Directive {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            _ if c.is_whitespace() => {
                chars.next();
            }
            '#' => while chars.next().is_some_and(|c| c != '\n') {},
            '{' | '}' | ';' => {
                tokens.push((c.to_string(), false));
                chars.next();
            }
            '"' | '\'' => {
                chars.next();
                let mut word = String::new();
                while let Some(inside) = chars.next().filter(|&next| next != c) {
                    // nginx keeps a backslash unless it escapes the quote or itself.
                    if inside == '\\' {
                        let escaped = chars.next().unwrap();
                        if escaped != c && escaped != '\\' {
                            word.push(inside);
                        }
                        word.push(escaped);
                    } else {
                        word.push(inside);
                    }
                }
                tokens.push((word, true));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace() && !"{};".contains(**c)) {
                    word.push(c);
                    chars.next();
                }
                tokens.push((word, true));
            }
        }
    }
    fn block(tokens: &mut std::vec::IntoIter<(String, bool)>) -> Vec<Directive> {
        let mut directives = Vec::new();
        let mut words = Vec::new();
        while let Some((token, is_word)) = tokens.next() {
            match token.as_str() {
                _ if is_word => words.push(token),
                ";" | "{" => {
                    let mut words = std::mem::take(&mut words).into_iter();
                    let name = words.next().expect("a directive without a name");
                    let inner = if token == "{" { block(tokens) } else { Vec::new() };
                    directives.push(Directive { name, args: words.collect(), block: inner });
                }
                _ => break,
            }
        }
        assert!(words.is_empty(), "unterminated directive {words:?}");
        directives
    }
    Directive { name: "main".into(), args: Vec::new(), block: block(&mut tokens.into_iter()) }
}

/// The `limit_req_zone` / `limit_conn_zone` definition of `zone`: its key and its other arguments.
fn zone_definition<'a>(http: &'a Directive, kind: &str, zone: &str) -> &'a Directive {
    http.all(kind)
        .find(|d| d.args.iter().any(|a| a.starts_with(&format!("zone={zone}:"))))
        .unwrap_or_else(|| panic!("no {kind} defines the zone {zone}"))
}

/// Requests per second of a `limit_req_zone` (`rate=100r/s`, `rate=30r/m`).
fn zone_rate(definition: &Directive) -> f64 {
    let rate = definition.args.iter().find_map(|a| a.strip_prefix("rate=")).expect("a rate");
    let (number, per) = rate.split_once("r/").unwrap();
    number.parse::<f64>().unwrap() / if per == "m" { 60.0 } else { 1.0 }
}

/// The map that defines `variable` (`map SOURCE $variable { … }`).
fn map_of<'a>(http: &'a Directive, variable: &str) -> &'a Directive {
    http.all("map").find(|m| m.args.get(1).map(String::as_str) == Some(variable)).expect("a map")
}

#[test]
fn nginx_conf_limits_requests_and_connections_per_client_address_on_graphql_and_ws() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../nginx.conf")).unwrap();
    let main = parse_nginx(&text);
    let http = main.one("http");
    assert_eq!(http.one("limit_req_status").args, ["429"]);
    assert_eq!(http.one("limit_conn_status").args, ["429"]);
    let https = http.all("server").find(|s| s.all("listen").any(|l| l.args.contains(&"ssl".into()))).unwrap();
    let location = |path: &str| {
        https.all("location").find(|l| l.args == ["=", path]).unwrap_or_else(|| panic!("no location = {path}"))
    };

    for path in ["/graphql", "/ws"] {
        let block = location(path);
        let per_address: Vec<f64> = block
            .all("limit_req")
            .map(|limit| {
                let zone = limit.args[0].strip_prefix("zone=").expect("limit_req zone=NAME");
                assert!(limit.args.iter().any(|a| a.starts_with("burst=")), "{path}: {limit:?} without a burst");
                zone_definition(http, "limit_req_zone", zone)
            })
            .filter(|definition| definition.args[0] == "$binary_remote_addr")
            .map(zone_rate)
            .collect();
        assert_eq!(per_address.len(), 1, "{path} has one request rate per client address");
        let connections = block.one("limit_conn");
        let zone = zone_definition(http, "limit_conn_zone", &connections.args[0]);
        assert_eq!(zone.args[0], "$binary_remote_addr", "{path}: connections are counted per address");
        assert!(connections.args[1].parse::<u32>().unwrap() > 0);
    }
    let ws_zone = &location("/ws").one("limit_conn").args[0];
    assert_ne!(ws_zone, &location("/graphql").one("limit_conn").args[0], "/ws counts its connections apart");

    // Sign-in (anonymous requests to /graphql) has a stricter rate of its own, keyed by the
    // client address only when the request carries neither an API key nor a session cookie.
    let graphql = location("/graphql");
    let rates: Vec<(&str, f64)> = graphql
        .all("limit_req")
        .map(|limit| {
            let definition = zone_definition(http, "limit_req_zone", &limit.args[0]["zone=".len()..]);
            (definition.args[0].as_str(), zone_rate(definition))
        })
        .collect();
    let general = rates.iter().find(|(key, _)| *key == "$binary_remote_addr").unwrap();
    let sign_in = rates.iter().find(|(key, _)| *key != "$binary_remote_addr").expect("a sign-in zone on /graphql");
    assert!(sign_in.1 < general.1 / 10.0, "sign-in is limited far more strictly: {rates:?}");
    let sign_in_key = map_of(http, sign_in.0);
    assert!(sign_in_key.args[0].contains("$http_x_api_key"), "{sign_in_key:?}");
    let keyed: Vec<_> = sign_in_key.block.iter().filter(|entry| entry.args == ["$binary_remote_addr"]).collect();
    assert_eq!(keyed.len(), 1, "one case counts the address: {sign_in_key:?}");
    assert_ne!(keyed[0].name, "default", "only requests without credentials are counted");
    let defaults: Vec<_> = sign_in_key.all("default").collect();
    assert!(defaults.len() == 1 && defaults[0].args == [""], "requests with credentials have an empty key");

    // The HTTP server redirects to its configured name, never to the request's Host.
    let plain = http.all("server").find(|s| s.all("listen").all(|l| !l.args.contains(&"ssl".into()))).unwrap();
    let names = &plain.one("server_name").args;
    assert!(!names.is_empty() && names.iter().all(|n| n != "_" && !n.starts_with('~')), "{names:?}");
    let target = &plain.one("return").args;
    assert_eq!(target[0], "301");
    let configured = [String::from("https://$server_name"), format!("https://{}", names[0])];
    let to_configured_name = configured.iter().any(|prefix| {
        target[1].strip_prefix(prefix.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['$', '/']))
    });
    assert!(to_configured_name, "the redirect goes to the configured name: {target:?}");
    for echoed in ["$host", "$http_host", "$http_x_forwarded_host"] {
        assert!(!target[1].contains(echoed), "the redirect must not echo {echoed}: {target:?}");
    }
}
