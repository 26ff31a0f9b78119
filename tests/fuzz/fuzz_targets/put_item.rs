#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dirdav_harness::targets::put_item(data));
