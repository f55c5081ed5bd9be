//! Where the command line's output goes: standard output, or a file written
//! whole or not at all.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// A path as one line safe for a terminal (ESC shows as ␛).
fn visible(path: &Path) -> String {
    nnderive::diagnostic::visible_line(&path.display().to_string())
}

/// The temporary file being written, removed if the run is interrupted.
static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Set when the process started with standard output closed (`>&-`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Call first thing. A process started with standard output closed (`>&-`)
/// finds /dev/null there instead: Rust's runtime opens it, read-write, on
/// every closed standard descriptor before `main`, so writes would vanish
/// without an error. On Linux that descriptor is recognised (/dev/null opened
/// read-write, which a shell's `> /dev/null` never does) and remembered, so
/// that writing the output reports a closed standard output.
pub fn guard_standard_streams() {
    let target = fs::read_link("/proc/self/fd/1");
    let flags = fs::read_to_string("/proc/self/fdinfo/1");
    if let (Ok(target), Ok(flags)) = (target, flags) {
        let read_write = flags
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .is_some_and(|f| f & 0o3 == 0o2);
        STDOUT_CLOSED.store(target == Path::new("/dev/null") && read_write, Ordering::Relaxed);
    }
}

/// On Ctrl-C, SIGTERM or SIGHUP, removes the temporary file being written
/// (if any) and exits with 130, so an interrupted `-o` leaves nothing behind.
pub fn remove_temporary_file_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        // Held until the process exits, so the writer cannot rename the file afterwards.
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = pending.take() {
            // A file being written, or a folder of them (`vary -o DIR`).
            if path.is_dir() {
                let _ = fs::remove_dir_all(path);
            } else {
                let _ = fs::remove_file(path);
            }
        }
        std::process::exit(130);
    });
}

/// Writes `text` to standard output. A closed pipe (`| head`) ends the output
/// quietly; any other failure (`> /dev/full`, a closed stdout) is an error.
pub fn to_stdout(text: &str) -> Result<(), String> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Err("error: cannot write to standard output: it is closed\n".into());
    }
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(format!("error: cannot write to standard output: {e}\n"))
        }
        _ => Ok(()),
    }
}

/// Registers `path` (a temporary file or folder) for removal if the run is
/// interrupted, or clears the registration with `None`.
pub fn set_pending(path: Option<PathBuf>) {
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = path;
}

/// Runs `finish` (the renames that put a finished output in place) with
/// the interrupt handler held off, then clears the registered temporary
/// path: an interrupt comes before the first rename or after the last.
pub fn finish_pending<T>(finish: impl FnOnce() -> T) -> T {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    let out = finish();
    *pending = None;
    out
}

/// Where `-o PATH` writes, checked before any work is done.
pub struct Target {
    /// As the user wrote it, for messages.
    shown: PathBuf,
    kind: Kind,
}

