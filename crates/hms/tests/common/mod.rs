//! A real `hms serve` process on a random loopback port, and an HTTP client for it.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hms_auth::{AppSecret, Claims};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const ACCESS_KEY: &str = "64b0e1f0a1b2c3d4e5f60718";
pub const SECRET: &str = "test-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0";

pub struct TestServer {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh data dir whose default workspace has the test credentials.
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// Starts a server on a fresh data dir of its own (removed when it is dropped), with
    /// extra `serve` flags and extra environment variables.
    pub fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_node(temp.path(), extra, env);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on `data_dir` with extra `serve` flags.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(data_dir, extra, &[], Stdio::inherit(), "warn")
    }

    /// Starts a node of a deployment on `data_dir`, with extra `serve` flags and extra
    /// environment variables (such as `HMS_NODE_TIMEOUT_MS`). Nodes whose data dirs name
    /// the same test database (see [`share_test_database`]) form one deployment.
    pub fn start_node(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, extra, env, Stdio::inherit(), "warn")
    }

    /// Starts a server on `data_dir` with extra `serve` flags, its logs (stderr) going to
    /// the file `log` at the `RUST_LOG` level `filter`.
    pub fn start_logged(data_dir: &Path, extra: &[&str], log: &Path, filter: &str) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        Self::spawn(data_dir, extra, &[], Stdio::from(file), filter)
    }

    fn spawn(data_dir: &Path, extra: &[&str], env: &[(&str, &str)], stderr: Stdio, filter: &str) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hms"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("HMS_ACCESS_KEY", ACCESS_KEY)
            .env("HMS_SECRET", SECRET)
            .env("RUST_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(stderr);
        use_test_database(&mut command, data_dir);
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("hms binary starts");
        let base = wait_for_address(&mut child);
        Self {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn token(&self) -> String {
        management_token(ACCESS_KEY, SECRET)
    }

    /// Sends `body` (JSON) to `path` with a valid management token; answers status and JSON.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(method, path, body, Some(&self.token())).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = client().request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `DELETE path` with the server's management token.
    pub async fn delete(&self, path: &str) -> Reply {
        send(self.request(Method::DELETE, path).bearer_auth(self.token())).await
    }

    /// A room code of a new room named `name` (the first role's).
    pub async fn room_code(&self, name: &str) -> String {
        let (status, room) = self.post("/v2/rooms", serde_json::json!({ "name": name })).await;
        assert_eq!(status, StatusCode::OK, "{room}");
        let path = format!("/v2/room-codes/room/{}", id_of(&room));
        let (status, codes) = self.post(&path, serde_json::json!({})).await;
        assert_eq!(status, StatusCode::OK, "{codes}");
        codes["data"][0]["code"].as_str().unwrap().to_owned()
    }

    /// `POST path` with `body`, which must answer 200: its body.
    pub async fn post_ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "POST {path}: {answer}");
        answer
    }

    /// `GET path`, which must answer 200: its body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Stops the server abruptly, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the server to stop (SIGTERM) and waits for it.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        self.child.wait().expect("server exits")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Another workspace of a server, calling it with its own management token.
pub struct OtherWorkspace<'a> {
    server: &'a TestServer,
    token: String,
}

impl OtherWorkspace<'_> {
    pub async fn call(&self, method: Method, path: impl AsRef<str>, body: Option<Value>) -> (StatusCode, Value) {
        self.server
            .call_with(method, path.as_ref(), body, Some(&self.token))
            .await
    }
}

impl TestServer {
    /// Creates workspace `name` with these credentials, to call the server as.
    pub async fn other_workspace(&self, name: &str, access_key: &str, secret: &str) -> OtherWorkspace<'_> {
        self.create_workspace(name, access_key, secret).await;
        OtherWorkspace {
            server: self,
            token: management_token(access_key, secret),
        }
    }
}

/// The `field` of each item of the array `list`.
pub fn field_of<'a>(list: &'a Value, field: &str) -> Vec<&'a Value> {
    let items = list.as_array().unwrap_or_else(|| panic!("{list} is no array"));
    items.iter().map(|item| &item[field]).collect()
}

