//! Configuration: flags over environment (`SERVICEWATCH_*`) over an optional
//! TOML file over defaults, validated once at start with messages that name
//! the setting.
//!
//! ```toml
//! # servicewatch.toml
//! table = "gold.fact.maintenanceservices"
//! time_zone = "UTC"                     # the zone whose calendar days are counted
//! frame_ancestors = "'self' https://portal.example.com"   # who may embed the app
//! cache_max_bytes = 268435456           # all caches together (snapshot, baselines, bodies)
//! partial_day_gap_minutes = 60          # a first day starting later than this into it (or an extract's
//!                                       # last day stopping earlier before its end) is not scored
//! holidays = "nz, 2024-03-15"           # calendars (us, gb, nz) and dates: days the business is quiet; a drop
//!                                       # there is not flagged unless 5+ services measured the day (none by default)
//! audit_db = "/var/lib/servicewatch/audit.sqlite3"   # the audit trail (default in ~/.local/share)
//! user = "servicewatch"                 # who recorded rows are by (behind the Apps proxy: the signed-in user)
//! # store_schema = "main.servicewatch"  # Databricks only: marks, audit trail and alerts in tables of this schema
//! amount_decimals = 2                   # amounts are summed in minor units: amount × 10^2 (cents)
//! [columns]
//! timestamp = "transaction_timestamp"
//! service = "orderservice"
//! amount = "amount"                     # optional columns: under their default names they are
//! segment = "customer_segment"          # used when the table has them; named here, the table
//! channel = "channel"                   # must have them (start or first load fails, naming
//! payment_method = "payment_method"     # the setting)
//! [warehouse]
//! kind = "embedded"
//! data = "/data/maintenanceservices/"   # a Parquet/CSV file or a folder of them
//! # sample = true                       # or generated sample data (made-up numbers)
//! ```
//!
//! A Databricks SQL warehouse takes its settings by their Databricks names
//! (`DATABRICKS_HOST`, `DATABRICKS_WAREHOUSE_ID`, `DATABRICKS_TOKEN`,
//! `DATABRICKS_CLIENT_ID`/`_SECRET`, `DATABRICKS_CONFIG_PROFILE`), so an app
//! or a job that already has them needs nothing else:
//!
//! ```toml
//! [warehouse]
//! kind = "databricks"
//! host = "https://adb-1234567890.12.azuredatabricks.net"
//! warehouse_id = "abcdef1234567890"
//! behind_apps_proxy = true    # trust X-Forwarded-Access-Token (Databricks Apps)
//! ```
//!
//! Secrets are read from the environment or `~/.databrickscfg`, never from
//! this file or a flag (both end up in places that are not secret).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use servicewatch_shared::holidays::Holidays;
use servicewatch_shared::Dimension;

use crate::warehouse::databricks::{self, Credentials, Secret};
use crate::warehouse::sql::{Ident, Source, TableName};
use crate::warehouse::zone::Zone;

/// The default `cache_max_bytes`: 256 MiB.
const DEFAULT_CACHE_BYTES: u64 = 256 << 20;
/// Below this the snapshot of a small table alone would not fit.
const MIN_CACHE_BYTES: u64 = 1 << 20;

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
    /// What every cache together may hold, in bytes (see [`crate::cache`]).
    pub cache_max_bytes: usize,
    /// Who may embed the app in a frame: validated CSP `frame-ancestors`
    /// sources, space-separated.
    pub frame_ancestors: String,
    /// A first day whose data starts more than this into it is partial, and
    /// so is an extract's last day whose data stops more than this before
    /// its end (see `Bounds::partial_edges`).
    pub partial_day_gap: chrono::TimeDelta,
    /// Days the business is expected to be quiet: holiday calendars and
    /// dates ([`servicewatch_shared::holidays`]; none unless set).
    pub holidays: Holidays,
    /// The audit trail's SQLite file, when set (else
    /// [`crate::store::default_path`]; see [`Config::audit_path`]).
    pub audit_db: Option<PathBuf>,
    /// Who rows recorded in the audit trail are by, when set; the server
    /// takes the signed-in user's X-Forwarded-Email first, behind the
    /// Apps proxy ([`Config::user`]).
    pub user: Option<String>,
    /// Databricks only: keep marks, the audit trail and the alert outbox
    /// in tables of this schema (`catalog.schema`, which must exist)
    /// instead of the SQLite file ([`crate::store::delta`]).
    pub store_schema: Option<TableName>,
    /// Runs behind the Databricks Apps proxy: its X-Forwarded-* headers
    /// are the signed-in user's (anyone could send them otherwise).
    pub behind_apps_proxy: bool,
    /// Decimals of the amount's minor unit (0 to 6, default 2): amounts are
    /// summed as whole minor units, amount × 10^decimals, rounded per row.
    pub amount_decimals: u8,
}

/// The default `amount_decimals`: cents.
pub const DEFAULT_AMOUNT_DECIMALS: u8 = 2;
/// The most `amount_decimals`: at 10^6 minor units a unit, a day's sum of
/// a billion units still fits the engine's exact range (2^53).
pub const MAX_AMOUNT_DECIMALS: u8 = 6;

/// Column names in the transactions table, validated identifiers.
#[derive(Debug, Clone)]
pub struct Columns {
    pub timestamp: Ident,
    pub service: Ident,
    /// What each transaction was worth (`metric=amount`).
    pub amount: OptionalColumn,
    /// The customer segment, the channel and the payment method: the
    /// dimensions a service's series can be split by or filtered on.
    pub segment: OptionalColumn,
    pub channel: OptionalColumn,
    pub payment_method: OptionalColumn,
}

