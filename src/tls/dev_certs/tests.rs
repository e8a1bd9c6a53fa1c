use super::*;

#[test]
fn generated_pair_loads_into_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), &generate(&[]).unwrap()).unwrap();
    assert!(crate::tls::server_config(&paths.cert, &paths.key).is_ok());
    let text = std::fs::read_to_string(&paths.cert).unwrap();
    assert!(text.starts_with(WARNING));
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2);
}
