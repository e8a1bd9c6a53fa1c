#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mongoward::authz::classify::fuzz_logic(data);
});
