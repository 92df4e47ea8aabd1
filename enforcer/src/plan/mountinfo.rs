//! This process's mount table (`/proc/self/mountinfo`): mount points, and whether
//! bind mounts may make one directory reachable under several paths.

use super::*;

/// The mount points of this process's mount namespace, from `/proc/self/mountinfo`
/// (field 5, with the kernel's octal escapes for space, tab, newline and backslash).
pub fn read_mount_points() -> Vec<PathBuf> {
    read_mountinfo()
        .map(|text| mount_points_in(&text))
        .unwrap_or_default()
}

/// `/proc/self/mountinfo`, read in as few system calls as the table allows.
/// `std::fs::read` asks the size first (a /proc file has none) and then reads in
/// growing steps from 32 bytes: ten system calls for a table of 1.5 KiB, which the
/// plan cache reads on every start. Here it is open, one read per 16 KiB, close.
pub(crate) fn read_mountinfo() -> Option<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/mountinfo").ok()?;
    let mut text = vec![0u8; 16 << 10];
    let mut len = 0;
    loop {
        if len == text.len() {
            text.resize(len * 2, 0);
        }
        match file.read(&mut text[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    text.truncate(len);
    Some(text)
}

/// The mount points listed in the text of a `mountinfo` file.
pub(super) fn mount_points_in(text: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let Some(field) = line.split(|b| *b == b' ').nth(4) else {
            continue;
        };
        let mut decoded = Vec::with_capacity(field.len());
        let mut i = 0;
        while i < field.len() {
            if field[i] == b'\\'
                && i + 3 < field.len()
                && field[i + 1..i + 4]
                    .iter()
                    .all(|c| (b'0'..=b'7').contains(c))
            {
                let value =
                    (field[i + 1] - b'0') * 64 + (field[i + 2] - b'0') * 8 + (field[i + 3] - b'0');
                decoded.push(value);
                i += 4;
            } else {
                decoded.push(field[i]);
                i += 1;
            }
        }
        out.push(PathBuf::from(OsString::from_vec(decoded)));
    }
    out.sort();
    out.dedup();
    out
}

/// Does the mount table hold a bind mount: an entry whose root is not the root of its
/// filesystem (field 4), or a device (field 3) mounted more than once? Unreadable
/// mountinfo counts as yes.
pub fn bind_mounts_present() -> bool {
    read_mountinfo().is_none_or(|text| bind_mounts_in(&text))
}

/// [`bind_mounts_present`] for the text of a `mountinfo` file.
pub(super) fn bind_mounts_in(text: &[u8]) -> bool {
    let mut devices: Vec<&[u8]> = Vec::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut fields = line.split(|b| *b == b' ');
        let (Some(device), Some(root)) = (fields.nth(2), fields.next()) else {
            return true;
        };
        if root != b"/" || devices.contains(&device) {
            return true;
        }
        devices.push(device);
    }
    false
}
