//! `-o` to a device or a standard stream: a character device is written in
//! place (`/dev/null`, `/dev/zero`, a terminal), `/dev/stdout` and
//! `/dev/stderr` are the process's own streams (so `>>` still appends), and
//! folders, named pipes and block devices are refused with the reason.
//! Regular files keep their atomic replacement (tests/reliability.rs).
#![cfg(unix)]

mod common;

use common::{nnderive_in, shell};

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh folder with the assignment as `net.nn`, and what `solve`
/// prints for it on standard output.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::example("assignment4.nn"), dir.path().join("net.nn")).unwrap();
    let plain = nnderive_in(dir.path(), &["solve", "net.nn"]);
    assert!(plain.status.success());
    (dir, text(&plain.stdout))
}

#[test]
fn character_devices_are_written_in_place() {
    let (dir, _) = setup();
    for device in ["/dev/null", "/dev/zero"] {
        let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", device]);
        assert!(out.status.success(), "{device}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{device}: {out:?}");
        assert!(std::fs::metadata(device).unwrap().file_type().is_char_device(), "{device} is still a device");
    }
    // A device that refuses the bytes: its error, exit 1.
    if Path::new("/dev/full").exists() {
        let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", "/dev/full"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).starts_with("error: cannot write /dev/full: No space left"), "{out:?}");
        assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
    }
}

#[test]
fn standard_streams_named_as_files_are_the_streams() {
    let (dir, plain) = setup();
    // Standard output a pipe: /dev/stdout is that pipe.
    let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", "/dev/stdout"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), plain);
    // Standard output appended to a file: appended, not replaced.
    std::fs::write(dir.path().join("log.txt"), "before\n").unwrap();
    let out = shell(dir.path(), "NN solve net.nn -o /dev/stdout >> log.txt");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("log.txt")).unwrap(), format!("before\n{plain}"));
    // Standard error.
    let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", "/dev/stderr"]);
    assert!(out.status.success());
    assert_eq!((text(&out.stdout), text(&out.stderr)), (String::new(), plain.clone()));
    let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", "/dev/fd/1"]);
    assert_eq!(text(&out.stdout), plain);
    // A closed standard output is an error, as without -o.
    if Path::new("/proc/self/fdinfo").exists() {
        let out = shell(dir.path(), "NN solve net.nn -o /dev/stdout >&-");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr), "error: cannot write to standard output: it is closed\n");
    }
}

#[test]
fn folders_named_pipes_and_block_devices_are_refused_with_the_reason() {
    let (dir, _) = setup();
    let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "error: cannot write .: it is a folder; give the path of a file in it\n");
    if shell(dir.path(), "mkfifo pipe").status.success() {
        // Refused before opening it, so nothing waits for a reader.
        let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", "pipe"]);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.starts_with("error: cannot write pipe: it is a named pipe (FIFO)"), "{err}");
        assert!(err.contains("redirect standard output (`> pipe`)"), "{err}");
        assert!(std::fs::metadata(dir.path().join("pipe")).unwrap().file_type().is_fifo());
    }
    // A block device, where the machine has one: refused without being opened.
    let block = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_block_device()));
    if let Some(block) = block {
        let out = nnderive_in(dir.path(), &["solve", "net.nn", "-o", &block.to_string_lossy()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("it is a block device (a disk)"), "{out:?}");
    }
}