/// Updates of a room that each change a different field.
pub fn room_field_edits() -> [Value; 5] {
    [
        serde_json::json!({"description": "edited"}),
        serde_json::json!({"region": "eu"}),
        serde_json::json!({"large_room": true}),
        serde_json::json!({"size": 100}),
        serde_json::json!({"max_duration_seconds": 600}),
    ]
}

/// With `HMS_TEST_POSTGRES_URL` (an admin URL of a throwaway PostgreSQL server), the
/// whole suite runs on PostgreSQL: each data dir gets its own database, created on first
/// use and remembered in the data dir so that a restarted server finds it again.
/// Without it, servers use the embedded SQLite database of their data dir.
pub fn use_test_database(command: &mut Command, data_dir: &Path) {
    command.env_remove("HMS_DATABASE_URL");
    if let Some(url) = test_database_url(data_dir) {
        command.env("HMS_DATABASE_URL", url);
    }
}

/// A file in a data dir that keeps the suite's PostgreSQL database away from it.
const EMBEDDED_MARK: &str = "test-database-embedded";

/// Makes the servers started on `data_dir`, and the admin commands run for them, use its
/// embedded SQLite database also when the suite runs on PostgreSQL, until
/// [`unpin_embedded_database`].
pub fn pin_embedded_database(data_dir: &Path) {
    std::fs::create_dir_all(data_dir).expect("data dir");
    std::fs::write(data_dir.join(EMBEDDED_MARK), "").expect("mark the data dir");
}

pub fn unpin_embedded_database(data_dir: &Path) {
    std::fs::remove_file(data_dir.join(EMBEDDED_MARK)).expect("unmark the data dir");
}

pub fn test_database_url(data_dir: &Path) -> Option<String> {
    if data_dir.join(EMBEDDED_MARK).exists() {
        return None;
    }
    let admin = std::env::var("HMS_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())?;
    std::fs::create_dir_all(data_dir).expect("data dir");
    let remembered = data_dir.join("test-database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return Some(url);
    }
    let name = format!("hms_test_{}", uuid::Uuid::new_v4().simple());
    let created = Command::new("psql")
        .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", &admin, "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .expect("psql runs");
    assert!(created.success(), "psql could not create the test database {name}");
    let (server, _) = admin.rsplit_once('/').expect("the admin URL names a database");
    let url = format!("{server}/{name}");
    std::fs::write(&remembered, &url).expect("remember the test database");
    Some(url)
}

/// Whether the suite runs on PostgreSQL (`HMS_TEST_POSTGRES_URL`), where several servers
/// can share one database.
pub fn on_postgres() -> bool {
    std::env::var("HMS_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty())
}

/// Makes servers started on `data_dir` use the test database of `first_data_dir` (which
/// gets one if it has none yet), so that they are nodes of one deployment. Only on
/// PostgreSQL: on SQLite each data dir has its own database.
pub fn share_test_database(first_data_dir: &Path, data_dir: &Path) {
    let url = test_database_url(first_data_dir).expect("a shared database needs HMS_TEST_POSTGRES_URL");
    std::fs::create_dir_all(data_dir).expect("data dir");
    std::fs::write(data_dir.join("test-database-url"), url).expect("remember the shared database");
}

pub fn management_token(access_key: &str, secret: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    hms_auth::mint(&Claims::management(access_key, now, 3600), &AppSecret::new(secret))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Reads the server's stdout until it says where it listens (the first start also prints
/// the workspace's credentials before that line).
fn wait_for_address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("openhms listening on ") {
                let _ = sender.send(address.to_owned());
                break;
            }
        }
        // Keep draining so that the server never blocks on a full pipe.
        for _ in lines {}
    });
    receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("server starts listening within 30 s")
}

/// A whole answer: status, headers and the body parsed as JSON (a JSON string holding
/// the text when it is no JSON, `null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts that this is the error envelope of status `code` with `message` and `details`.
    pub fn assert_error(&self, code: u16, message: &str, details: &[&str]) {
        assert_eq!(self.status.as_u16(), code, "{}", self.body);
        assert_eq!(self.body, envelope(code, message, details));
    }
}

