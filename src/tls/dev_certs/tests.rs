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

#[test]
fn a_malformed_pem_entry_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), &generate(&[]).unwrap()).unwrap();
    // A chain whose second certificate is damaged: it used to be dropped silently.
    let chain = std::fs::read_to_string(&paths.cert).unwrap();
    let cut = chain.rfind("-----END CERTIFICATE-----").unwrap();
    let broken = format!("{}!!not base64!!\n{}", &chain[..cut], &chain[cut..]);
    std::fs::write(&paths.cert, broken).unwrap();
    let err = crate::tls::load_certs(&paths.cert).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, crate::tls::TlsError::BadPem { .. }), "{text}");
    assert!(text.contains(&paths.cert.display().to_string()), "{text}");
    // The same for the key file.
    std::fs::write(&paths.cert, &chain).unwrap();
    std::fs::write(
        &paths.key,
        "-----BEGIN PRIVATE KEY-----\n@@@\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = crate::tls::server_config(&paths.cert, &paths.key).unwrap_err();
    assert!(err.to_string().contains("malformed PEM"), "{err}");
    // A file without any key stays the plain "no key" error.
    std::fs::write(&paths.key, "nothing here\n").unwrap();
    let err = crate::tls::load_certs(&paths.key).unwrap_err();
    assert!(
        matches!(err, crate::tls::TlsError::NoCertificate { .. }),
        "{err}"
    );
}
