//! Where the command line's output goes: standard output, or a file written
//! whole or not at all.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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

/// The file that `-o PATH` will replace, checked before any work is done.
pub struct Target {
    /// As the user wrote it, for messages.
    shown: PathBuf,
    /// With symbolic links resolved: a link stays, and the file it points to
    /// is replaced.
    path: PathBuf,
    /// The file that is there now, if any (its permissions are kept).
    existing: Option<fs::Metadata>,
}

impl Target {
    /// Checks that `path` can be replaced by a new regular file: not a
    /// directory, device or pipe, not a file with other hard links (an
    /// atomic replacement would split them), and not the input itself.
    pub fn check(path: &Path, input: &Path) -> Result<Target, String> {
        let shown = path.to_path_buf();
        let fail = |why: String| Err(format!("error: cannot write {}: {why}\n", shown.display()));
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
                    Err(e) => return fail(format!("its folder {}: {e}", parent.display())),
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
            if !meta.is_file() {
                return fail(
                    "it is not a regular file (a directory, a device or a pipe); give the path of a file".into(),
                );
            }
            if same_file(meta, input) {
                return fail("it is the input file, which the output would overwrite; choose another path".into());
            }
            if hard_links(meta) > 1 {
                return fail(
                    "it has other hard links, which replacing it would split; remove it first or choose another path"
                        .into(),
                );
            }
        }
        Ok(Target { shown, path: resolved, existing })
    }

    /// Writes `text` to a new temporary file next to the target (created
    /// exclusively, with an unpredictable name), then renames it over the
    /// target: readers see the old file or the whole new one, never a part.
    pub fn write(&self, text: &str) -> Result<(), String> {
        let fail = |why: String| format!("error: cannot write {}: {why}\n", self.shown.display());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
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
                .map_err(|e| fail(format!("cannot create a temporary file in {}: {e}", dir.display())))?;
            *pending = Some(tmp.path().to_path_buf());
            tmp
        };
        let written = (|| -> io::Result<()> {
            tmp.write_all(text.as_bytes())?;
            tmp.as_file().sync_all()?;
            if let Some(meta) = &self.existing {
                tmp.as_file().set_permissions(meta.permissions())?;
            }
            Ok(())
        })();
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        // On failure the temporary file comes back in the error and is deleted with it.
        let written = written.and_then(|()| tmp.persist(&self.path).map(drop).map_err(|e| e.error));
        *pending = None;
        drop(pending);
        written.map_err(|e| fail(e.to_string()))
    }
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
