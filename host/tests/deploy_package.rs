//! scripts/package.sh builds a zip whose layout and file modes Azure Functions can run.
//!
//! Most tests package small stand-ins for the handler (an x86-64 ELF header padded to
//! 4 KiB) and the component with `--no-precompile`, so they build nothing and stay fast: a
//! debug build of the real handler is about 200 MB. The script's own header check is what
//! stops a wrong binary. One test packages the real handler and component to check the
//! precompiled `.cwasm` entry. The zip is read through its central directory, which
//! records each entry's name, CRC-32, size and Unix mode.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One central directory record of a zip file.
#[derive(Debug)]
struct ZipEntry {
    name: String,
    made_on_unix: bool,
    unix_mode: u32,
    crc32: u32,
    uncompressed_size: u64,
}

const CENTRAL_DIRECTORY_SIGNATURE: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE: u32 = 0x0605_4b50;

fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([bytes[offset], bytes[offset + 1]])
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

/// Reads the central directory records that the end-of-central-directory record points to.
fn read_central_directory(zip: &[u8]) -> Vec<ZipEntry> {
    let end = (0..=zip.len() - 22)
        .rev()
        .find(|&offset| u32_at(zip, offset) == END_OF_CENTRAL_DIRECTORY_SIGNATURE)
        .expect("no end of central directory record");
    let entry_count = u16_at(zip, end + 10) as usize;
    let mut offset = u32_at(zip, end + 16) as usize;

    let mut entries = Vec::with_capacity(entry_count);
    for _ in 0..entry_count {
        assert_eq!(
            u32_at(zip, offset),
            CENTRAL_DIRECTORY_SIGNATURE,
            "bad central directory record"
        );
        let version_made_by = u16_at(zip, offset + 4);
        let crc32 = u32_at(zip, offset + 16);
        let uncompressed_size = u64::from(u32_at(zip, offset + 24));
        let name_length = u16_at(zip, offset + 28) as usize;
        let extra_length = u16_at(zip, offset + 30) as usize;
        let comment_length = u16_at(zip, offset + 32) as usize;
        let external_attributes = u32_at(zip, offset + 38);
        let name = String::from_utf8(zip[offset + 46..offset + 46 + name_length].to_vec()).unwrap();

        entries.push(ZipEntry {
            name,
            made_on_unix: version_made_by >> 8 == 3,
            unix_mode: external_attributes >> 16,
            crc32,
            uncompressed_size,
        });
        offset += 46 + name_length + extra_length + comment_length;
    }
    entries
}

/// CRC-32 as zip uses it (IEEE 802.3, reflected, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keyless-deploy-package-{label}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a 4 KiB file that starts like a 64-bit little-endian x86-64 ELF executable.
fn placeholder_handler(dir: &Path) -> PathBuf {
    let mut bytes = vec![0u8; 4096];
    bytes[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
    bytes[16] = 2; // e_type ET_EXEC
    bytes[18] = 0x3e; // e_machine EM_X86_64
    for (index, byte) in bytes.iter_mut().enumerate().skip(64) {
        *byte = (index % 251) as u8;
    }
    let path = dir.join("handler");
    fs::write(&path, bytes).unwrap();
    path
}

fn placeholder_component(dir: &Path) -> PathBuf {
    let path = dir.join("keyless.wasm");
    // The component binary magic and version (0d 00 01 00); enough for the package check.
    fs::write(&path, b"\0asm\x0d\x00\x01\x00").unwrap();
    path
}

fn run_package(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("scripts/package.sh"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .expect("failed to run bash")
}

fn entry<'a>(entries: &'a [ZipEntry], name: &str) -> &'a ZipEntry {
    entries
        .iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("{name} missing from the zip; entries: {entries:#?}"))
}

