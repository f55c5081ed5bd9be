//! `nnderive serve`: a local web page with an editor on the left and the
//! live derivation on the right.
//!
//! The HTTP layer is `tiny_http`: small, synchronous, four light
//! dependencies, so it adds seconds to a build where axum with tokio adds
//! a whole async runtime; one user on loopback needs nothing more.
//!
//! Safety rules, each checked for every request before it is routed:
//! - the server binds 127.0.0.1 only;
//! - the `Host` header must be this server's own loopback address and port
//!   (`127.0.0.1:PORT` or `localhost:PORT`), so that a page on another
//!   domain resolved to 127.0.0.1 (DNS rebinding) is refused;
//! - a request that changes or computes anything is a POST of JSON whose
//!   `Origin`, when present, is this server: another site's page cannot
//!   send one (its JSON needs a preflight this server never grants);
//! - no request path names a file: the page's assets and the examples are
//!   built into the binary and looked up by exact name, and the only file
//!   read or written is the one given on the command line;
//! - a request body is at most [`MAX_BODY`] bytes;
//! - a derivation is bounded by the same limits and work budget as the
//!   command line, and at most [`MAX_RUNNING`] run at once.
//!
//! User text reaches the page only as JSON data, which the page puts into
//! the document as text nodes (and into KaTeX, which escapes it).

mod api;
mod assets;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use super::output::Target;

/// The largest request body read, in bytes: far more than any `.nn` file
/// within the language's limits is written by hand.
pub const MAX_BODY: usize = 4 << 20;

/// Derivations computed at once; a request past that is answered 503 (the
/// page keeps showing the last result and tries again on the next edit).
pub const MAX_RUNNING: usize = 2;

/// The file being edited and what the server last knew of it.
struct Edited {
    /// As given on the command line.
    path: PathBuf,
    /// The file's text when it was last read or saved (`None`: it did not
    /// exist). Saving refuses to replace a file changed since.
    known: Mutex<Option<Vec<u8>>>,
}

struct State {
    file: Option<Edited>,
    /// The accepted `Host` values.
    hosts: [String; 2],
    /// The accepted `Origin` values.
    origins: [String; 2],
    running: AtomicUsize,
}

