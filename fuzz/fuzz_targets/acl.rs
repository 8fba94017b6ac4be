//! ACLs of file-list entries (`-A`), as a receiver reads them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    protocol::acl::fuzz_entries(data);
});