/// A column the table may lack: used when there under its default name,
/// required when a setting names it (see [`crate::view::Available::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalColumn {
    pub name: Ident,
    /// Named by a setting, not defaulted.
    pub explicit: bool,
}

impl Columns {
    /// The column of dimension `d`.
    pub fn dimension(&self, d: Dimension) -> &OptionalColumn {
        match d {
            Dimension::Segment => &self.segment,
            Dimension::Channel => &self.channel,
            Dimension::PaymentMethod => &self.payment_method,
        }
    }

    /// The setting naming dimension `d`'s column.
    pub fn setting(d: Dimension) -> &'static str {
        match d {
            Dimension::Segment => "columns.segment",
            Dimension::Channel => "columns.channel",
            Dimension::PaymentMethod => "columns.payment_method",
        }
    }
}

#[derive(Debug, Clone)]
pub enum WarehouseConfig {
    /// DataFusion over local Parquet/CSV. `None` when unset: opening it
    /// then fails, naming the setting (no silent sample data).
    Embedded { data: Option<PathBuf> },
    /// DataFusion over generated sample data, asked for with `--sample`;
    /// `/api/meta` and the app say so.
    Sample,
    /// A Databricks SQL warehouse.
    Databricks(databricks::Settings),
}

impl WarehouseConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            WarehouseConfig::Embedded { .. } | WarehouseConfig::Sample => "embedded",
            WarehouseConfig::Databricks(_) => "databricks",
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
    pub cache_max_bytes: Option<u64>,
    /// Replaced by `cache_max_bytes`; read only to say so.
    pub cache_max_points: Option<u64>,
    pub frame_ancestors: Option<String>,
    pub partial_day_gap_minutes: Option<u32>,
    /// Holiday calendars and dates, comma-separated.
    pub holidays: Option<String>,
    /// The audit trail's SQLite file.
    pub audit_db: Option<PathBuf>,
    /// Who recorded rows are by when no proxy says.
    pub user: Option<String>,
    /// The Databricks schema of the store's tables.
    pub store_schema: Option<String>,
    /// Decimals of the amount's minor unit.
    pub amount_decimals: Option<u8>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsLayer {
    pub timestamp: Option<String>,
    pub service: Option<String>,
    pub amount: Option<String>,
    pub segment: Option<String>,
    pub channel: Option<String>,
    pub payment_method: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseLayer {
    pub kind: Option<String>,
    pub data: Option<PathBuf>,
    /// Generated sample data instead of a table (embedded only).
    pub sample: Option<bool>,
    /// Databricks workspace URL.
    pub host: Option<String>,
    /// Databricks SQL warehouse id.
    pub warehouse_id: Option<String>,
    /// A profile of `~/.databrickscfg`.
    pub profile: Option<String>,
    /// Running behind the Databricks Apps proxy: trust the forwarded user.
    pub behind_apps_proxy: Option<bool>,
    /// Secrets and where they live: from the environment only.
    #[serde(skip)]
    pub secrets: DatabricksSecrets,
}

/// What unified auth reads from the environment, never from a file or flag.
#[derive(Debug, Default, Clone)]
pub struct DatabricksSecrets {
    pub token: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// `DATABRICKS_CONFIG_FILE`, else `~/.databrickscfg`.
    pub config_file: Option<PathBuf>,
}

impl DatabricksSecrets {
    /// `DATABRICKS_TOKEN`, `DATABRICKS_CLIENT_ID`, `DATABRICKS_CLIENT_SECRET`,
    /// `DATABRICKS_CONFIG_FILE` (empty values count as unset).
    pub fn from_env() -> DatabricksSecrets {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        DatabricksSecrets {
            token: var("DATABRICKS_TOKEN").map(Secret::new),
            client_id: var("DATABRICKS_CLIENT_ID"),
            client_secret: var("DATABRICKS_CLIENT_SECRET").map(Secret::new),
            config_file: var("DATABRICKS_CONFIG_FILE").map(PathBuf::from),
        }
    }
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
    /// Column holding the amount (default `amount`, used when the table has it).
    #[arg(long = "amount-column", env = "SERVICEWATCH_AMOUNT_COLUMN")]
    pub amount_column: Option<String>,
    /// Column holding the customer segment (default `customer_segment`, used when the table has it).
    #[arg(long = "segment-column", env = "SERVICEWATCH_SEGMENT_COLUMN")]
    pub segment_column: Option<String>,
    /// Column holding the channel (default `channel`, used when the table has it).
    #[arg(long = "channel-column", env = "SERVICEWATCH_CHANNEL_COLUMN")]
    pub channel_column: Option<String>,
    /// Column holding the payment method (default `payment_method`, used when the table has it).
    #[arg(long = "payment-method-column", env = "SERVICEWATCH_PAYMENT_METHOD_COLUMN")]
    pub payment_method_column: Option<String>,
    /// Decimals of the amount's minor unit, 0 to 6 (default 2: amounts are
    /// summed in cents).
    #[arg(long = "amount-decimals", env = "SERVICEWATCH_AMOUNT_DECIMALS")]
    pub amount_decimals: Option<u8>,
    /// Time zone whose calendar days are counted (IANA name, e.g. Europe/Paris).
    #[arg(long, env = "SERVICEWATCH_TIME_ZONE")]
    pub time_zone: Option<String>,
    /// Warehouse kind: embedded or databricks.
    #[arg(long, env = "SERVICEWATCH_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// Embedded warehouse: a Parquet/CSV file or a folder of them.
    #[arg(long, env = "SERVICEWATCH_DATA")]
    pub data: Option<PathBuf>,
    /// Use generated sample data (made-up numbers, labelled so) instead of
    /// a table; embedded warehouse only.
    #[arg(long, env = "SERVICEWATCH_SAMPLE", value_parser = clap::builder::BoolishValueParser::new())]
    pub sample: bool,
    /// Databricks workspace URL (token, client id and secret come from the
    /// environment: DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET).
    #[arg(long = "databricks-host", env = "DATABRICKS_HOST")]
    pub databricks_host: Option<String>,
    /// Databricks SQL warehouse id.
    #[arg(long = "warehouse-id", env = "DATABRICKS_WAREHOUSE_ID")]
    pub warehouse_id: Option<String>,
    /// Profile of ~/.databrickscfg to take the host and credentials from.
    #[arg(long, env = "DATABRICKS_CONFIG_PROFILE")]
    pub profile: Option<String>,
    /// Runs behind the Databricks Apps proxy: trust X-Forwarded-Access-Token
    /// and X-Forwarded-Email (anyone else can send them).
    #[arg(long = "behind-apps-proxy", env = "SERVICEWATCH_BEHIND_APPS_PROXY")]
    pub behind_apps_proxy: Option<bool>,
    /// Sites that may embed the app in a frame, space-separated: 'self',
    /// 'none', or origins such as https://portal.example.com (https://*.example.com).
    #[arg(long = "frame-ancestors", env = "SERVICEWATCH_FRAME_ANCESTORS")]
    pub frame_ancestors: Option<String>,
    /// How long cached aggregates stay fresh, in seconds (default 600).
    #[arg(long = "cache-ttl-seconds", env = "SERVICEWATCH_CACHE_TTL_SECONDS")]
    pub cache_ttl_seconds: Option<u64>,
    /// Bytes every cache together may hold (default 268435456, 256 MiB;
    /// at least 1048576).
    #[arg(long = "cache-max-bytes", env = "SERVICEWATCH_CACHE_MAX_BYTES")]
    pub cache_max_bytes: Option<u64>,
    /// A first day whose data starts more than this many minutes into it
    /// is partial (not scored); so is the last day of an extract (newest
    /// row over a week old) whose data stops more than this before
    /// midnight. 0 to 1440, default 60.
    #[arg(long = "partial-day-gap-minutes", env = "SERVICEWATCH_PARTIAL_DAY_GAP_MINUTES")]
    pub partial_day_gap_minutes: Option<u32>,
    /// Days the business is expected to be quiet, comma-separated: holiday
    /// calendars (us, gb, nz) and dates (2024-03-15). The robust method
    /// leaves them out of every baseline and does not flag a drop on one
    /// unless the common factor measured the day (five or more services,
    /// the weekly pattern on). Default: none.
    #[arg(long, env = "SERVICEWATCH_HOLIDAYS")]
    pub holidays: Option<String>,
    /// The audit trail's SQLite file (default: servicewatch/audit.sqlite3
    /// in $XDG_DATA_HOME, else ~/.local/share).
    #[arg(long = "audit-db", env = "SERVICEWATCH_AUDIT_DB")]
    pub audit_db: Option<PathBuf>,
    /// Who rows recorded in the audit trail are by (default
    /// "servicewatch"); behind the Databricks Apps proxy the server takes
    /// the signed-in user's X-Forwarded-Email instead.
    #[arg(long, env = "SERVICEWATCH_USER")]
    pub user: Option<String>,
    /// Databricks only: keep marks, the audit trail and alerts in tables of
    /// this schema (catalog.schema, which must exist) instead of a SQLite file.
    #[arg(long = "store-schema", env = "SERVICEWATCH_STORE_SCHEMA")]
    pub store_schema: Option<String>,
}

impl ConfigArgs {
    fn layer(&self) -> Layer {
        Layer {
            table: self.table.clone(),
            columns: ColumnsLayer {
                timestamp: self.timestamp_column.clone(),
                service: self.service_column.clone(),
                amount: self.amount_column.clone(),
                segment: self.segment_column.clone(),
                channel: self.channel_column.clone(),
                payment_method: self.payment_method_column.clone(),
            },
            time_zone: self.time_zone.clone(),
            warehouse: WarehouseLayer {
                kind: self.warehouse.clone(),
                data: self.data.clone(),
                sample: self.sample.then_some(true),
                host: self.databricks_host.clone(),
                warehouse_id: self.warehouse_id.clone(),
                profile: self.profile.clone(),
                behind_apps_proxy: self.behind_apps_proxy,
                secrets: DatabricksSecrets::from_env(),
            },
            frame_ancestors: self.frame_ancestors.clone(),
            cache_ttl_seconds: self.cache_ttl_seconds,
            cache_max_bytes: self.cache_max_bytes,
            partial_day_gap_minutes: self.partial_day_gap_minutes,
            holidays: self.holidays.clone(),
            audit_db: self.audit_db.clone(),
            user: self.user.clone(),
            store_schema: self.store_schema.clone(),
            amount_decimals: self.amount_decimals,
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
        let optional = |get: fn(&ColumnsLayer) -> Option<String>, default: &str, setting: &str| {
            let given = pick(layers, |l| get(&l.columns));
            let name =
                Ident::parse(given.as_deref().unwrap_or(default)).with_context(|| format!("setting `{setting}`"))?;
            anyhow::Ok(OptionalColumn { name, explicit: given.is_some() })
        };
        let columns = Columns {
            timestamp: Ident::parse(&ts).context("setting `columns.timestamp`")?,
            service: Ident::parse(&svc).context("setting `columns.service`")?,
            amount: optional(|c| c.amount.clone(), "amount", "columns.amount")?,
            segment: optional(|c| c.segment.clone(), "customer_segment", "columns.segment")?,
            channel: optional(|c| c.channel.clone(), "channel", "columns.channel")?,
            payment_method: optional(|c| c.payment_method.clone(), "payment_method", "columns.payment_method")?,
        };
        let amount_decimals = pick(layers, |l| l.amount_decimals).unwrap_or(DEFAULT_AMOUNT_DECIMALS);
        if amount_decimals > MAX_AMOUNT_DECIMALS {
            bail!(
                "setting `amount_decimals` (--amount-decimals, SERVICEWATCH_AMOUNT_DECIMALS) must be from 0 to \
                 {MAX_AMOUNT_DECIMALS}, not {amount_decimals}"
            );
        }
        let time_zone = match pick(layers, |l| l.time_zone.clone()) {
            Some(name) => Zone::parse(&name).context("setting `time_zone`")?,
            None => Zone::UTC,
        };
        let kind = pick(layers, |l| l.warehouse.kind.clone()).unwrap_or_else(|| "embedded".into());
        let warehouse = match kind.as_str() {
            "embedded" => {
                // The first layer that says where the data is decides (flags over the file).
                let chosen = layers.iter().map(|l| &l.warehouse).find(|w| w.data.is_some() || w.sample == Some(true));
                match chosen.map(|w| (&w.data, w.sample == Some(true))) {
                    Some((Some(_), true)) => bail!(
                        "settings `warehouse.data` (--data, SERVICEWATCH_DATA) and `warehouse.sample` (--sample, \
                         SERVICEWATCH_SAMPLE) are both given: choose one"
                    ),
                    Some((None, true)) => WarehouseConfig::Sample,
                    Some((Some(d), false)) if !d.exists() => {
                        bail!("setting `warehouse.data`: {} does not exist", d.display())
                    }
                    other => WarehouseConfig::Embedded { data: other.and_then(|(d, _)| d.clone()) },
                }
            }
            "databricks" if layers.iter().any(|l| l.warehouse.sample == Some(true)) => {
                bail!("setting `warehouse.sample` (--sample, SERVICEWATCH_SAMPLE) is for the embedded warehouse only")
            }
            "databricks" => WarehouseConfig::Databricks(databricks_settings(layers)?),
            "spark" => bail!("setting `warehouse.kind`: `spark` is not available yet (embedded or databricks)"),
            other => bail!("setting `warehouse.kind`: unknown warehouse `{other}`: expected embedded or databricks"),
        };
        let max_span_days = pick(layers, |l| l.max_span_days).unwrap_or(3660);
        if max_span_days == 0 {
            bail!("setting `max_span_days` must be at least 1");
        }
        let ttl = pick(layers, |l| l.cache_ttl_seconds).unwrap_or(600);
        if let Some(points) = pick(layers, |l| l.cache_max_points) {
            bail!(
                "setting `cache_max_points` was replaced by `cache_max_bytes` (--cache-max-bytes, \
                 SERVICEWATCH_CACHE_MAX_BYTES): one limit in bytes for every cache together; about 64 bytes per \
                 service-day, so {points} points is roughly cache_max_bytes = {}",
                points.saturating_mul(64)
            );
        }
        let cache_max_bytes = pick(layers, |l| l.cache_max_bytes).unwrap_or(DEFAULT_CACHE_BYTES);
        if cache_max_bytes < MIN_CACHE_BYTES {
            bail!("setting `cache_max_bytes` must be at least {MIN_CACHE_BYTES} (1 MiB), not {cache_max_bytes}");
        }
        let cache_max_bytes = usize::try_from(cache_max_bytes).unwrap_or(usize::MAX);
        let frame_ancestors = pick(layers, |l| l.frame_ancestors.clone()).unwrap_or_else(|| "'self'".into());
        let frame_ancestors = frame_ancestor_sources(&frame_ancestors).context("setting `frame_ancestors`")?;
        let gap = pick(layers, |l| l.partial_day_gap_minutes).unwrap_or(60);
        if gap > 24 * 60 {
            bail!("setting `partial_day_gap_minutes` must be from 0 to 1440 (a day), not {gap}");
        }
        let holidays = pick(layers, |l| l.holidays.clone()).unwrap_or_default();
        let holidays: Holidays = match holidays.parse() {
            Ok(h) => h,
            Err(e) => bail!("setting `holidays`: {e}"),
        };
        let audit_db = pick(layers, |l| l.audit_db.clone());
        match &audit_db {
            Some(p) if p.as_os_str().is_empty() => {
                bail!("setting `audit_db` (--audit-db, SERVICEWATCH_AUDIT_DB) is empty: give a file or leave it out")
            }
            Some(p) if p.is_dir() => bail!(
                "setting `audit_db` (--audit-db, SERVICEWATCH_AUDIT_DB): {} is a folder; give the SQLite file in it",
                p.display()
            ),
            _ => {}
        }
        let user = pick(layers, |l| l.user.clone());
        if let Some(u) = &user {
            if u.trim().is_empty() || u.len() > 256 || u.chars().any(char::is_control) {
                bail!(
                    "setting `user` (--user, SERVICEWATCH_USER): `{u}` is not a name (1 to 256 characters, no \
                     control characters)"
                );
            }
        }
        let behind_apps_proxy = pick(layers, |l| l.warehouse.behind_apps_proxy).unwrap_or(false);
        let store_schema = match pick(layers, |l| l.store_schema.clone()) {
            None => None,
            Some(s) => {
                let schema = TableName::parse(&s)
                    .ok()
                    .filter(|t| t.0.len() == 2)
                    .ok_or_else(|| anyhow::anyhow!("setting `store_schema`: `{s}` is not `catalog.schema`"))?;
                if !matches!(warehouse, WarehouseConfig::Databricks(_)) {
                    bail!("setting `store_schema` keeps the store in Databricks tables: it needs the Databricks warehouse");
                }
                Some(schema)
            }
        };
        Ok(Config {
            table,
            columns,
            time_zone,
            warehouse,
            max_span_days,
            cache_ttl: std::time::Duration::from_secs(ttl),
            cache_max_bytes,
            frame_ancestors,
            partial_day_gap: chrono::TimeDelta::minutes(gap.into()),
            holidays,
            audit_db,
            user,
            store_schema,
            behind_apps_proxy,
            amount_decimals,
        })
    }
}

/// CSP `frame-ancestors` sources, checked one by one (they go into a
/// header verbatim) and joined by single spaces.
fn frame_ancestor_sources(text: &str) -> anyhow::Result<String> {
    let mut sources = Vec::new();
    for source in text.split_ascii_whitespace() {
        let keyword = source.to_ascii_lowercase();
        if keyword == "'self'" || keyword == "'none'" {
            sources.push(keyword);
            continue;
        }
        if source.contains([';', ',']) {
            bail!("`{source}`: separate sources with spaces, not `;` or `,`");
        }
        if source.contains(['\'', '"']) {
            bail!("`{source}` is not a source: the only quoted ones are 'self' and 'none'");
        }
        let origin = source.strip_prefix("https://").or_else(|| source.strip_prefix("http://"));
        let Some(host_port) = origin else {
            bail!("`{source}` is not an origin: expected 'self', 'none' or one like https://portal.example.com");
        };
        let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "*"));
        let name = host.strip_prefix("*.").unwrap_or(host);
        let label_ok = |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name.split('.').all(label_ok) || !(port == "*" || port.parse::<u16>().is_ok()) {
            bail!(
                "`{source}` is not an origin like https://portal.example.com (a host, `*.` at most, a port, no path)"
            );
        }
        sources.push(source.to_string());
    }
    if sources.is_empty() {
        bail!("is empty: give 'none' to let no site embed the app");
    }
    if sources.len() > 1 && sources.iter().any(|s| s == "'none'") {
        bail!("'none' cannot be combined with other sources");
    }
    Ok(sources.join(" "))
}

