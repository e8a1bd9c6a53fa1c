use super::*;

#[test]
fn error_doc_has_mongodb_shape() {
    let doc = ErrorReply::unauthorized("not authorized on x to execute command find on x.y")
        .with_label("RetryableWriteError")
        .to_doc();
    assert_eq!(doc.get_f64("ok").unwrap(), 0.0);
    assert_eq!(doc.get_i32("code").unwrap(), 13);
    assert_eq!(doc.get_str("codeName").unwrap(), "Unauthorized");
    let labels = doc.get_array("errorLabels").unwrap();
    assert_eq!(labels.get_str(0).unwrap(), "RetryableWriteError");
}
