//! `nnderive serve`: its safety rules checked with plain HTTP requests, and
//! the page driven in a real browser (Chromium through the DevTools
//! protocol): type the assignment, see δ1 typeset, make an error, see it
//! under its line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_nnderive");

/// A running `nnderive serve`, ended when dropped.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nnderive serve ARGS --port 0` and reads the address it prints.
fn serve(args: &[&str]) -> Served {
    serve_in(Path::new("."), args)
}

/// As [`serve`], started in the folder `dir`.
fn serve_in(dir: &Path, args: &[&str]) -> Served {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .arg("serve")
        .args(args)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nnderive starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let start = line.find("http://127.0.0.1:").unwrap_or_else(|| panic!("no address printed: {line:?}"));
    let port: String = line[start + 17..].chars().take_while(char::is_ascii_digit).collect();
    Served { child, port: port.parse().unwrap() }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnderive-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A raw HTTP/1.1 exchange: the status and the body of the answer.
fn exchange(port: u16, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer (and close) before a refused body is sent whole.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
    let (head, body) = answer.split_at(split);
    let head = String::from_utf8_lossy(head);
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {head:?}"));
    // A large answer comes in chunks (tiny_http's threshold is 32 KiB).
    let chunked = head.lines().any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The body of a chunked answer: each chunk's size in hex on its line, the
/// chunk's bytes, a line break; a chunk of size 0 ends it.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        let after = &rest[line_end + 2..];
        if size == 0 || after.len() < size {
            break;
        }
        body.extend_from_slice(&after[..size]);
        rest = after[size..].strip_prefix(b"\r\n").unwrap_or(&after[size..]);
    }
    body
}

fn get(port: u16, path: &str, host: &str) -> (u16, String) {
    exchange(port, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
}

fn post(port: u16, path: &str, body: &Value) -> (u16, String) {
    post_with(port, path, &body.to_string(), &[("Content-Type", "application/json")])
}

fn post_with(port: u16, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    exchange(port, request.as_bytes())
}

fn assignment() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples/assignment4.nn")).unwrap()
}

#[test]
fn listens_on_loopback_only() {
    let served = serve(&[]);
    let (status, page) = get(served.port, "/", &format!("127.0.0.1:{}", served.port));
    assert_eq!(status, 200);
    assert!(page.contains("<textarea id=\"source\""), "{page}");
    // The machine's address on its network (found without sending anything):
    // nothing listens there.
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    if socket.connect("192.0.2.1:9").is_ok() {
        let ip = socket.local_addr().unwrap().ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            let reached = TcpStream::connect_timeout(&(ip, served.port).into(), Duration::from_secs(2));
            assert!(reached.is_err(), "the server answered on {ip}");
        }
    }
}