/// Starts the server on 127.0.0.1:`port` (0: any free port), prints its
/// address, and serves until the process is ended.
pub fn run(file: Option<PathBuf>, port: u16) -> Result<(), String> {
    let file = match file {
        Some(path) => {
            let known = match std::fs::read(&path) {
                // Text that is not UTF-8 is refused where it goes wrong, as
                // every command refuses it: the page could not show it, and
                // saving would replace what it could not show.
                Ok(bytes) => match nnderive::Source::decode_owned(path.display().to_string(), bytes) {
                    Ok(source) => Some(source.text.into_bytes()),
                    Err(failed) => {
                        let (error, source) = *failed;
                        return Err(nnderive::render::diagnostic::report(&error.report(), &source.name, &source.text));
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("error: cannot read {}: {e}\n", shown(&path))),
            };
            // Refuse at start a path that could never be saved (a folder, a device…).
            Target::check_in_place(&path)?;
            Some(Edited { path, known: Mutex::new(known) })
        }
        None => None,
    };
    let server =
        Server::http(("127.0.0.1", port)).map_err(|e| {
        format!(
            "error: cannot listen on 127.0.0.1:{port}: {e}\n  = help: choose another port with --port, or --port 0 for any free one\n"
        )
    })?;
    let port = server.server_addr().to_ip().map(|a| a.port()).ok_or("error: the server has no TCP address\n")?;
    let state = Arc::new(State {
        file,
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        origins: [format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")],
        running: AtomicUsize::new(0),
    });
    let editing = match &state.file {
        Some(f) => format!("editing {}", shown(&f.path)),
        None => "no file given: open an example, or start with a FILE to save to".to_string(),
    };
    super::output::to_stdout(&format!("nnderive serve: http://127.0.0.1:{port}/ ({editing}); Ctrl-C stops it\n"))?;
    for request in server.incoming_requests() {
        let state = Arc::clone(&state);
        std::thread::spawn(move || handle(&state, request));
    }
    Ok(())
}

fn shown(path: &Path) -> String {
    nnderive::diagnostic::visible_line(&path.display().to_string())
}

fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// A finished answer: status, content type and body.
struct Answer {
    status: u16,
    kind: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, value: &Value) -> Answer {
        Answer { status, kind: "application/json; charset=utf-8", body: value.to_string().into_bytes() }
    }

    fn refused(status: u16, why: &str) -> Answer {
        Answer::json(status, &json!({ "refused": why }))
    }
}

fn handle(state: &State, mut request: Request) {
    let answer = answer(state, &mut request);
    let mut response = Response::from_data(answer.body).with_status_code(answer.status);
    for (name, value) in [
        ("Content-Type", answer.kind),
        // The page and its answers are never framed, sniffed or cached, and
        // the page runs only its own scripts.
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    ] {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
}

fn answer(state: &State, request: &mut Request) -> Answer {
    // DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends
    // `Host: evil.example:PORT`.
    match header(request, "Host") {
        Some(host) if state.hosts.iter().any(|h| h == host) => {}
        _ => return Answer::refused(421, "this server answers only requests addressed to its own loopback address"),
    }
    let path = request.url().split(['?', '#']).next().unwrap_or("").to_string();
    match request.method() {
        Method::Get => match assets::asset(&path) {
            Some((kind, body)) => Answer { status: 200, kind, body: body.to_vec() },
            None => match path.as_str() {
                "/api/start" => Answer::json(200, &start(state)),
                _ => Answer::refused(404, "no such page"),
            },
        },
        Method::Post => {
            if let Some(origin) = header(request, "Origin") {
                if !state.origins.iter().any(|o| o == origin) {
                    return Answer::refused(403, "requests from other sites are refused");
                }
            }
            let json_body = header(request, "Content-Type").is_some_and(|t| {
                t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
            if !json_body {
                return Answer::refused(415, "send JSON (Content-Type: application/json)");
            }
            let body = match body(request) {
                Ok(body) => body,
                Err(answer) => return answer,
            };
            post(state, &path, &body)
        }
        _ => Answer::refused(405, "only GET and POST are answered"),
    }
}

/// The request's body as JSON, at most [`MAX_BODY`] bytes (the declared
/// length is checked first; a chunked body is cut off past the limit).
fn body(request: &mut Request) -> Result<Value, Answer> {
    let too_large = || Answer::refused(413, &format!("a request body is at most {MAX_BODY} bytes"));
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Answer::refused(400, &format!("the request body could not be read: {e}")))?;
    if bytes.len() > MAX_BODY {
        return Err(too_large());
    }
    serde_json::from_slice(&bytes).map_err(|e| Answer::refused(400, &format!("the request body is not JSON: {e}")))
}

fn post(state: &State, path: &str, body: &Value) -> Answer {
    let text = body.get("text").and_then(Value::as_str);
    match (path, text) {
        ("/api/save", Some(text)) => save(state, text),
        ("/api/derive" | "/api/graph" | "/api/export", Some(text)) => {
            // Counted before the work, so at most MAX_RUNNING run at once;
            // the guard gives the place back however the work ends.
            let Some(_running) = Running::take(&state.running) else {
                return Answer::refused(503, "earlier derivations are still running; the next edit tries again");
            };
            let name = source_name(state);
            let answer = match path {
                "/api/derive" => api::derive(&name, text, round(body)),
                "/api/graph" => api::graph(&name, text, body.get("grad").and_then(Value::as_bool).unwrap_or(false)),
                _ => api::export(&name, text, round(body), body.get("format").and_then(Value::as_str).unwrap_or("")),
            };
            match answer {
                Ok(value) => Answer::json(200, &value),
                Err(why) => Answer::refused(400, &why),
            }
        }
        ("/api/save" | "/api/derive" | "/api/graph" | "/api/export", None) => {
            Answer::refused(400, "the request has no \"text\" string")
        }
        _ => Answer::refused(404, "no such action"),
    }
}

/// One of the [`MAX_RUNNING`] places for a derivation, held while it runs.
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn take(count: &'a AtomicUsize) -> Option<Running<'a>> {
        if count.fetch_add(1, Ordering::SeqCst) >= MAX_RUNNING {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Running(count))
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `round` from a request: a whole number of places, 0 to 30, or none.
fn round(body: &Value) -> Option<u32> {
    body.get("round").and_then(Value::as_u64).filter(|&n| n <= 30).map(|n| n as u32)
}

/// The name errors and exports use: the edited file's, or a placeholder.
fn source_name(state: &State) -> String {
    match &state.file {
        Some(f) => f.path.display().to_string(),
        None => "untitled.nn".to_string(),
    }
}

/// What the page starts with: the file's text (or the first example's when
/// no file was given), and the examples to open.
fn start(state: &State) -> Value {
    let examples: Vec<Value> =
        assets::EXAMPLES.iter().map(|(name, text)| json!({ "name": name, "text": text })).collect();
    let (name, text, saveable) = match &state.file {
        Some(f) => {
            let known = f.known.lock().unwrap_or_else(|p| p.into_inner());
            let text = known.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            (f.path.display().to_string(), text, true)
        }
        None => {
            let (name, text) =
                assets::EXAMPLES.iter().find(|(n, _)| *n == "assignment4.nn").unwrap_or(&assets::EXAMPLES[0]);
            (name.to_string(), text.to_string(), false)
        }
    };
    json!({ "name": name, "text": text, "saveable": saveable, "examples": examples })
}

/// Writes `text` to the edited file with the rules of `-o` (a new file
/// renamed over the old, never a folder, a device or a file with other hard
/// links), and only if the file on disk is still the one the page was given:
/// a file changed by another program since is not overwritten.
fn save(state: &State, text: &str) -> Answer {
    let Some(file) = &state.file else {
        return Answer::refused(409, "no file was given to `nnderive serve`, so there is nothing to save to");
    };
    let mut known = file.known.lock().unwrap_or_else(|p| p.into_inner());
    let now = match std::fs::read(&file.path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Answer::refused(500, &format!("cannot read {}: {e}", shown(&file.path))),
    };
    if now != *known {
        return Answer::refused(
            409,
            &format!(
                "{} was changed by another program since it was opened; it is left as it is (copy your text elsewhere, then restart `nnderive serve`)",
                shown(&file.path)
            ),
        );
    }
    let written = Target::check_in_place(&file.path).and_then(|target| target.write(text));
    match written {
        Ok(()) => {
            *known = Some(text.as_bytes().to_vec());
            Answer::json(200, &json!({ "saved": file.path.display().to_string() }))
        }
        Err(why) => Answer::refused(500, why.trim_end().trim_start_matches("error: ")),
    }
}