/// One section of `~/.databrickscfg` (an INI file): its keys and values.
fn read_profile(path: &Path, profile: &str) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut section = None::<String>;
    let mut found = false;
    let mut keys = std::collections::HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_string());
            found |= name.trim() == profile;
            continue;
        }
        if section.as_deref() == Some(profile) {
            if let Some((k, v)) = line.split_once('=') {
                keys.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    if !found {
        bail!("{} has no profile [{profile}]", path.display());
    }
    Ok(keys)
}

/// Databricks settings, by unified client auth: a personal access token,
/// else OAuth M2M (client id and secret), else a `~/.databrickscfg` profile
/// (the one named, or DEFAULT when the file has it). The end user's own
/// token, behind the Apps proxy, comes per request.
fn databricks_settings(layers: &[Layer]) -> anyhow::Result<databricks::Settings> {
    fn pick<T: Clone>(layers: &[Layer], f: impl Fn(&WarehouseLayer) -> Option<T>) -> Option<T> {
        layers.iter().find_map(|l| f(&l.warehouse))
    }
    let secrets = pick(layers, |w| {
        let s = &w.secrets;
        (s.token.is_some() || s.client_id.is_some() || s.client_secret.is_some() || s.config_file.is_some())
            .then(|| s.clone())
    })
    .unwrap_or_default();
    let named_profile = pick(layers, |w| w.profile.clone());
    let cfg_path = secrets
        .config_file
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".databrickscfg")));
    // The named profile, or DEFAULT when nothing else gives credentials.
    let has_env_creds = secrets.token.is_some() || secrets.client_id.is_some() || secrets.client_secret.is_some();
    let profile = match (&named_profile, &cfg_path) {
        (Some(name), Some(path)) => {
            Some(read_profile(path, name).with_context(|| format!("setting `warehouse.profile` ({name})"))?)
        }
        (Some(_), None) => {
            bail!("setting `warehouse.profile`: no home folder to find ~/.databrickscfg in; set DATABRICKS_CONFIG_FILE")
        }
        (None, Some(path)) if !has_env_creds && path.exists() => read_profile(path, "DEFAULT").ok(),
        _ => None,
    };
    let from_profile = |k: &str| profile.as_ref().and_then(|p| p.get(k)).filter(|v| !v.is_empty()).cloned();
    let host = pick(layers, |w| w.host.clone()).or_else(|| from_profile("host")).context(
        "setting `warehouse.host` (DATABRICKS_HOST, --databricks-host) is required for the databricks warehouse",
    )?;
    let host = databricks::normalize_host(&host).map_err(|e| anyhow::anyhow!("setting `warehouse.host`: {e}"))?;
    let warehouse_id = pick(layers, |w| w.warehouse_id.clone())
        .or_else(|| from_profile("warehouse_id"))
        .context("setting `warehouse.warehouse_id` (DATABRICKS_WAREHOUSE_ID, --warehouse-id) is required for the databricks warehouse")?;
    if warehouse_id.is_empty() || !warehouse_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("setting `warehouse.warehouse_id`: `{warehouse_id}` is not a SQL warehouse id (letters and digits)");
    }
    let credentials = match (secrets.token, secrets.client_id, secrets.client_secret) {
        (Some(token), _, _) => Credentials::Token(token),
        (None, Some(client_id), Some(client_secret)) => Credentials::OAuth { client_id, client_secret },
        (None, Some(_), None) => bail!("setting DATABRICKS_CLIENT_SECRET is required with DATABRICKS_CLIENT_ID"),
        (None, None, Some(_)) => bail!("setting DATABRICKS_CLIENT_ID is required with DATABRICKS_CLIENT_SECRET"),
        (None, None, None) => match (from_profile("token"), from_profile("client_id"), from_profile("client_secret")) {
            (Some(t), _, _) => Credentials::Token(Secret::new(t)),
            (None, Some(client_id), Some(s)) => Credentials::OAuth { client_id, client_secret: Secret::new(s) },
            _ => bail!(
                "the databricks warehouse needs credentials: set DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and \
                 DATABRICKS_CLIENT_SECRET, or a profile in ~/.databrickscfg (DATABRICKS_CONFIG_PROFILE) with a \
                 token or client_id and client_secret"
            ),
        },
    };
    let behind_apps_proxy = pick(layers, |w| w.behind_apps_proxy).unwrap_or(false);
    Ok(databricks::Settings { host, warehouse_id, credentials, behind_apps_proxy })
}

