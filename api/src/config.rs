//! Configuration: flags over environment (`SERVICEWATCH_*`) over an optional
//! TOML file over defaults, validated once at start with messages that name
//! the setting.
//!
//! ```toml
//! # servicewatch.toml
//! table = "gold.fact.maintenanceservices"
//! time_zone = "UTC"                     # the zone whose calendar days are counted
//! [columns]
//! timestamp = "transaction_timestamp"
//! service = "orderservice"
//! [warehouse]
//! kind = "embedded"
//! data = "/data/maintenanceservices/"   # a Parquet/CSV file or a folder of them
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::warehouse::sql::{Ident, Source, TableName};
use crate::warehouse::zone::Zone;

/// Everything the server and the `scan` job need to reach the data.
#[derive(Debug, Clone)]
pub struct Config {
    pub table: TableName,
    pub columns: Columns,
    /// Days are calendar days in this zone (UTC unless configured).
    pub time_zone: Zone,
    pub warehouse: WarehouseConfig,
    /// Longest date range one request may ask for, in days.
    pub max_span_days: u32,
    /// How long cached aggregates stay fresh.
    pub cache_ttl: std::time::Duration,
    /// Upper bound on cached service-days across all entries.
    pub cache_max_points: usize,
}

/// Column names in the transactions table, validated identifiers.
#[derive(Debug, Clone)]
pub struct Columns {
    pub timestamp: Ident,
    pub service: Ident,
}

#[derive(Debug, Clone)]
pub enum WarehouseConfig {
    /// DataFusion over local Parquet/CSV; `None` = generated sample data.
    Embedded { data: Option<PathBuf> },
}

impl WarehouseConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            WarehouseConfig::Embedded { .. } => "embedded",
        }
    }
}

/// The raw layers before validation; each field optional so layers merge.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub table: Option<String>,
    #[serde(default)]
    pub columns: ColumnsLayer,
    pub time_zone: Option<String>,
    #[serde(default)]
    pub warehouse: WarehouseLayer,
    pub max_span_days: Option<u32>,
    pub cache_ttl_seconds: Option<u64>,
    pub cache_max_points: Option<usize>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsLayer {
    pub timestamp: Option<String>,
    pub service: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseLayer {
    pub kind: Option<String>,
    pub data: Option<PathBuf>,
}

/// Flags shared by `serve` and `scan` (each also readable from the environment).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ConfigArgs {
    /// TOML config file.
    #[arg(long, env = "SERVICEWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Table to read, `catalog.schema.table`.
    #[arg(long, env = "SERVICEWATCH_TABLE")]
    pub table: Option<String>,
    /// Column holding the transaction time.
    #[arg(long, env = "SERVICEWATCH_TIMESTAMP_COLUMN")]
    pub timestamp_column: Option<String>,
    /// Column holding the service.
    #[arg(long, env = "SERVICEWATCH_SERVICE_COLUMN")]
    pub service_column: Option<String>,
    /// Time zone whose calendar days are counted (IANA name, e.g. Europe/Paris).
    #[arg(long, env = "SERVICEWATCH_TIME_ZONE")]
    pub time_zone: Option<String>,
    /// Warehouse kind: embedded (Databricks and Spark come later).
    #[arg(long, env = "SERVICEWATCH_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// Embedded warehouse: a Parquet/CSV file or a folder of them.
    #[arg(long, env = "SERVICEWATCH_DATA")]
    pub data: Option<PathBuf>,
}

impl ConfigArgs {
    fn layer(&self) -> Layer {
        Layer {
            table: self.table.clone(),
            columns: ColumnsLayer { timestamp: self.timestamp_column.clone(), service: self.service_column.clone() },
            time_zone: self.time_zone.clone(),
            warehouse: WarehouseLayer { kind: self.warehouse.clone(), data: self.data.clone() },
            ..Layer::default()
        }
    }

    /// Flags (and their environment variables) over the file over defaults.
    pub fn load(&self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => Layer::default(),
        };
        Config::from_layers(&[self.layer(), file])
    }
}

fn read_file(path: &Path) -> anyhow::Result<Layer> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {} is not valid", path.display()))
}