#[test]
fn zip_layout_and_modes() {
    let dir = scratch_dir("layout");
    let component = placeholder_component(&dir);
    let output = dir.join("app.zip");
    let handler = placeholder_handler(&dir);
    let handler = handler.to_str().unwrap();

    let result = run_package(&[
        "--no-precompile",
        "--handler",
        handler,
        "--component",
        component.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "package.sh failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );

    let entries = read_central_directory(&fs::read(&output).unwrap());
    let mut files: Vec<&str> = entries
        .iter()
        .filter(|entry| !entry.name.ends_with('/'))
        .map(|entry| entry.name.as_str())
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "clients/function.json",
            "handler",
            "health/function.json",
            "host.json",
            "keyless.wasm",
            "local.settings.json.example",
            "refresh-summary/function.json",
        ]
    );

    let handler_entry = entry(&entries, "handler");
    assert!(handler_entry.made_on_unix);
    assert_eq!(
        handler_entry.unix_mode, 0o100755,
        "handler mode {:o}",
        handler_entry.unix_mode
    );
    let handler_bytes = fs::read(handler).unwrap();
    assert_eq!(handler_entry.uncompressed_size, handler_bytes.len() as u64);
    assert_eq!(handler_entry.crc32, crc32(&handler_bytes));

    for name in [
        "host.json",
        "clients/function.json",
        "keyless.wasm",
        "local.settings.json.example",
    ] {
        let file = entry(&entries, name);
        assert!(file.made_on_unix, "{name}");
        assert_eq!(file.unix_mode, 0o100644, "{name} mode {:o}", file.unix_mode);
    }
    for name in ["clients/", "health/", "refresh-summary/"] {
        assert_eq!(entry(&entries, name).unix_mode, 0o040755, "{name}");
    }

    let host_json = fs::read(repo_root().join("deploy/functionapp/host.json")).unwrap();
    assert_eq!(entry(&entries, "host.json").crc32, crc32(&host_json));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn same_inputs_give_same_zip() {
    let dir = scratch_dir("repeat");
    let component = placeholder_component(&dir);
    let handler = placeholder_handler(&dir);
    let handler = handler.to_str().unwrap();
    let mut digests = Vec::new();

    for name in ["first.zip", "second.zip"] {
        let output = dir.join(name);
        let result = run_package(&[
            "--no-precompile",
            "--handler",
            handler,
            "--component",
            component.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        digests.push(crc32(&fs::read(&output).unwrap()));
    }

    assert_eq!(digests[0], digests[1]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn non_elf_handler_is_rejected() {
    let dir = scratch_dir("not-elf");
    let component = placeholder_component(&dir);
    let output = dir.join("app.zip");

    let result = run_package(&[
        "--handler",
        component.to_str().unwrap(),
        "--component",
        component.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);

    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("is not a Linux x86-64 executable"),
        "{stderr}"
    );
    assert!(!output.exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stand_in_handler_fails_precompile() {
    let dir = scratch_dir("stand-in");
    let component = placeholder_component(&dir);
    let handler = placeholder_handler(&dir);
    let output = dir.join("app.zip");

    let result = run_package(&[
        "--handler",
        handler.to_str().unwrap(),
        "--component",
        component.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);

    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("precompile' failed"), "{stderr}");
    assert!(stderr.contains("--no-precompile"), "{stderr}");
    assert!(!output.exists());
    fs::remove_dir_all(&dir).unwrap();
}

/// Packages the real handler and component: the zip carries `keyless.<hash>.cwasm`
/// written by the packaged handler, and that handler finds it under the same name.
#[test]
fn real_handler_adds_precompiled_component() {
    let dir = scratch_dir("real");
    let component = keyless_devkit::component::component_wasm();
    let handler = env!("CARGO_BIN_EXE_handler");
    let output = dir.join("app.zip");

    let result = run_package(&[
        "--handler",
        handler,
        "--component",
        component.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "package.sh failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );

    let entries = read_central_directory(&fs::read(&output).unwrap());
    let cwasm: Vec<&ZipEntry> = entries
        .iter()
        .filter(|entry| entry.name.ends_with(".cwasm"))
        .collect();
    assert_eq!(cwasm.len(), 1, "one .cwasm entry: {entries:#?}");
    let cwasm = cwasm[0];
    assert_eq!(cwasm.unix_mode, 0o100644, "mode {:o}", cwasm.unix_mode);
    assert!(cwasm.uncompressed_size > 0);

    // The name is the one the same handler writes for this machine's engine.
    let expected_dir = dir.join("expected");
    let precompiled = Command::new(handler)
        .env_clear()
        .args(["precompile", "--component", component.to_str().unwrap(), "--output"])
        .arg(&expected_dir)
        .output()
        .expect("handler precompile runs");
    assert!(precompiled.status.success());
    let expected_path = String::from_utf8_lossy(&precompiled.stdout).lines().last().unwrap().to_owned();
    let expected_name = Path::new(&expected_path).file_name().unwrap().to_str().unwrap();
    assert_eq!(cwasm.name, expected_name);
    let hash = expected_name
        .strip_prefix("keyless.")
        .and_then(|rest| rest.strip_suffix(".cwasm"))
        .unwrap_or_else(|| panic!("unexpected name {expected_name}"));
    assert_eq!(hash.len(), 16, "{expected_name}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{expected_name}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_lists_options() {
    let result = run_package(&["--help"]);

    assert!(result.status.success());
    let help = String::from_utf8_lossy(&result.stdout);
    for option in [
        "--profile",
        "--target",
        "--handler",
        "--component",
        "--output",
        "--no-precompile",
    ] {
        assert!(
            help.contains(option),
            "{option} missing from --help: {help}"
        );
    }
}

#[test]
fn crc32_matches_known_value() {
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}