#[test]
fn only_requests_addressed_to_the_loopback_address_served_are_answered() {
    let served = serve(&[]);
    let port = served.port;
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        assert_eq!(get(port, "/", &host).0, 200, "{host}");
    }
    // DNS rebinding: another domain resolved to 127.0.0.1, or another port.
    for host in
        [format!("evil.example:{port}"), "evil.example".into(), format!("127.0.0.1:{}", port ^ 1), "127.0.0.1".into()]
    {
        let (status, body) = get(port, "/api/start", &host);
        assert_eq!(status, 421, "{host}");
        assert!(!body.contains("assignment4"), "{body}");
    }
    let (status, _) = exchange(port, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status, 421, "no Host at all");
    // A computation asked by another site's page.
    let body = json!({ "text": assignment() }).to_string();
    let (status, _) = post_with(
        port,
        "/api/derive",
        &body,
        &[("Content-Type", "application/json"), ("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403);
    let (status, _) = post_with(port, "/api/derive", &body, &[("Content-Type", "text/plain")]);
    assert_eq!(status, 415, "a form or text body, which another site may send without asking");
    let (status, _) = post_with(
        port,
        "/api/derive",
        &body,
        &[("Content-Type", "application/json"), ("Origin", &format!("http://127.0.0.1:{port}"))],
    );
    assert_eq!(status, 200);
}

#[test]
fn no_request_path_names_a_file() {
    let dir = scratch("paths");
    let file = dir.join("net.nn");
    std::fs::write(&file, assignment()).unwrap();
    let served = serve(&[file.to_str().unwrap()]);
    let host = format!("127.0.0.1:{}", served.port);
    for path in [
        "/../Cargo.toml",
        "/katex/../../Cargo.toml",
        "/%2e%2e/%2e%2e/Cargo.toml",
        "/grammar/examples/assignment4.nn",
        "/web/index.html",
        "/net.nn",
        "/etc/passwd",
        "//etc/passwd",
        "/katex/fonts/../../../../etc/passwd",
        "/api/start/../../Cargo.toml",
    ] {
        let (status, body) = get(served.port, path, &host);
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("[package]") && !body.contains("root:") && !body.contains("param"), "{path}: {body}");
    }
    // The page's own files are there, and only by their exact names.
    assert_eq!(get(served.port, "/katex/katex.min.js", &host).0, 200);
    assert_eq!(get(served.port, "/katex/fonts/KaTeX_Main-Regular.woff2", &host).0, 200);
    // The file given on the command line is the one offered.
    let (status, start) = get(served.port, "/api/start", &host);
    assert_eq!(status, 200);
    let start: Value = serde_json::from_str(&start).unwrap();
    assert_eq!(start["text"], assignment());
    assert_eq!(start["saveable"], true);
    assert!(start["examples"].as_array().unwrap().iter().any(|e| e["name"] == "assignment4.nn"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn request_bodies_are_bounded() {
    let served = serve(&[]);
    let port = served.port;
    // A declared length past the bound is refused before the body is read.
    let head = format!(
        "POST /api/derive HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        64 << 20
    );
    assert_eq!(exchange(port, head.as_bytes()).0, 413);
    // A chunked body is cut off past the bound.
    let mut chunked = format!(
        "POST /api/derive HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..5 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(exchange(port, &chunked).0, 413);
    // The server is still there.
    assert_eq!(post(port, "/api/derive", &json!({ "text": assignment() })).0, 200);
}

#[test]
fn the_assignment_derives_within_100_ms_with_the_command_line_values() {
    let served = serve(&[]);
    let (status, body) = post(served.port, "/api/derive", &json!({ "text": assignment(), "round": 4 }));
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["ok"], true);
    // The server's own time for the whole answer (derivation, solution,
    // documents): the best of five, so that a busy machine's pauses (the
    // tests run side by side) do not count.
    let best = (0..5)
        .map(|_| {
            let (_, body) = post(served.port, "/api/derive", &json!({ "text": assignment(), "round": 4 }));
            serde_json::from_str::<Value>(&body).unwrap()["ms"].as_f64().unwrap()
        })
        .fold(f64::INFINITY, f64::min);
    assert!(best < 100.0, "the derivation took {best} ms");
    // The values are the command line's, rounded as asked.
    let cli = Command::new(BIN)
        .args(["solve", "grammar/examples/assignment4.nn", "--round", "4"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(answer["values"].as_str().unwrap(), String::from_utf8(cli.stdout).unwrap());
    // δ1 is a heading of both documents, with its formula displayed after it.
    for document in ["derivation", "solution"] {
        let blocks = answer[document].as_array().unwrap();
        let at = blocks.iter().position(|b| {
            b["kind"] == "subsection" && b["inline"].as_array().unwrap().iter().any(|p| p["math"] == "\\delta_{1}")
        });
        let at = at.unwrap_or_else(|| panic!("no δ1 in the {document}"));
        assert_eq!(blocks[at + 1]["kind"], "display");
        assert!(blocks[at + 1]["latex"]
            .as_str()
            .unwrap()
            .contains("\\delta_{1} &= \\frac{\\partial L}{\\partial Z_{1}}"));
    }
    // The loss, worked by hand in f64 from the file's numbers:
    // H = relu(Z1) + sin(Z1) with Z1 = W1 x + b1, then softmax and −log ŷ1.
    let x = [1.0, -1.0, 0.5, 2.0];
    let w1 = [[0.1, -0.2, 0.3, 0.4], [0.5, -0.3, 0.1, -0.2], [0.4, 0.2, -0.5, 0.3]];
    let b1 = [0.1, -0.1, 0.05];
    let w2 = [[-0.3, 0.2, 0.1], [0.4, -0.5, 0.3]];
    let b2 = [0.05, -0.05];
    let h: Vec<f64> = (0..3)
        .map(|i| {
            let z: f64 = (0..4).map(|j| w1[i][j] * x[j]).sum::<f64>() + b1[i];
            z.max(0.0) + z.sin()
        })
        .collect();
    let z2: Vec<f64> = (0..2).map(|i| (0..3).map(|j| w2[i][j] * h[j]).sum::<f64>() + b2[i]).collect();
    let loss = -(z2[0].exp() / (z2[0].exp() + z2[1].exp())).ln();
    assert!(answer["values"].as_str().unwrap().contains(&format!("{loss:.4}")), "{loss}");
}

#[test]
fn errors_come_with_their_place_and_help_and_user_text_stays_data() {
    let served = serve(&[]);
    let text = assignment().replace("Z2   = W2 @ H + b2", "Z2   = W3 @ H + b2 # <script>alert(1)</script>");
    let (status, body) = post(served.port, "/api/derive", &json!({ "text": text }));
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["ok"], false);
    let error = &answer["errors"]["errors"][0];
    assert_eq!(error["message"], "unknown name 'W3'");
    assert_eq!((error["line"].as_u64(), error["column"].as_u64()), (Some(16), Some(8)));
    assert!(error["help"].as_str().unwrap().starts_with("did you mean"), "{error}");
    // The page is told the text only as a JSON string (a `<` in it is data,
    // which the page inserts as text).
    assert!(error["rendered"].as_str().unwrap().contains("<script>alert(1)</script>"));
    let (_, page) = get(served.port, "/", &format!("127.0.0.1:{}", served.port));
    assert!(!page.contains("innerHTML"));
    let (_, script) = get(served.port, "/app.js", &format!("127.0.0.1:{}", served.port));
    assert!(!script.contains("innerHTML") && !script.contains("insertAdjacentHTML") && !script.contains("trust: true"));
}

#[test]
fn saving_writes_the_file_back_whole_and_never_over_another_programs_change() {
    let dir = scratch("save");
    let file = dir.join("net.nn");
    std::fs::write(&file, assignment()).unwrap();
    let served = serve(&[file.to_str().unwrap()]);
    let edited = assignment().replace("lr = 0.001", "lr = 0.01");
    assert_eq!(post(served.port, "/api/save", &json!({ "text": edited })).0, 200);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // Another program changes the file: the page's save is refused.
    std::fs::write(&file, "# changed elsewhere\n").unwrap();
    let (status, body) = post(served.port, "/api/save", &json!({ "text": assignment() }));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("changed by another program"), "{body}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# changed elsewhere\n");
    drop(served);

    // A file that does not exist yet is created by the first save.
    let new = dir.join("new.nn");
    let served = serve(&[new.to_str().unwrap()]);
    assert_eq!(post(served.port, "/api/save", &json!({ "text": "# new\n" })).0, 200);
    assert_eq!(std::fs::read_to_string(&new).unwrap(), "# new\n");
    drop(served);

    // Without a file there is nothing to save to.
    let served = serve(&[]);
    let (status, body) = post(served.port, "/api/save", &json!({ "text": "# x\n" }));
    assert_eq!(status, 409, "{body}");
    drop(served);

    // The rules of `-o`: a file with other hard links is refused at start.
    let linked = dir.join("linked.nn");
    std::fs::hard_link(&file, &linked).unwrap();
    let out = Command::new(BIN).args(["serve", linked.to_str().unwrap(), "--port", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("other hard links"), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn downloads_are_the_command_lines_documents() {
    let served = serve(&[]);
    for (format, flag, name) in
        [("latex", "latex", "untitled.tex"), ("markdown", "markdown", "untitled.md"), ("json", "json", "untitled.json")]
    {
        let (status, body) =
            post(served.port, "/api/export", &json!({ "text": assignment(), "round": 3, "format": format }));
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["name"], name);
        let cli = Command::new(BIN)
            .args(["solve", "-", "--round", "3", "--format", flag])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        cli.stdin.as_ref().unwrap().write_all(assignment().as_bytes()).unwrap();
        let cli = cli.wait_with_output().unwrap();
        assert_eq!(answer["text"].as_str().unwrap(), String::from_utf8(cli.stdout).unwrap(), "{format}");
    }
    let (_, body) = post(served.port, "/api/export", &json!({ "text": assignment(), "format": "numpy" }));
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(answer["text"].as_str().unwrap().contains("import numpy"), "{answer}");
    let (status, _) = post(served.port, "/api/export", &json!({ "text": assignment(), "format": "../../x" }));
    assert_eq!(status, 400);
}

// ---- The page in a real browser -----------------------------------------

/// Chromium: `NNDERIVE_CHROMIUM`, else `chromium` or `chromium-browser`
/// on the PATH. Under CI=true a missing browser fails the test.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NNDERIVE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A headless Chromium spoken to through the DevTools protocol.
struct Browser {
    child: Child,
    socket: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    fn launch(binary: &Path) -> Browser {
        let profile = scratch("chromium-profile");
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1400,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut port = None;
        let mut said = String::new();
        for _ in 0..200 {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            said.push_str(&line);
            if let Some(at) = line.find("ws://127.0.0.1:") {
                let digits: String = line[at + 15..].chars().take_while(char::is_ascii_digit).collect();
                port = digits.parse::<u16>().ok();
                break;
            }
        }
        let port = port.unwrap_or_else(|| panic!("chromium printed no DevTools address:\n{said}"));
        // Keep reading its standard error so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        // The page's own DevTools address, from the browser's list of targets.
        let list_page = || {
            let (_, list) = get(port, "/json/list", &format!("127.0.0.1:{port}"));
            let list: Value = serde_json::from_str(&list).ok()?;
            let page = list.as_array()?.iter().find(|t| t["type"] == "page")?;
            Some(page["webSocketDebuggerUrl"].as_str()?.to_string())
        };
        let mut page = None;
        for _ in 0..100 {
            page = list_page();
            if page.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let page = page.expect("chromium lists its page");
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (socket, _) = tungstenite::client(page.as_str(), stream).expect("the DevTools socket opens");
        Browser { child, socket, next_id: 0, profile }
    }

    /// Sends a command and waits for its answer (events on the way are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket.send(tungstenite::Message::Text(message)).unwrap();
        loop {
            if let tungstenite::Message::Text(text) = self.socket.read().unwrap() {
                let answer: Value = serde_json::from_str(&text).unwrap();
                if answer["id"] == id {
                    assert!(answer.get("error").is_none(), "{method}: {answer}");
                    return answer["result"].clone();
                }
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }));
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page; the time it took.
    fn wait_for(&mut self, expression: &str, what: &str) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if self.eval(expression) == Value::Bool(true) {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("timed out waiting for {what}");
    }

    fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

/// Where the screenshots go: target/serve-screenshots/ (CI keeps them).
fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/serve-screenshots")
}

#[test]
fn a_student_types_the_assignment_and_sees_the_derivation_in_a_real_browser() {
    let Some(binary) = chromium() else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "chromium is needed for the browser test under CI=true");
        eprintln!("skipped: no chromium on the PATH (set NNDERIVE_CHROMIUM)");
        return;
    };
    let dir = scratch("browser");
    let file = dir.join("assignment4.nn");
    let served = serve_in(&dir, &["assignment4.nn"]);
    let mut browser = Browser::launch(&binary);
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
    );
    browser.call("Page.navigate", json!({ "url": format!("http://127.0.0.1:{}/", served.port) }));
    browser.wait_for(
        "document.readyState === 'complete' && typeof katex === 'object' && document.activeElement === document.getElementById('source')",
        "the page to load",
    );
    // The file does not exist yet: the editor is empty. Type the assignment.
    assert_eq!(browser.eval("document.getElementById('source').value"), "");
    browser.call("Input.insertText", json!({ "text": assignment() }));
    let delta1 =
        "[...document.querySelectorAll('#tab-solution h3 annotation')].some(a => a.textContent === '\\\\delta_{1}')";
    let took = browser.wait_for(delta1, "the rendered δ1");
    eprintln!(
        "δ1 shown {} ms after the text was typed ({})",
        took.as_millis(),
        browser.eval("document.getElementById('timing').textContent")
    );
    // KaTeX typeset every formula, none failed.
    let typeset = browser.eval("document.querySelectorAll('#tab-solution .katex').length").as_u64().unwrap();
    assert!(typeset > 30, "{typeset} formulas");
    assert_eq!(browser.eval("document.querySelectorAll('.katex-error').length"), 0);
    // δ1's display follows its heading and shows its formula and value.
    let display = browser.eval(
        "(() => { const h = [...document.querySelectorAll('#tab-solution h3')].find(h => h.querySelector('annotation')?.textContent === '\\\\delta_{1}'); return h.nextElementSibling.querySelector('annotation').textContent; })()",
    );
    let display = display.as_str().unwrap();
    assert!(display.contains("\\delta_{1} &= \\frac{\\partial L}{\\partial Z_{1}}"), "{display}");
    assert!(display.contains("\\begin{pmatrix}"), "{display}");
    assert_eq!(browser.eval("document.getElementById('problems').textContent"), "");

    // The graph: Graphviz's drawing when `dot` is installed, else its DOT text.
    browser.eval("document.querySelector('[data-tab=graph]').click()");
    browser.wait_for(
        "!!document.querySelector('#graph img[src^=\"data:image/svg+xml;base64,\"], #graph pre')",
        "the graph",
    );
    // The editor numbers the lines and highlights the keywords.
    assert_eq!(
        browser.eval("document.getElementById('gutter-lines').textContent.split('\\n').length"),
        assignment().lines().count() + 1
    );
    let keywords = browser.eval(
        "[...new Set([...document.querySelectorAll('#highlight .tok-kw')].map(e => e.textContent))].sort().join(' ')",
    );
    assert_eq!(keywords, "fn input loss param target train");

    // The rounding is the page's choice: 2 places.
    browser.eval("document.querySelector('[data-tab=solution]').click()");
    browser.eval("(() => { const r = document.getElementById('round'); r.value = '2'; r.dispatchEvent(new Event('change')); })()");
    browser.wait_for(
        "document.getElementById('tab-solution').textContent.includes('Values are rounded to 2 decimal places')",
        "the values rounded to 2 places",
    );
    browser.eval("(() => { const r = document.getElementById('round'); r.value = '4'; r.dispatchEvent(new Event('change')); })()");
    browser.wait_for(
        "document.getElementById('tab-solution').textContent.includes('Values are rounded to 4 decimal places')",
        "the values rounded to 4 places",
    );

    // One click downloads the worked solution as LaTeX, as `solve --format
    // latex --round 4` writes it.
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    browser.call("Page.setDownloadBehavior", json!({ "behavior": "allow", "downloadPath": downloads }));
    browser.eval("document.querySelector('[data-format=latex]').click()");
    let tex = downloads.join("assignment4.tex");
    let started = Instant::now();
    while !tex.is_file() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let cli = Command::new(BIN)
        .args(["solve", "grammar/examples/assignment4.nn", "--round", "4", "--format", "latex"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&tex).expect("the LaTeX download"), String::from_utf8(cli.stdout).unwrap());

    // The derivation, typeset when its tab is opened.
    browser.eval("document.querySelector('[data-tab=derivation]').click()");
    browser.wait_for(&delta1.replace("#tab-solution", "#tab-derivation"), "δ1 in the derivation");
    assert_eq!(browser.eval("document.querySelectorAll('.katex-error').length"), 0);
    browser.eval("document.querySelector('[data-tab=solution]').click()");

    // Saving writes the typed text to the file.
    browser.eval("document.getElementById('save').click()");
    browser.wait_for("document.getElementById('save-status').textContent.startsWith('saved')", "the save");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), assignment());
    browser.eval("[...document.querySelectorAll('#tab-solution h3')].find(h => h.querySelector('annotation')?.textContent === '\\\\delta_{2}').scrollIntoView()");
    browser.screenshot(&screenshots().join("serve-page.png"));

    // An error on line 16, column 8, holding markup in a comment: its
    // message and help show under that line, the markup as characters, and
    // the last good derivation stays, dimmed.
    let at = assignment().find("W2 @ H").unwrap();
    let line = assignment()[..at].matches('\n').count() + 1;
    assert_eq!(line, 16);
    browser.eval(&format!(
        "(() => {{ const s = document.getElementById('source'); s.focus(); s.setSelectionRange({at}, {}); }})()",
        at + 2
    ));
    browser.call("Input.insertText", json!({ "text": "W3" }));
    browser.eval("(() => { const s = document.getElementById('source'); const end = s.value.indexOf('\\n', s.value.indexOf('W3 @')); s.setSelectionRange(end, end); })()");
    browser.call(
        "Input.insertText",
        json!({ "text": " # <img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>" }),
    );
    browser.wait_for(
        "[...document.querySelectorAll('.error-note')].some(n => n.dataset.line === '16' && n.textContent.includes(\"unknown name 'W3'\"))",
        "the error under line 16",
    );
    let note = browser.eval(
        "(() => { const n = [...document.querySelectorAll('.error-note')].find(n => n.dataset.line === '16'); const h = document.getElementById('highlight'); const lh = parseFloat(getComputedStyle(h).lineHeight); const top = h.getBoundingClientRect().top + parseFloat(getComputedStyle(h).paddingTop); return { column: n.dataset.column, text: n.textContent, below: (n.getBoundingClientRect().top - top) / lh }; })()",
    );
    assert_eq!(note["column"], "8", "{note}");
    assert!(note["text"].as_str().unwrap().contains("help: "), "{note}");
    let below = note["below"].as_f64().unwrap();
    assert!((16.0..16.6).contains(&below), "the message is {below} lines from the top, not under line 16");
    assert_eq!(browser.eval("document.getElementById('output').classList.contains('stale')"), true);
    assert_eq!(browser.eval(delta1), true, "the last good derivation stays");
    // The derivation of the whole edit (the comment included) is shown.
    browser.wait_for(
        "document.getElementById('problems').textContent.includes('window.pwned=2')",
        "the comment's derivation",
    );
    let problems = browser.eval("document.getElementById('problems').textContent");
    assert!(problems.as_str().unwrap().contains("<img src=x onerror=\"window.pwned=1\"><script>"), "{problems}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(browser.eval("window.pwned === undefined && !document.querySelector('img[src=x]')"), true);
    browser.eval("(() => { const s = document.getElementById('source'); s.scrollLeft = 0; s.dispatchEvent(new Event('scroll')); })()");
    browser.screenshot(&screenshots().join("serve-page-error.png"));

    // Every example opens from the list, derives and typesets without a
    // KaTeX error, in both documents.
    browser.eval("window.confirm = () => true");
    let names = browser.eval("[...document.querySelectorAll('#examples option')].map(o => o.value).filter(v => v)");
    let names: Vec<String> = names.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let before = browser.eval("document.body.dataset.derived");
        browser.eval(&format!(
            "(() => {{ const s = document.getElementById('examples'); s.value = {}; s.dispatchEvent(new Event('change')); }})()",
            json!(name)
        ));
        let took = browser.wait_for(
            &format!("document.body.dataset.derived !== {before} && !document.body.dataset.deriving"),
            &format!("{name} to derive"),
        );
        eprintln!("{name}: shown in {} ms", took.as_millis());
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/examples").join(&name))
            .unwrap();
        assert_eq!(browser.eval("document.getElementById('source').value"), text, "{name}");
        assert_eq!(browser.eval("document.querySelectorAll('.katex-error').length"), 0, "{name}");
        let formulas = browser.eval("document.querySelectorAll('#tab-solution .katex').length").as_u64().unwrap();
        assert!(formulas > 5, "{name}: {formulas} formulas");
    }
    drop(browser);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_file_that_is_not_utf8_or_a_port_in_use_is_refused_at_start() {
    let dir = scratch("refused");
    let file = dir.join("latin1.nn");
    std::fs::write(&file, b"input x[1] = [1]\n# caf\xe9\n").unwrap();
    let out = Command::new(BIN).args(["serve", file.to_str().unwrap(), "--port", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("not valid UTF-8") && said.contains("latin1.nn:2:"), "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), b"input x[1] = [1]\n# caf\xe9\n");

    let served = serve(&[]);
    let out = Command::new(BIN).args(["serve", "--port", &served.port.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port 0"), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}