enum Kind {
    /// A regular file (or none yet), replaced whole: `path` has symbolic
    /// links resolved (a link stays, and the file it points to is
    /// replaced), and `existing` is the file there now, whose permissions
    /// are kept.
    File { path: PathBuf, existing: Option<fs::Metadata> },
    /// The process's own standard output or error, named as a file
    /// (`/dev/stdout`, `/dev/fd/2`): written as standard output is, so that
    /// `-o /dev/stdout >> log` appends as the shell arranged.
    Stream(Stream),
    /// A character device (`/dev/null`, a terminal), opened when checked:
    /// written in place, since replacing it would put a file where the
    /// device was.
    Device(fs::File),
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Target {
    /// Checks that `path` can take the output: a regular file that may be
    /// replaced (not the input itself, not a file with other hard links,
    /// which an atomic replacement would split), a new file in an existing
    /// folder, a character device, or this process's standard output or
    /// error. A folder, a named pipe, a block device or a socket is refused.
    pub fn check(path: &Path, input: &Path) -> Result<Target, String> {
        Target::checked(path, Some(input))
    }

    /// As [`Target::check`], for writing a file back in place (`nnderive
    /// serve` saving the file it edits): the same rules, except that the
    /// path may be the file that was read.
    pub fn check_in_place(path: &Path) -> Result<Target, String> {
        Target::checked(path, None)
    }

    fn checked(path: &Path, input: Option<&Path>) -> Result<Target, String> {
        let shown = path.to_path_buf();
        let fail = |why: String| Err(format!("error: cannot write {}: {why}\n", visible(&shown)));
        // What the path names, through every link (`/dev/stdout` is a link
        // to this process's descriptor 1, which may be a pipe).
        if STDOUT_CLOSED.load(Ordering::Relaxed) && STDOUT_NAMES.iter().any(|n| path == Path::new(n)) {
            // Closed standard output reads as /dev/null (see `guard_standard_streams`).
            return Ok(Target { shown, kind: Kind::Stream(Stream::Stdout) });
        }
        if let Ok(meta) = fs::metadata(path) {
            if let Some(stream) = standard_stream(&meta) {
                return Ok(Target { shown, kind: Kind::Stream(stream) });
            }
            if let Some(why) = refused(&meta, path) {
                return fail(why);
            }
            if is_char_device(&meta) {
                return match fs::OpenOptions::new().write(true).open(path) {
                    Ok(device) => Ok(Target { shown, kind: Kind::Device(device) }),
                    Err(e) => fail(e.to_string()),
                };
            }
        }
        let resolved = match fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::symlink_metadata(path).is_ok() {
                    return fail("it is a symbolic link to a file that does not exist".into());
                }
                let name = match path.file_name() {
                    Some(n) => n.to_owned(),
                    None => return fail("the path does not name a file".into()),
                };
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                match fs::canonicalize(parent) {
                    Ok(dir) => dir.join(name),
                    Err(e) => return fail(format!("its folder {}: {e}", visible(parent))),
                }
            }
            Err(e) => return fail(e.to_string()),
        };
        let existing = match fs::metadata(&resolved) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return fail(e.to_string()),
        };
        if let Some(meta) = &existing {
            if let Some(why) = refused(meta, path) {
                return fail(why);
            }
            if input.is_some_and(|input| same_file(meta, input)) {
                return fail("it is the input file, which the output would overwrite; choose another path".into());
            }
            if hard_links(meta) > 1 {
                return fail(
                    "it has other hard links, which replacing it would split; remove it first or choose another path"
                        .into(),
                );
            }
        }
        Ok(Target { shown, kind: Kind::File { path: resolved, existing } })
    }

    /// Writes `text`: to a device or standard stream in place, and to a
    /// file through a new temporary file next to it (created exclusively,
    /// with an unpredictable name), renamed over it: readers see the old
    /// file or the whole new one, never a part.
    pub fn write(&self, text: &str) -> Result<(), String> {
        let fail = |why: String| format!("error: cannot write {}: {why}\n", visible(&self.shown));
        match &self.kind {
            Kind::File { path, existing } => self.replace(path, existing.as_ref(), text),
            Kind::Stream(Stream::Stdout) => to_stdout(text),
            Kind::Stream(Stream::Stderr) => {
                let mut err = io::stderr().lock();
                err.write_all(text.as_bytes()).and_then(|()| err.flush()).map_err(|e| fail(e.to_string()))
            }
            Kind::Device(device) => {
                let mut device = device;
                device.write_all(text.as_bytes()).and_then(|()| device.flush()).map_err(|e| fail(e.to_string()))
            }
        }
    }

    fn replace(&self, path: &Path, existing: Option<&fs::Metadata>, text: &str) -> Result<(), String> {
        let fail = |why: String| format!("error: cannot write {}: {why}\n", visible(&self.shown));
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".nnderive-tmp");
        #[cfg(unix)]
        {
            // Like any new file: 0666 less the umask (tempfile's default is 0600).
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        // The interrupt handler waits for this lock, so it never runs between
        // the file's creation and its registration (which would leave it
        // behind), nor between the rename and the end of the registration.
        let mut tmp = {
            let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
            let tmp = builder
                .tempfile_in(dir)
                .map_err(|e| fail(format!("cannot create a temporary file in {}: {e}", visible(dir))))?;
            *pending = Some(tmp.path().to_path_buf());
            tmp
        };
        let written = (|| -> io::Result<()> {
            tmp.write_all(text.as_bytes())?;
            tmp.as_file().sync_all()?;
            if let Some(meta) = existing {
                tmp.as_file().set_permissions(meta.permissions())?;
            }
            Ok(())
        })();
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        // On failure the temporary file comes back in the error and is deleted with it.
        let written = written.and_then(|()| tmp.persist(path).map(drop).map_err(|e| e.error));
        *pending = None;
        drop(pending);
        written.map_err(|e| fail(e.to_string()))
    }
}

