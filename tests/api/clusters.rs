//! PostgreSQL clusters a test starts for itself, when the shared test server will not do: one
//! with TLS only (and the certificates for it), a primary with a streaming replica. The system's
//! `initdb`, `pg_ctl` and `pg_basebackup` (found like the embedded cluster finds them), run as
//! the `postgres` user when the tests run as root, as PostgreSQL requires. Each cluster lives in a
//! directory of its own, listens on 127.0.0.1 (and its socket in that directory), runs without
//! fsync, and is stopped and removed when dropped, whether or not the test passed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

/// The superuser the clusters are created with (trusted on the socket and on 127.0.0.1).
pub const SUPERUSER: &str = "postgres";

pub struct Cluster {
    /// Holds the data directory, the socket, the log and whatever the test puts beside them.
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    running: bool,
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("could not run `id`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `command`, failing the test with its output when it fails.
pub fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|err| panic!("could not run {command:?}: {err}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh directory for a cluster, private to its owner (`postgres` when the tests run as root).
fn private_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("license-server-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if running_as_root() {
        run(Command::new("chown").arg(format!("{SUPERUSER}:")).arg(&dir));
    }
    dir
}

impl Cluster {
    /// A PostgreSQL program, as the `postgres` user when the tests run as root.
    fn program(bin: &Path, name: &str) -> Command {
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", SUPERUSER, "--"]).arg(bin.join(name));
            command
        } else {
            Command::new(bin.join(name))
        }
    }

    fn bin_dir() -> PathBuf {
        license_server::embedded_pg::find_pg_bin_dir(&["initdb", "pg_ctl", "pg_basebackup"], "postgresql")
            .expect("the PostgreSQL server binaries (scripts/setup.sh installs them)")
    }

    /// A new cluster (not started) with `hba` as its `pg_hba.conf`.
    pub fn create(name: &str, hba: &str) -> Cluster {
        let bin = Self::bin_dir();
        let cluster = Cluster { dir: private_dir(name), port: free_port(), bin, running: false };
        run(Self::program(&cluster.bin, "initdb").arg("-D").arg(cluster.data()).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ]));
        cluster.write("pg_hba.conf", hba);
        cluster
    }

    /// A streaming replica of `primary` (`pg_basebackup -R -X stream`), started on a port of its own.
    pub fn replica_of(primary: &Cluster) -> Cluster {
        let mut replica =
            Cluster { dir: private_dir("replica"), port: free_port(), bin: Self::bin_dir(), running: false };
        run(Self::program(&replica.bin, "pg_basebackup")
            .arg("-D")
            .arg(replica.data())
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync", "-h", "127.0.0.1", "-U", SUPERUSER])
            .arg(format!("--port={}", primary.port)));
        replica.start(&[("hot_standby", "on")]);
        replica
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Writes a file into the data directory, readable by the cluster's owner only (as
    /// PostgreSQL wants its private key).
    pub fn write(&self, name: &str, contents: &str) {
        let path = self.data().join(name);
        std::fs::write(&path, contents).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if running_as_root() {
            run(Command::new("chown").arg(format!("{SUPERUSER}:")).arg(&path));
        }
    }

    /// Starts the cluster with `settings` (besides listening on 127.0.0.1 and without fsync).
    pub fn start(&mut self, settings: &[(&str, &str)]) {
        let mut options =
            format!("-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off", self.port, self.dir.display());
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        run(Self::program(&self.bin, "pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options]));
        self.running = true;
    }

    /// Stops the cluster at once, as a crash would.
    pub fn stop(&mut self) {
        if self.running {
            run(Self::program(&self.bin, "pg_ctl").arg("stop").arg("-D").arg(self.data()).args([
                "-m",
                "immediate",
                "-w",
            ]));
            self.running = false;
        }
    }

    /// The superuser on the cluster's socket (no TLS there): for setting up and looking in.
    pub fn socket_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.dir).port(self.port).username(SUPERUSER).database("postgres")
    }

    /// A URL naming the cluster by `host` over TCP, with `query` (e.g. `sslmode=require`).
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://{SUPERUSER}@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = Self::program(&self.bin, "pg_ctl")
                .arg("stop")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Certificates made for one test with the `openssl` command: a CA, a server certificate it
/// signed for the name `localhost` only (not for 127.0.0.1), and a second CA that signed nothing
/// of the server's.
pub struct Certificates {
    /// The CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    /// Another CA (PEM).
    pub other_ca: PathBuf,
    /// The server's certificate and key (PEM).
    pub server_cert: String,
    pub server_key: String,
}

impl Certificates {
    pub fn make(dir: &Path) -> Certificates {
        let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(dir).args(args));
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for name in ["ca", "other-ca"] {
            let (key, crt, subject) =
                (format!("{name}.key"), format!("{name}.crt"), format!("/CN=license-server test {name}"));
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subject]);
            openssl(&args);
        }
        let mut request = vec!["req", "-new"];
        request.extend(ec);
        request.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
        openssl(&request);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        Certificates {
            ca: dir.join("ca.crt"),
            other_ca: dir.join("other-ca.crt"),
            server_cert: read("server.crt"),
            server_key: read("server.key"),
        }
    }
}

/// A started cluster that accepts TCP connections over TLS only (`hostssl`), with a server
/// certificate made for it; plain connections find no `pg_hba.conf` entry and are refused.
pub fn tls_only_cluster() -> (Cluster, Certificates) {
    let mut cluster = Cluster::create(
        "tls",
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    );
    let certificates = Certificates::make(&cluster.dir);
    cluster.write("server.crt", &certificates.server_cert);
    cluster.write("server.key", &certificates.server_key);
    cluster.start(&[("ssl", "on"), ("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key")]);
    (cluster, certificates)
}
