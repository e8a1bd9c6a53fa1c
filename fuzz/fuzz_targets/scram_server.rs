#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mongoward::gates::scram::fuzz_logic(data);
});