impl Config {
    /// Where the audit trail is: `audit_db`, else the user's data folder.
    pub fn audit_path(&self) -> anyhow::Result<PathBuf> {
        match &self.audit_db {
            Some(p) => Ok(p.clone()),
            None => crate::store::default_path().context(
                "setting `audit_db` (--audit-db, SERVICEWATCH_AUDIT_DB): no $XDG_DATA_HOME or $HOME to keep the \
                 audit trail in; set it",
            ),
        }
    }

    /// Where the store is, for messages: the Databricks schema, else the
    /// SQLite file.
    pub fn store_place(&self) -> String {
        match (&self.store_schema, self.audit_path()) {
            (Some(schema), _) => format!("the tables of {}", schema.plain()),
            (None, Ok(path)) => path.display().to_string(),
            (None, Err(_)) => "the store".to_string(),
        }
    }

    /// Whether a store is configured or already there: `scan` then reads
    /// analysts' marks from it (and never creates one just to read).
    pub fn has_store(&self) -> bool {
        self.store_schema.is_some() || self.audit_db.is_some() || self.audit_path().is_ok_and(|p| p.exists())
    }

    /// Who a row recorded now is by: the signed-in user behind the Apps
    /// proxy (`forwarded`, their X-Forwarded-Email), else `user`, else
    /// "servicewatch".
    pub fn recorder(&self, forwarded: Option<&str>) -> String {
        let signed_in = forwarded.map(str::trim).filter(|e| self.behind_apps_proxy && !e.is_empty());
        signed_in.or(self.user.as_deref()).unwrap_or("servicewatch").to_string()
    }

