#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mongoward::gates::proxy_protocol::fuzz_logic(data);
});
