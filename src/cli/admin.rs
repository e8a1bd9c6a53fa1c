//! `mongoward admin init`: creates the store's schema, the organization and its first
//! ORG_OWNER service account, and prints `{"orgId","clientId","clientSecret"}` once.

use std::path::Path;

use crate::control::bootstrap;
use crate::control::config::ControlPlaneConfig;

/// Reads `[control_plane]` from the configuration file (only that section: `admin init`
/// runs before any policy exists).
pub fn control_plane_section(path: &Path) -> Result<ControlPlaneConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let section = doc
        .get("control_plane")
        .cloned()
        .ok_or_else(|| format!("{}: no [control_plane] section", path.display()))?;
    let mut cfg: ControlPlaneConfig = section
        .try_into()
        .map_err(|e| format!("{}: [control_plane]: {e}", path.display()))?;
    cfg.resolve_paths(path.parent().unwrap_or(Path::new(".")));
    cfg.validate()
        .map_err(|e| format!("{}: [control_plane] {e}", path.display()))?;
    Ok(cfg)
}

/// Runs `admin init`; answers the JSON line to print.
pub async fn init(config: &Path, org_name: &str) -> Result<String, String> {
    let cfg = control_plane_section(config)?;
    let store = cfg.open_store().await.map_err(|e| e.to_string())?;
    let out = bootstrap::init(&store, org_name)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::to_string(&out).map_err(|e| e.to_string())
}