impl TestServer {
    /// A request to `path` without any authorization, to be completed by the caller.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        client().request(method, self.url(path))
    }

    /// Sends `body` as it is, with `content_type` (none when `None`) and a valid
    /// management token.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path).bearer_auth(self.token()).body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        let reply = send(request).await;
        (reply.status, reply.body)
    }

    /// Runs `hms <args> --data-dir <this server's data dir>`.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hms"));
        command
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("HMS_ACCESS_KEY")
            .env_remove("HMS_SECRET")
            .env_remove("HMS_DATA_DIR");
        use_test_database(&mut command, &self.data_dir);
        command.output().expect("hms binary runs")
    }

    /// Creates a workspace with the CLI while the server runs, and waits until the server
    /// accepts its management token.
    pub async fn create_workspace(&self, name: &str, access_key: &str, secret: &str) {
        let output = self.cli(&[
            "workspace",
            "create",
            name,
            "--access-key",
            access_key,
            "--secret",
            secret,
        ]);
        assert!(
            output.status.success(),
            "workspace create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let token = management_token(access_key, secret);
        assert!(
            self.wait_for_token(&token, true, Duration::from_secs(5)).await,
            "the server never accepted the new workspace's token"
        );
    }

    /// Polls `GET /v2/rooms` with `token` until it is accepted (or refused, as `accepted`
    /// says) or `within` has passed; answers whether that happened.
    pub async fn wait_for_token(&self, token: &str, accepted: bool, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            let (status, _) = self.call_with(Method::GET, "/v2/rooms", None, Some(token)).await;
            if (status == StatusCode::OK) == accepted {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Sends a prepared request and reads the whole answer.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply { status, headers, body }
}

/// The error envelope `{"code", "message", "details"}`.
/// The `id` of an object the API answered.
pub fn id_of(object: &Value) -> String {
    object["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {object}"))
        .to_owned()
}

/// The ids of a list page's items, in order.
pub fn page_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {page}"))
        .iter()
        .map(id_of)
        .collect()
}

/// `reply` is exactly `status` with `body`.
pub fn assert_reply(reply: (StatusCode, Value), status: u16, body: &Value, what: &str) {
    assert_eq!(
        (reply.0.as_u16(), &reply.1),
        (status, body),
        "{what}: expected {status} {body}, got {} {}",
        reply.0,
        reply.1
    );
}

pub fn envelope(code: u16, message: &str, details: &[&str]) -> Value {
    serde_json::json!({ "code": code, "message": message, "details": details })
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Whether `text` is a 24-character lowercase hex id.
pub fn is_object_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `text` is a lowercase UUID v4 (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`).
pub fn is_uuid_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        && groups[2].starts_with('4')
        && matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b')
}

/// Parses an API timestamp (`YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`) into Unix milliseconds;
/// `None` when it has any other shape.
pub fn timestamp_millis(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (main, fraction) = match text.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (text, None),
    };
    let b = main.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &main[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<3}")[..3].parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Formats Unix seconds as the API writes a whole-second timestamp.
pub fn format_unix_secs(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A webhook endpoint on loopback that answers 200 to every request, one connection per
/// request, and hands each JSON body to `on_body`. Its URL ends in `/{path}`.
pub async fn webhook_receiver(path: &str, on_body: impl Fn(Value) + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/{path}", listener.local_addr().unwrap());
    let on_body = std::sync::Arc::new(on_body);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let on_body = on_body.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let Some(body) = read_request_body(&mut stream).await else {
                    return;
                };
                on_body(serde_json::from_slice(&body).unwrap_or(Value::Null));
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    url
}

/// Reads one HTTP request's head and its `content-length` body; `None` if the connection
/// ends first.
async fn read_request_body(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = stream.read(&mut buffer).await.ok().filter(|&n| n > 0)?;
        data.extend_from_slice(&buffer[..n]);
        let Some(end) = data.windows(4).position(|window| window == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap());
        if data.len() >= end + 4 + length {
            return Some(data[end + 4..end + 4 + length].to_vec());
        }
    }
}
