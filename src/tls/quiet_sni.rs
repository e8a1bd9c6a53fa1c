//! An IP literal sent as TLS SNI, quietly.
//!
//! RFC 6066 forbids IP addresses in SNI, but old drivers (the Java driver 3.x among them)
//! send the host they were given, `127.0.0.1` included. rustls already treats such a name
//! as no name at all (`ClientHello::server_name()` is `None`), which is what SNI routing
//! needs: the connection goes to a listener's only cluster, or gets `unrecognized_name`
//! where a name is required. But rustls also logs `Illegal SNI extension: ignoring IP
//! address ...` at WARN for every such connection, so one old application fills the log.
//!
//! The message cannot be avoided before rustls sees it (the ClientHello is part of the
//! handshake transcript, so it cannot be rewritten), and rustls has no switch for it. This
//! layer drops exactly that record and nothing else; every other rustls line stays.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Where rustls parses the SNI extension (its `log` records keep the module path).
const TARGET: &str = "rustls::msgs::handshake";
const MESSAGE: &str = "Illegal SNI extension: ignoring IP address";

/// Drops rustls's warning about an IP literal in SNI.
#[derive(Clone, Copy, Debug, Default)]
pub struct QuietIpSni;

impl<S: Subscriber> Layer<S> for QuietIpSni {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        !is_ip_sni_warning(event)
    }
}

fn is_ip_sni_warning(event: &Event<'_>) -> bool {
    let meta = event.metadata();
    if *meta.level() != Level::WARN {
        return false;
    }
    let mut seen = Seen {
        target: meta.target().starts_with(TARGET),
        message: false,
    };
    event.record(&mut seen);
    seen.target && seen.message
}

/// What the visitor found, without keeping any text. rustls logs through the `log` crate:
/// bridged records carry their real target in a `log.target` field (the event's own
/// target is then "log").
struct Seen {
    target: bool,
    message: bool,
}

impl Visit for Seen {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}").starts_with(MESSAGE);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.starts_with(MESSAGE),
            "log.target" => self.target |= value.starts_with(TARGET),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