impl Config {
    /// Merges layers, first wins, and validates.
    pub fn from_layers(layers: &[Layer]) -> anyhow::Result<Config> {
        fn pick<T: Clone>(layers: &[Layer], f: impl Fn(&Layer) -> Option<T>) -> Option<T> {
            layers.iter().find_map(f)
        }
        let table = pick(layers, |l| l.table.clone()).unwrap_or_else(|| "gold.fact.maintenanceservices".into());
        let table = TableName::parse(&table).context("setting `table`")?;
        let ts = pick(layers, |l| l.columns.timestamp.clone()).unwrap_or_else(|| "transaction_timestamp".into());
        let svc = pick(layers, |l| l.columns.service.clone()).unwrap_or_else(|| "orderservice".into());
        let columns = Columns {
            timestamp: Ident::parse(&ts).context("setting `columns.timestamp`")?,
            service: Ident::parse(&svc).context("setting `columns.service`")?,
        };
        let time_zone = match pick(layers, |l| l.time_zone.clone()) {
            Some(name) => Zone::parse(&name).context("setting `time_zone`")?,
            None => Zone::UTC,
        };
        let kind = pick(layers, |l| l.warehouse.kind.clone()).unwrap_or_else(|| "embedded".into());
        let warehouse = match kind.as_str() {
            "embedded" => {
                let data = pick(layers, |l| l.warehouse.data.clone());
                if let Some(d) = &data {
                    if !d.exists() {
                        bail!("setting `warehouse.data`: {} does not exist", d.display());
                    }
                }
                WarehouseConfig::Embedded { data }
            }
            "databricks" | "spark" => bail!("setting `warehouse.kind`: `{kind}` is not available yet (embedded only)"),
            other => bail!("setting `warehouse.kind`: unknown warehouse `{other}`: expected embedded"),
        };
        let max_span_days = pick(layers, |l| l.max_span_days).unwrap_or(3660);
        if max_span_days == 0 {
            bail!("setting `max_span_days` must be at least 1");
        }
        let ttl = pick(layers, |l| l.cache_ttl_seconds).unwrap_or(600);
        let cache_max_points = pick(layers, |l| l.cache_max_points).unwrap_or(20_000_000);
        Ok(Config {
            table,
            columns,
            time_zone,
            warehouse,
            max_span_days,
            cache_ttl: std::time::Duration::from_secs(ttl),
            cache_max_points,
        })
    }
}

impl Config {
    /// The table, columns and day definition the warehouse SQL reads.
    pub fn source(&self) -> Source {
        Source {
            table: self.table.clone(),
            timestamp: self.columns.timestamp.clone(),
            service: self.columns.service.clone(),
            zone: self.time_zone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_precedence() {
        let c = Config::from_layers(&[]).unwrap();
        assert_eq!(c.table.to_string(), "`gold`.`fact`.`maintenanceservices`");
        assert_eq!(c.columns.service.as_str(), "orderservice");
        let flags = Layer { table: Some("a.b".into()), ..Layer::default() };
        let file: Layer = toml::from_str("table = \"x.y.z\"\n[columns]\nservice = \"svc\"\n").unwrap();
        let c = Config::from_layers(&[flags, file]).unwrap();
        assert_eq!(c.table.to_string(), "`a`.`b`");
        assert_eq!(c.columns.service.as_str(), "svc");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let bad = |l: Layer| format!("{:#}", Config::from_layers(&[l]).unwrap_err());
        let e = bad(Layer { table: Some("gold.fact; DROP TABLE x".into()), ..Layer::default() });
        assert!(e.contains("setting `table`"), "{e}");
        let e = bad(Layer {
            columns: ColumnsLayer { service: Some("a b".into()), ..Default::default() },
            ..Default::default()
        });
        assert!(e.contains("columns.service"), "{e}");
        let e =
            bad(Layer { warehouse: WarehouseLayer { kind: Some("oracle".into()), data: None }, ..Default::default() });
        assert!(e.contains("unknown warehouse `oracle`"), "{e}");
        let e = bad(Layer { time_zone: Some("CEST".into()), ..Default::default() });
        assert!(e.contains("setting `time_zone`") && e.contains("IANA"), "{e}");
        assert!(toml::from_str::<Layer>("tabel = \"x\"").is_err(), "typos in the file are errors");
    }
}