    /// The table, columns and day definition the warehouse SQL reads.
    pub fn source(&self) -> Source {
        Source {
            table: self.table.clone(),
            timestamp: self.columns.timestamp.clone(),
            service: self.columns.service.clone(),
            zone: self.time_zone,
            amount: self.columns.amount.name.clone(),
            amount_decimals: self.amount_decimals,
            segment: self.columns.segment.name.clone(),
            channel: self.columns.channel.name.clone(),
            payment_method: self.columns.payment_method.name.clone(),
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
    fn optional_columns_default_to_the_sample_names_and_are_checked() {
        let c = Config::from_layers(&[]).unwrap();
        let names: Vec<(&str, bool)> =
            [&c.columns.amount, &c.columns.segment, &c.columns.channel, &c.columns.payment_method]
                .iter()
                .map(|o| (o.name.as_str(), o.explicit))
                .collect();
        assert_eq!(
            names,
            [("amount", false), ("customer_segment", false), ("channel", false), ("payment_method", false)]
        );
        assert_eq!(c.amount_decimals, 2);
        let file: Layer =
            toml::from_str("amount_decimals = 0\n[columns]\namount = \"total\"\nchannel = \"chan\"").unwrap();
        let flags =
            Layer { columns: ColumnsLayer { channel: Some("via".into()), ..Default::default() }, ..Default::default() };
        let c = Config::from_layers(&[flags, file]).unwrap();
        assert_eq!((c.columns.amount.name.as_str(), c.columns.amount.explicit), ("total", true));
        assert_eq!((c.columns.channel.name.as_str(), c.columns.channel.explicit), ("via", true), "flags first");
        assert!(!c.columns.segment.explicit);
        assert_eq!((c.amount_decimals, c.source().amount_decimals), (0, 0));
        let bad = |text: &str| format!("{:#}", Config::from_layers(&[toml::from_str(text).unwrap()]).unwrap_err());
        let e = bad("[columns]\npayment_method = \"pay method\"");
        assert!(e.contains("setting `columns.payment_method`") && e.contains("not a valid identifier"), "{e}");
        let e = bad("amount_decimals = 7");
        assert!(e.contains("setting `amount_decimals`") && e.contains("from 0 to 6"), "{e}");
        assert!(toml::from_str::<Layer>("[columns]\nsegmnt = \"x\"").is_err(), "typos in the file are errors");
    }

    #[test]
    fn holidays_are_a_checked_setting() {
        let holidays = |l: Layer| Config::from_layers(&[l]).map(|c| c.holidays.to_string());
        assert_eq!(holidays(Layer::default()).unwrap(), "none");
        assert_eq!(holidays(toml::from_str("holidays = \"nz, 2024-03-15\"").unwrap()).unwrap(), "nz,2024-03-15");
        let e = format!(
            "{:#}",
            holidays(Layer { holidays: Some("nz,atlantis".into()), ..Default::default() }).unwrap_err()
        );
        assert!(e.contains("setting `holidays`") && e.contains("`atlantis`") && e.contains("us, gb, nz"), "{e}");
    }

    #[test]
    fn the_partial_day_gap_is_a_checked_setting() {
        let gap = |l: Layer| Config::from_layers(&[l]).map(|c| c.partial_day_gap.num_minutes());
        assert_eq!(gap(Layer::default()).unwrap(), 60);
        assert_eq!(gap(toml::from_str("partial_day_gap_minutes = 180").unwrap()).unwrap(), 180);
        assert_eq!(gap(Layer { partial_day_gap_minutes: Some(0), ..Default::default() }).unwrap(), 0);
        let e = format!("{:#}", gap(Layer { partial_day_gap_minutes: Some(1441), ..Default::default() }).unwrap_err());
        assert!(e.contains("setting `partial_day_gap_minutes`") && e.contains("1441"), "{e}");
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
        let e = bad(Layer {
            warehouse: WarehouseLayer { kind: Some("oracle".into()), ..Default::default() },
            ..Default::default()
        });
        assert!(e.contains("unknown warehouse `oracle`"), "{e}");
        let e = bad(Layer { time_zone: Some("CEST".into()), ..Default::default() });
        assert!(e.contains("setting `time_zone`") && e.contains("IANA"), "{e}");
        assert!(toml::from_str::<Layer>("tabel = \"x\"").is_err(), "typos in the file are errors");
    }

    #[test]
    fn the_cache_limit_is_bytes_checked_and_old_configs_say_what_to_set() {
        let bytes = |l: Layer| Config::from_layers(&[l]).map(|c| c.cache_max_bytes).map_err(|e| format!("{e:#}"));
        assert_eq!(bytes(Layer::default()).unwrap(), 256 << 20);
        assert_eq!(bytes(toml::from_str("cache_max_bytes = 8388608").unwrap()).unwrap(), 8 << 20);
        let flag = Layer { cache_max_bytes: Some(2 << 20), ..Default::default() };
        let file: Layer = toml::from_str("cache_max_bytes = 8388608").unwrap();
        assert_eq!(Config::from_layers(&[flag, file]).unwrap().cache_max_bytes, 2 << 20);
        for small in [0, 1000, (1 << 20) - 1] {
            let e = bytes(Layer { cache_max_bytes: Some(small), ..Default::default() }).unwrap_err();
            assert!(e.contains("setting `cache_max_bytes` must be at least 1048576"), "{e}");
        }
        assert!(toml::from_str::<Layer>("cache_max_bytes = -1").is_err());
        let e = bytes(toml::from_str("cache_max_points = 20000000").unwrap()).unwrap_err();
        assert!(e.contains("`cache_max_points` was replaced by `cache_max_bytes`"), "{e}");
        assert!(e.contains("1280000000"), "suggests a value: {e}");
    }

    #[test]
    fn frame_ancestors_are_checked_sources() {
        let ancestors = |text: &str| {
            Config::from_layers(&[Layer { frame_ancestors: Some(text.into()), ..Default::default() }])
                .map(|c| c.frame_ancestors)
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(Config::from_layers(&[]).unwrap().frame_ancestors, "'self'");
        let file: Layer = toml::from_str("frame_ancestors = \"'self' https://portal.example.com\"").unwrap();
        assert_eq!(Config::from_layers(&[file]).unwrap().frame_ancestors, "'self' https://portal.example.com");
        for ok in ["'none'", "'SELF'  http://localhost:8081", "https://*.example.com https://a-b.example.com:8443"] {
            assert!(ancestors(ok).is_ok(), "{ok}: {:?}", ancestors(ok));
        }
        for bad in [
            "",
            "'self'; script-src *",
            "https://a.example.com,https://b.example.com",
            "'unsafe-inline'",
            "\"https://a.example.com\"",
            "*",
            "https:",
            "portal.example.com",
            "https://portal.example.com/path",
            "https://a.*.example.com",
            "https://portal.example.com:99999",
            "'none' 'self'",
            "javascript://x",
        ] {
            let e = ancestors(bad).unwrap_err();
            assert!(e.contains("setting `frame_ancestors`"), "{bad}: {e}");
        }
    }

    #[test]
    fn sample_data_is_asked_for_explicitly() {
        let warehouse = |layers: &[Layer]| Config::from_layers(layers).map(|c| c.warehouse);
        let w = |data: Option<&str>, sample: Option<bool>| Layer {
            warehouse: WarehouseLayer { data: data.map(PathBuf::from), sample, ..Default::default() },
            ..Default::default()
        };
        let here = env!("CARGO_MANIFEST_DIR");
        // Nothing set: no sample (opening the warehouse then says what to set).
        assert!(matches!(warehouse(&[]).unwrap(), WarehouseConfig::Embedded { data: None }));
        assert!(matches!(warehouse(&[w(None, Some(true))]).unwrap(), WarehouseConfig::Sample));
        // Flags over the file, whichever of the two each gives.
        assert!(matches!(warehouse(&[w(None, Some(true)), w(Some(here), None)]).unwrap(), WarehouseConfig::Sample));
        assert!(matches!(
            warehouse(&[w(Some(here), None), w(None, Some(true))]).unwrap(),
            WarehouseConfig::Embedded { data: Some(_) }
        ));
        let e = format!("{:#}", warehouse(&[w(Some(here), Some(true))]).unwrap_err());
        assert!(e.contains("--sample") && e.contains("--data") && e.contains("choose one"), "{e}");
        let file: Layer = toml::from_str("[warehouse]\nsample = true").unwrap();
        assert!(matches!(warehouse(&[file]).unwrap(), WarehouseConfig::Sample));
        let mut remote = w(None, Some(true));
        remote.warehouse.kind = Some("databricks".into());
        let e = format!("{:#}", warehouse(&[remote]).unwrap_err());
        assert!(e.contains("embedded warehouse only"), "{e}");
    }

    #[test]
    fn the_audit_trail_and_who_records_are_settings() {
        let c = Config::from_layers(&[]).unwrap();
        assert_eq!((c.audit_db.as_ref(), c.user.as_ref(), c.behind_apps_proxy), (None, None, false));
        assert_eq!(c.recorder(Some("ann@example.com")), "servicewatch", "the header is not trusted by default");
        let file: Layer = toml::from_str("audit_db = \"/tmp/a.sqlite3\"\nuser = \"nightly\"").unwrap();
        let flags = Layer { audit_db: Some("/tmp/b.sqlite3".into()), ..Default::default() };
        let c = Config::from_layers(&[flags, file]).unwrap();
        assert_eq!(c.audit_path().unwrap(), PathBuf::from("/tmp/b.sqlite3"));
        assert_eq!(c.recorder(None), "nightly");
        let proxy: Layer = toml::from_str("user = \"svc\"\n[warehouse]\nbehind_apps_proxy = true").unwrap();
        let c = Config::from_layers(&[proxy]).unwrap();
        assert_eq!(c.recorder(Some(" ann@example.com ")), "ann@example.com");
        assert_eq!(c.recorder(Some("")), "svc");
        let bad = |l: Layer| format!("{:#}", Config::from_layers(&[l]).unwrap_err());
        let e = bad(Layer { audit_db: Some(std::env::temp_dir()), ..Default::default() });
        assert!(e.contains("setting `audit_db`") && e.contains("is a folder"), "{e}");
        let e = bad(Layer { audit_db: Some(PathBuf::new()), ..Default::default() });
        assert!(e.contains("setting `audit_db`"), "{e}");
        let e = bad(Layer { user: Some(" ".into()), ..Default::default() });
        assert!(e.contains("setting `user`"), "{e}");
    }

    fn databricks(w: WarehouseLayer) -> anyhow::Result<databricks::Settings> {
        let layer = Layer { warehouse: WarehouseLayer { kind: Some("databricks".into()), ..w }, ..Default::default() };
        match Config::from_layers(&[layer])?.warehouse {
            WarehouseConfig::Databricks(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn databricks_settings_follow_unified_auth() {
        let dir = std::env::temp_dir().join(format!("servicewatch-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("databrickscfg");
        std::fs::write(&cfg, "[DEFAULT]\nhost = https://default.example\ntoken = dapi-default\n\n[prod]\nhost = prod.example/\nclient_id = sp\nclient_secret = s3cret\n").unwrap();
        let secrets = |token: Option<&str>, id: Option<&str>, secret: Option<&str>| DatabricksSecrets {
            token: token.map(Secret::new),
            client_id: id.map(str::to_string),
            client_secret: secret.map(Secret::new),
            config_file: Some(cfg.clone()),
        };
        let base = |s| WarehouseLayer { warehouse_id: Some("wh1".into()), secrets: s, ..Default::default() };
        // A personal access token wins over OAuth and the profile.
        let s = databricks(WarehouseLayer {
            host: Some("h.example".into()),
            ..base(secrets(Some("pat"), Some("id"), Some("x")))
        })
        .unwrap();
        assert_eq!((s.host.as_str(), &s.credentials), ("https://h.example", &Credentials::Token(Secret::new("pat"))));
        let s =
            databricks(WarehouseLayer { host: Some("h.example".into()), ..base(secrets(None, Some("id"), Some("x"))) })
                .unwrap();
        assert!(matches!(s.credentials, Credentials::OAuth { ref client_id, .. } if client_id == "id"));
        // A named profile gives host and credentials; DEFAULT when none is named.
        let s = databricks(WarehouseLayer { profile: Some("prod".into()), ..base(secrets(None, None, None)) }).unwrap();
        assert_eq!(s.host, "https://prod.example");
        assert!(matches!(s.credentials, Credentials::OAuth { ref client_id, .. } if client_id == "sp"));
        let s = databricks(base(secrets(None, None, None))).unwrap();
        assert_eq!(
            (s.host.as_str(), s.credentials),
            ("https://default.example", Credentials::Token(Secret::new("dapi-default")))
        );
        assert!(!s.behind_apps_proxy, "the forwarded token is not trusted unless a setting says so");
        // Missing or incomplete settings name what is missing.
        let err = |w| format!("{:#}", databricks(w).unwrap_err());
        let e = err(WarehouseLayer { host: Some("h".into()), ..base(secrets(None, Some("id"), None)) });
        assert!(e.contains("DATABRICKS_CLIENT_SECRET"), "{e}");
        let e = err(WarehouseLayer {
            warehouse_id: None,
            host: Some("h".into()),
            secrets: secrets(Some("t"), None, None),
            ..Default::default()
        });
        assert!(e.contains("DATABRICKS_WAREHOUSE_ID"), "{e}");
        let e = err(WarehouseLayer { profile: Some("nope".into()), ..base(secrets(None, None, None)) });
        assert!(e.contains("no profile [nope]"), "{e}");
        let mut none = secrets(None, None, None);
        none.config_file = Some(dir.join("missing"));
        let e = err(WarehouseLayer { host: Some("h".into()), ..base(none) });
        assert!(e.contains("needs credentials") && e.contains("DATABRICKS_TOKEN"), "{e}");
        let e = err(WarehouseLayer { host: Some("ftp://h".into()), ..base(secrets(Some("t"), None, None)) });
        assert!(e.contains("warehouse.host"), "{e}");
        // Secrets cannot come from the TOML file.
        assert!(toml::from_str::<Layer>("[warehouse]\ntoken = \"x\"").is_err());
    }
}
