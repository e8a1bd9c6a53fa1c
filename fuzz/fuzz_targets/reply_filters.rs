#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mongoward::proxy::filter::fuzz_logic(data);
});
