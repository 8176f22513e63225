//! The servicewatch server and command line, as a library so integration
//! tests drive the real thing.
//!
//! - [`config`]: flags, environment and TOML, validated once.
//! - [`warehouse`]: the trait every warehouse implements, the shared SQL,
//!   the embedded DataFusion engine (cargo feature `embedded`, on by
//!   default) and the Databricks SQL warehouse.
//! - [`cache`]: TTL, size bound and single flight for warehouse results.
//! - [`http`]: routes, errors and the server.
//! - [`store`]: the audit trail, marks and alert outbox (a SQLite file,
//!   cargo feature `sqlite`); [`alerts`]: `scan --alert`'s webhook delivery.
//! - [`services`]: service names to panel indices, for the API and `scan`.
//! - [`view`]: what a series is (count or amount; per service or split by
//!   a dimension; filtered) and which views the table's columns allow.
//! - [`sample`], [`scan`], [`evaluate`]: the other subcommands; [`terminal`]:
//!   their progress bars.

pub mod alerts;
#[cfg(feature = "embedded")]
pub mod bench;
pub mod cache;
pub mod config;
pub mod evaluate;
pub mod http;
pub mod real_data;
#[cfg(feature = "embedded")]
pub mod sample;
pub mod scan;
pub mod services;
pub mod store;
pub mod terminal;
pub mod view;
pub mod warehouse;

use std::sync::Arc;

use config::{Config, WarehouseConfig};
use warehouse::databricks::Databricks;
use warehouse::Warehouse;

/// Opens the configured warehouse. Sample data only when asked for
/// (`--sample`): an embedded warehouse without data is an error, since
/// made-up numbers must never pass for the table's.
pub async fn open_warehouse(config: &Config) -> anyhow::Result<Arc<dyn Warehouse>> {
    let source = config.source();
    match &config.warehouse {
        WarehouseConfig::Embedded { data: None } => anyhow::bail!(
            "setting `warehouse.data` (--data, SERVICEWATCH_DATA) is required for the embedded warehouse: a \
             Parquet or CSV file or a folder of them; or pass --sample (SERVICEWATCH_SAMPLE=1) to serve \
             generated sample data"
        ),
        #[cfg(feature = "embedded")]
        WarehouseConfig::Embedded { data: Some(path) } => checked(config, path, source).await,
        #[cfg(feature = "embedded")]
        WarehouseConfig::Sample => {
            let path = tokio::task::spawn_blocking(sample::default_sample).await??;
            checked(config, &path, source).await
        }
        #[cfg(not(feature = "embedded"))]
        WarehouseConfig::Embedded { .. } | WarehouseConfig::Sample => anyhow::bail!(
            "setting `warehouse.kind`: this build has no embedded warehouse (built without the `embedded` \
             feature); use databricks"
        ),
        WarehouseConfig::Databricks(settings) => Ok(Arc::new(Databricks::new(settings, source)?)),
    }
}

/// The embedded warehouse over `path`, its configured columns checked at
/// once (local files cost nothing to look at): a column a setting names and
/// the file lacks stops the start, naming both.
#[cfg(feature = "embedded")]
async fn checked(
    config: &Config,
    path: &std::path::Path,
    source: warehouse::sql::Source,
) -> anyhow::Result<Arc<dyn Warehouse>> {
    use anyhow::Context;
    let wh = warehouse::embedded::Embedded::open(path, source).await?;
    let have = wh.columns(&Default::default(), &Default::default()).await?;
    view::Available::resolve(&config.columns, &have).with_context(|| path.display().to_string())?;
    Ok(Arc::new(wh))
}

/// Opens the store (audit trail, marks, alert outbox): Databricks tables
/// when `store_schema` is set, else the SQLite file `audit_db` (else in
/// the user's data folder), creating the file and its folder. Blocking;
/// call it inside the runtime (the Databricks store runs its statements
/// on it). None in a build without SQLite and no `store_schema` (the
/// Databricks App build unconfigured), whose endpoints then say so.
pub fn open_store(config: &Config) -> anyhow::Result<Option<Arc<dyn store::Store>>> {
    use anyhow::Context;
    if let Some(schema) = &config.store_schema {
        let WarehouseConfig::Databricks(settings) = &config.warehouse else {
            anyhow::bail!("setting `store_schema` needs the Databricks warehouse");
        };
        let client = Databricks::new(settings, config.source())?.client();
        let runtime = tokio::runtime::Handle::try_current().context("the Databricks store runs inside the runtime")?;
        return Ok(Some(Arc::new(store::delta::Delta::new(client, schema.clone(), runtime))));
    }
    #[cfg(feature = "sqlite")]
    {
        let path = config.audit_path()?;
        let setting = "setting `audit_db` (--audit-db, SERVICEWATCH_AUDIT_DB)";
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{setting}: cannot create the folder {}", dir.display()))?;
        }
        let store = store::sqlite::Sqlite::open(&path).with_context(|| setting.to_string())?;
        Ok(Some(Arc::new(store)))
    }
    #[cfg(not(feature = "sqlite"))]
    {
        if config.audit_db.is_some() {
            tracing::warn!("setting `audit_db` is ignored: this build has no SQLite store (set `store_schema`)");
        }
        Ok(None)
    }
}
