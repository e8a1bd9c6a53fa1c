#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mongoward::wire::fuzz_logic(data);
});
