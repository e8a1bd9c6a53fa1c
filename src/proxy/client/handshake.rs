//! The proxy's own answers to `hello`/`isMaster`, `ping` and `buildInfo`.
//!
//! Drivers see one mongos-like endpoint (`msg: "isdbgrid"`): never the upstream's host
//! list, replica set name or topology. Limits and `maxWireVersion` are the upstream's own,
//! so drivers size batches and pick features for the real server. `minWireVersion` is 0,
//! as mongod and mongos answer: the proxy speaks OP_MSG upstream whatever the client
//! speaks, so an upstream's high minimum must not make old drivers refuse the proxy.
//! No `topologyVersion` is sent: drivers then poll instead of holding awaitable hellos
//! open against the proxy.

use bson::{rawdoc, RawArrayBuf, RawDocument, RawDocumentBuf};

use crate::proxy::upstream::UpstreamInfo;
use crate::wire::Compressor;

/// What a hello request asked for.
#[derive(Debug, Default)]
pub struct HelloRequest {
    /// `hello` (true) or legacy `isMaster`/`ismaster` (false).
    pub modern: bool,
    pub hello_ok: bool,
    pub load_balanced: bool,
    pub compression: Vec<Compressor>,
    /// `saslSupportedMechs: "db.user"`, if asked.
    pub sasl_supported_mechs: Option<String>,
    /// `speculativeAuthenticate` document, if sent.
    pub speculative: Option<RawDocumentBuf>,
}

impl HelloRequest {
    pub fn parse(body: &RawDocument, name: &str) -> HelloRequest {
        let flag = |k: &str| body.get_bool(k).unwrap_or(false);
        let compression = body
            .get_array("compression")
            .ok()
            .map(|a| {
                a.into_iter()
                    .filter_map(|v| v.ok().and_then(|v| v.as_str()))
                    .filter_map(Compressor::from_name)
                    .collect()
            })
            .unwrap_or_default();
        HelloRequest {
            modern: name == "hello",
            hello_ok: flag("helloOk"),
            load_balanced: flag("loadBalanced"),
            compression,
            sasl_supported_mechs: body.get_str("saslSupportedMechs").ok().map(str::to_string),
            speculative: body
                .get_document("speculativeAuthenticate")
                .ok()
                .map(|d| d.to_raw_document_buf()),
        }
    }
}

/// What mongod and mongos report: drivers of any age may connect.
pub const MIN_WIRE_VERSION: i32 = 0;

pub use crate::proxy::state::Identity;

/// Compressors the proxy speaks, in its order of preference when the client has none.
pub const SUPPORTED_COMPRESSORS: [Compressor; 3] =
    [Compressor::Zstd, Compressor::Snappy, Compressor::Zlib];

/// The client's list filtered to what we support, keeping the client's order (its preference).
pub fn negotiate(client: &[Compressor]) -> Vec<Compressor> {
    client
        .iter()
        .copied()
        .filter(|c| SUPPORTED_COMPRESSORS.contains(c))
        .collect()
}

/// Builds the hello reply. Authentication fields are appended by the caller.
pub fn hello_reply(
    req: &HelloRequest,
    info: &UpstreamInfo,
    identity: &Identity,
    connection_id: i64,
    compressors: &[Compressor],
    now_millis: i64,
) -> RawDocumentBuf {
    let mut doc = RawDocumentBuf::new();
    if req.hello_ok {
        doc.append("helloOk", true);
    }
    doc.append(
        if req.modern {
            "isWritablePrimary"
        } else {
            "ismaster"
        },
        true,
    );
    doc.append("msg", "isdbgrid");
    doc.append("maxBsonObjectSize", info.max_bson_object_size);
    doc.append("maxMessageSizeBytes", info.max_message_size_bytes);
    doc.append("maxWriteBatchSize", info.max_write_batch_size);
    doc.append("localTime", bson::DateTime::from_millis(now_millis));
    if let Some(m) = info.logical_session_timeout_minutes {
        doc.append("logicalSessionTimeoutMinutes", m);
    }
    doc.append("connectionId", connection_id);
    doc.append("minWireVersion", MIN_WIRE_VERSION);
    doc.append("maxWireVersion", info.max_wire_version);
    doc.append("readOnly", false);
    if !compressors.is_empty() {
        let mut list = RawArrayBuf::new();
        for c in compressors {
            list.push(c.name());
        }
        doc.append("compression", list);
    }
    if req.load_balanced {
        doc.append("serviceId", identity.service_id);
    }
    doc
}

/// Appends `ok: 1` (last, as servers do).
pub fn finish(mut doc: RawDocumentBuf) -> RawDocumentBuf {
    doc.append("ok", 1.0);
    doc
}

/// `buildInfo`, from the upstream's version (drivers gate features on it). The Java
/// driver 3.x reads the first three entries of `versionArray`, so it always has mongod's
/// four (major, minor, patch, pre-release), padded with zeros.
pub fn build_info(info: &UpstreamInfo) -> RawDocumentBuf {
    let mut version_array = RawArrayBuf::new();
    let parts = info
        .version_array
        .iter()
        .copied()
        .chain(std::iter::repeat(0));
    for v in parts.take(4) {
        version_array.push(v);
    }
    rawdoc! {
        "version": info.version.as_str(),
        "versionArray": version_array,
        "gitVersion": "mongoward",
        "bits": 64,
        "maxBsonObjectSize": info.max_bson_object_size,
        "ok": 1.0,
    }
}

#[cfg(test)]
mod tests;
