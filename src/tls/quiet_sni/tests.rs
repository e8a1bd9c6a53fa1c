use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// Records the messages that reach it.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Seen {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        struct Text(String);
        impl Visit for Text {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        if let Ok(mut seen) = self.0.lock() {
            seen.push(text.0);
        }
    }
}

/// A WARN record shaped as tracing-log bridges one from the `log` crate.
fn bridged(log_target: &str, message: &str) {
    tracing::event!(target: "log", Level::WARN, { log.target = log_target }, "{}", message);
}

#[test]
fn drops_only_the_ip_literal_sni_warning() {
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry()
        .with(seen.clone())
        .with(QuietIpSni);
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(
            target: "rustls::msgs::handshake",
            "Illegal SNI extension: ignoring IP address presented as hostname ({:?})",
            "127.0.0.1"
        );
        // Other rustls warnings, other levels and other targets all stay.
        tracing::warn!(target: "rustls::msgs::handshake", "Illegal SNI extension: duplicate host_name received");
        tracing::warn!(target: "rustls::msgs::handshake", "Illegal SNI hostname received \"a_b\"");
        tracing::debug!(target: "rustls::msgs::handshake", "Illegal SNI extension: ignoring IP address (debug)");
        tracing::warn!(target: "mongoward", "Illegal SNI extension: ignoring IP address, said elsewhere");
        // Records from the `log` crate, as tracing-log bridges them: target "log", the
        // real one in a field.
        bridged(
            "rustls::msgs::handshake",
            "Illegal SNI extension: ignoring IP address presented as hostname (3132372e302e302e31)",
        );
        bridged(
            "other::crate",
            "Illegal SNI extension: ignoring IP address, from elsewhere",
        );
    });
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        seen.iter().all(|m| !m.contains("presented as hostname")),
        "{seen:?}"
    );
}