/// The address of `file` as a link from a document written to `document`
/// (standard output: the current folder) reads it: relative to the
/// document's folder, `/`-separated, each byte outside the characters
/// that need no escaping written `%XX`, so that any name is a valid link.
pub fn address_from(document: Option<&Path>, file: &Path) -> String {
    let folder = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::canonicalize(parent).ok()
    };
    let from = match document {
        Some(d) => folder(d),
        None => fs::canonicalize(".").ok(),
    };
    let to = folder(file).zip(file.file_name()).map(|(dir, name)| dir.join(name));
    let relative = match (from, to) {
        (Some(from), Some(to)) => {
            let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
            let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
            parts.extend(b[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
            parts.join("/")
        }
        _ => file.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"),
    };
    let mut out = String::new();
    for byte in relative.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The names of this process's standard output.
const STDOUT_NAMES: [&str; 3] = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

/// Why `-o` refuses what `meta` describes, if it does: what it is, why
/// the output cannot go there, and what to do instead.
fn refused(meta: &fs::Metadata, shown: &Path) -> Option<String> {
    let t = meta.file_type();
    if t.is_dir() {
        return Some("it is a folder; give the path of a file in it".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some(format!(
                "it is a named pipe (FIFO): writing would wait until something reads it, and a failed run would leave part of the output in it; write to a file, or leave out -o and redirect standard output (`> {}`)",
                visible(shown)
            ));
        }
        if t.is_block_device() {
            return Some("it is a block device (a disk); -o writes to a file, a terminal or /dev/null".into());
        }
        if t.is_socket() {
            return Some("it is a socket; write to a file, or leave out -o and redirect standard output".into());
        }
    }
    if !t.is_file() && !is_char_device(meta) {
        return Some("it is not a regular file; give the path of a file".into());
    }
    None
}

#[cfg(unix)]
fn is_char_device(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_: &fs::Metadata) -> bool {
    false
}

/// The standard stream that `meta` describes, if it is this process's
/// standard output (unless that was closed) or standard error: the same
/// device and inode as the open descriptor.
#[cfg(unix)]
fn standard_stream(meta: &fs::Metadata) -> Option<Stream> {
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::fs::MetadataExt;
    let same = |fd: BorrowedFd| {
        let open = fd.try_clone_to_owned().ok().map(fs::File::from).and_then(|f| f.metadata().ok());
        open.is_some_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
    };
    if !STDOUT_CLOSED.load(Ordering::Relaxed) && same(io::stdout().as_fd()) {
        return Some(Stream::Stdout);
    }
    same(io::stderr().as_fd()).then_some(Stream::Stderr)
}

#[cfg(not(unix))]
fn standard_stream(_: &fs::Metadata) -> Option<Stream> {
    None
}

#[cfg(unix)]
fn same_file(meta: &fs::Metadata, other: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(other).is_ok_and(|o| o.dev() == meta.dev() && o.ino() == meta.ino())
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &Path) -> bool {
    false
}

#[cfg(unix)]
fn hard_links(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
fn hard_links(_: &fs::Metadata) -> u64 {
    1
}

/// A progress bar on standard error for work that turns out long: it
/// appears only after about a second, and only when standard error is a
/// terminal (indicatif draws nothing otherwise).
pub struct Progress {
    what: &'static str,
    started: std::time::Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new(what: &'static str) -> Progress {
        Progress { what, started: std::time::Instant::now(), bar: None }
    }

    /// `done` of `total` steps are done.
    pub fn update(&mut self, done: usize, total: usize) {
        if self.bar.is_none() && self.started.elapsed() >= std::time::Duration::from_secs(1) {
            let bar =
                indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} entries, {eta} left")
            {
                bar.set_style(style);
            }
            bar.set_message(self.what);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
    }

    /// Removes the bar, if one was drawn.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
